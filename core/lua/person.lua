--[[
person.lua — a person's part: guided button sequences for the exact model (the model
table is scripts/lib/revive/models.lua), with countdowns on the engine's clock, that end
when the device is seen in the expected mode; the cable-and-port prompt; confirm.
]]
local rt = ...
local type, pairs, ipairs, next, select, tostring, tonumber, error, pcall, setmetatable,
      rawget, getmetatable, require =
      type, pairs, ipairs, next, select, tostring, tonumber, error, pcall, setmetatable,
      rawget, getmetatable, require
local pack, unpack, concat, sort = table.pack, table.unpack, table.concat, table.sort
local fmt, min, max, mtype = string.format, math.min, math.max, math.type
local host, cfg, api = rt.host, rt.cfg, rt.api
local fault, as_error, encode_error, emit, step, implicit, mark =
      rt.fault, rt.as_error, rt.encode_error, rt.emit, rt.step, rt.implicit, rt.mark
local errors = rt.errors

local sanitize, mode_list = rt.sanitize, rt.mode_list


local person = {}

local function countdown(phases)
  for i, ph in ipairs(phases) do
    emit("countdown", { phase = i, phases = #phases, text = ph.text, seconds = ph.seconds or 0 })
    local s = ph.seconds or 0
    while s > 0 do
      host.sleep(1)
      s = s - 1
      emit("countdown_tick", { phase = i, left = s })
    end
  end
end

-- A guided button sequence (force restart, DFU, recovery) for this exact model, repeated
-- until the device is seen in one of `targets`, or the person gives up.
-- A "prompt" event as the engine's sinks show it: title, then line1, line2, ...
local function prompt_fields(title, lines, extra)
  local f = extra or {}
  f.title = title
  for i = 1, #lines do f["line" .. i] = tostring(lines[i]) end
  return f
end

local function has(list, x)
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end

-- Wait, showing the instructions, until the phone is in one of `targets`. When it is in
-- one already (a force restart of a phone in recovery), seeing it there proves nothing:
-- it has to leave the bus first (the restart) and then come back.
local function reached(g, targets, timeout)
  local now = host.call("mode")
  if now and has(targets, now.mode) then
    local ok, e = host.prompt_until(g.title, g.wait_lines or g.lines, { "off" }, timeout)
    if not ok then return nil, e end
    emit("log", { level = "info", message = "the phone restarted; waiting for it to come back" })
    return host.wait_mode(targets, 120)
  end
  return host.prompt_until(g.title, g.wait_lines or g.lines, targets, timeout)
end

local function guided(kind, targets, opts)
  opts = sanitize(opts, "person." .. kind)
  return implicit("person." .. kind, function()
    local models = require("revive.models")
    local info = host.call("info") or {}
    local g = models.guide(kind, info.product_type)
    local attempts = opts.attempts or 3
    for attempt = 1, attempts do
      host.journal("prompt", { question = g.title, model = g.model, attempt = attempt })
      emit("prompt", prompt_fields(g.title, g.lines, { model = g.model }))
      if g.phases then
        countdown({ { text = "Get ready: fingers on the buttons", seconds = 3 } })
        countdown(g.phases)
      end
      local ok, e = reached(g, targets, opts.timeout or g.timeout or 30)
      if ok then
        host.journal("answer", { question = g.title, answer = "seen in " .. concat(targets, "/") })
        return true
      end
      if e.name ~= "timeout" then return nil, e end
      if attempt < attempts then
        local again = true
        if not cfg.yes then again = host.confirm(g.retry or "The phone did not respond yet. Try the steps again?") end
        host.journal("answer", { question = "try again", answer = again and true or false })
        if not again then break end
      end
    end
    return nil, host.error("timeout", fmt("the phone did not reach %s mode after the %s steps", concat(targets, " or "), kind))
  end)
end

--- person.force_restart{timeout = 60, attempts = 3, modes = {...}} -> true or nil, err
function person.force_restart(opts)
  local modes = opts and opts.modes or { "normal", "recovery" }
  local o = {}
  if opts then o.timeout, o.attempts = opts.timeout, opts.attempts end
  return guided("force_restart", mode_list(modes, "person.force_restart"), o)
end

--- person.dfu{timeout = 20, attempts = 3} -> true or nil, err
function person.dfu(opts) return guided("dfu", { "dfu" }, opts) end

--- person.recovery{timeout = 60, attempts = 3} -> true or nil, err
function person.recovery(opts) return guided("recovery", { "recovery" }, opts) end

--- person.check_cable{timeout = 300} -> true or nil, err: change the cable and port.
function person.check_cable(opts)
  opts = sanitize(opts, "person.check_cable")
  return implicit("person.check_cable", function()
    local title = "The phone keeps disconnecting"
    host.journal("prompt", { question = title })
    local ok, e = host.prompt_until(title, {
      "1. Unplug the cable from the phone and the computer.",
      "2. Use another cable if you have one (an Apple cable or an MFi-certified one).",
      "3. Plug it into a USB port on the computer itself, not a hub, dock or keyboard.",
      "4. Leave the phone connected; revive goes on when it sees it.",
    }, { "normal", "recovery", "dfu", "restore" }, opts.timeout or 300)
    if ok then host.journal("answer", { question = title, answer = "reconnected" }) end
    return ok, e
  end)
end

--- person.say(title, lines): show instructions without waiting.
function person.say(title, lines)
  if type(title) ~= "string" then fault("invalid", "person.say(title, lines)") end
  emit("prompt", prompt_fields(title, type(lines) == "table" and lines or { tostring(lines or "") }))
end

api.person = person

--- confirm(question) -> true or false (or nil, err when cancelled). --yes answers yes.
function api.confirm(question)
  if type(question) ~= "string" then fault("invalid", "confirm(question)") end
  return implicit("confirm", function()
    host.journal("prompt", { question = question })
    local yes, e = true, nil
    if not cfg.yes then yes, e = host.confirm(question) end
    if yes == nil then return nil, e end
    host.journal("answer", { question = question, answer = yes, by = cfg.yes and "--yes" or "person" })
    return yes
  end)
end

--- ladder{ name = ..., check = fn, drops = 2, { name = ..., run = fn, when = fn }, ... }
--- -> well, report. check() returns well (boolean) and a state (string); each remedy runs
--- (if its when(state) says so) as a step, and check runs after each. A remedy that
--- fails with "disconnected" `drops` times brings the cable-and-port prompt, then is
--- tried once more. report = { tried = {{remedy, result, state}...}, state, by }.
