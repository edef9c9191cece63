--[[
prelude.lua — the playbook API, built from the C primitives in `host` (api_host.c).

This is trusted code, compiled into revive. It runs once per session before the playbook,
and playbooks only ever see the table `api` it assembles; `host` (the raw device, journal
and clock) stays in upvalues. Everything it needs from the standard library is captured
into locals first, so nothing a playbook does to its globals changes it.

This file holds the core (errors, events, steps and replay); the rest of the API comes
from the parts loaded at its end, each a chunk of its own receiving the shared runtime
table `rt`:
  device.lua  the device verbs and the safety gate for destructive ones
  person.lua  guided prompts (force restart, DFU, recovery, cable) and confirm
  flow.lua    retry and ladders
  run.lua     the playbook header, parameters, outcomes, and the run itself

Durable execution. Each call of step(name, fn) has a number: the order it was called in.
A step's start and end go to the journal (host.journal fsyncs each record). On resume the
playbook runs again from the top; a step the journal shows finished returns its recorded
values without running (nested steps inside it are skipped with it: their numbers are
stepped over); the first step that did not finish runs again — after the device has been
found again — and from then on the run is live. Device calls, confirmations and prompts
made outside any step are steps of their own ("device.mode", "confirm", ...), so the code
between steps sees, on replay, exactly what it saw the first time. sleep() does nothing
while replaying. A finished destructive step can therefore never run twice.
]]
local host, parts = ...
local cfg = host.config

local type, pairs, ipairs, next, select, tostring, tonumber, error, pcall, setmetatable,
      rawget, getmetatable, require =
      type, pairs, ipairs, next, select, tostring, tonumber, error, pcall, setmetatable,
      rawget, getmetatable, require
local pack, unpack, concat, sort = table.pack, table.unpack, table.concat, table.sort
local fmt, floor, min, max, huge, mtype = string.format, math.floor, math.min, math.max,
      math.huge, math.type

local api = {}
-- A resume of a run that died before its first record is simply its start.
local resuming = cfg.resume and #host.records > 0
local live = not resuming
local counter = 0     -- step numbers handed out so far
local frames = {}     -- steps running now, innermost last
local recorded = {}   -- the journal's steps, by number (resume)

-- ---- errors -----------------------------------------------------------------------------

local errors = { names = {} }
for name in pairs(host.codes) do errors.names[name] = name end

--- errors.new(name, message) -> an error object; raise it with error(e) or return nil, e.
function errors.new(name, message) return host.error(name, message) end

--- errors.is(e, name, ...) -> true if e is an error whose name is one of the names.
function errors.is(e, ...)
  if type(e) ~= "table" then return false end
  local n = rawget(e, "name")
  for i = 1, select("#", ...) do
    if n == select(i, ...) then return true end
  end
  return false
end

local function fault(name, message, ...)
  error(host.error(name, fmt(message, ...)), 2)
end

local function as_error(e)
  if host.is_error(e) then return e end
  if type(e) == "table" and type(rawget(e, "name")) == "string" and errors.names[rawget(e, "name")] then
    local o = host.error(rawget(e, "name"), tostring(rawget(e, "message") or ""))
    return o
  end
  return host.error("playbook", tostring(e))
end

local function encode_error(e)
  e = as_error(e)
  return { name = e.name, message = e.message, code = e.code, origin = e.origin,
           origin_code = e.origin_code, retry = e.retry, step = e.step }
end

local function decode_error(t)
  local e = host.error(t.code or "playbook", t.message, t.origin)
  e.origin_code, e.step = t.origin_code, t.step
  return e
end

-- ---- events and logs --------------------------------------------------------------------

local function flat(fields)
  local out = {}
  if type(fields) ~= "table" then return out end
  local k, v = next(fields)
  while k ~= nil do
    local t = type(v)
    if type(k) == "string" and (t == "string" or t == "number" or t == "boolean") then
      out[k] = v
    elseif type(k) == "string" and t == "table" then
      out[k] = tostring(v)
    end
    k, v = next(fields, k)
  end
  return out
end

-- Events describe what happens now; while replaying they already happened once.
local function emit(kind, fields)
  if live then host.event(kind, flat(fields)) end
end

--- event(type, fields): an event of the playbook's own for dashboards and --json.
function api.event(kind, fields)
  if type(kind) ~= "string" or not kind:match("^[a-z][a-z0-9_]*$") then
    fault("invalid", "event(type, fields): type is a lowercase word, got %s", tostring(kind))
  end
  emit(kind, fields)
end

local function logger(level)
  return function(message, ...)
    if select("#", ...) > 0 then message = fmt(message, ...) end
    emit("log", { level = level, message = tostring(message) })
  end
end

--- log(fmt, ...), log.warn(fmt, ...), log.error(fmt, ...): lines for the person watching.
api.log = setmetatable({ info = logger("info"), warn = logger("warn"), error = logger("error") },
  { __call = function(_, ...) return logger("info")(...) end, __metatable = false })
api.print = function(...)
  local parts = pack(...)
  for i = 1, parts.n do parts[i] = tostring(parts[i]) end
  emit("log", { level = "info", message = concat(parts, "\t", 1, parts.n) })
end

--- sleep(seconds): wait (skipped while a resume replays finished steps).
function api.sleep(s)
  if type(s) ~= "number" or s < 0 then fault("invalid", "sleep(seconds): a number >= 0") end
  if live and s > 0 then host.sleep(s) end
end

-- ---- steps and replay ---------------------------------------------------------------------

do
  local last_started = 0
  for _, r in ipairs(host.records) do
    if r.type == "step_started" then
      recorded[r.n] = { name = r.step }
      last_started = max(last_started, r.n)
    elseif r.type == "step_finished" or r.type == "step_failed" then
      local e = recorded[r.n]
      if e then
        e.finished = r.type == "step_finished"
        e.failed = r.type == "step_failed"
        e.values, e.count, e.error = r.values or {}, r.count or 0, r.error
        e.next, e.destructive, e.backup = r.next or r.n, r.destructive, r.backup
      end
    end
  end
  -- A failure the run went on from (a later step started) is part of its history.
  for n, e in pairs(recorded) do
    if e.failed and n < last_started then e.replay_failure = true end
  end
end

local function encode_values(res)
  local values = {}
  for i = 2, res.n do
    local v = res[i]
    if host.is_error(v) then v = { __error = encode_error(v) } end
    if v ~= nil then values[tostring(i - 1)] = v end
  end
  return values, res.n - 1
end

local function decode_values(e)
  local out = { n = e.count }
  for i = 1, e.count do
    local v = e.values[tostring(i)]
    if type(v) == "table" and v.__error then v = decode_error(v.__error) end
    out[i] = v
  end
  return unpack(out, 1, out.n)
end

-- The runtime table the parts share. Mutable state lives here:
--   last_backup  a backup taken since the last destructive action (device.lua)
--   policy       the header's policy, copied when the run starts (run.lua)
--   spec         the playbook being run (run.lua)
local rt = { host = host, cfg = cfg, api = api, frames = frames, policy = {}, resuming = resuming }

local function note_effects(destructive, backup)
  if backup then rt.last_backup = backup end
  if destructive then rt.last_backup = nil end
end

-- The first step that has to run on a resumed run: find the device again first (it may
-- have rebooted, or be in another mode now), and say so in the journal.
local function go_live()
  live = true
  if not resuming then return end
  local ok, e = host.wait_mode({ "normal", "recovery", "dfu", "restore" }, 30)
  if not ok and e.name == "timeout" then
    ok, e = host.prompt_until("Connect the phone", {
      "revive is continuing an interrupted run and cannot see the phone.",
      "Connect it with a cable straight to this computer (not a hub).",
    }, { "normal", "recovery", "dfu", "restore" }, 300)
  end
  if not ok then error(e, 0) end
  local m = host.call("mode")
  -- The same phone? Compare ECIDs where both are known (DFU may not tell).
  local was
  for _, r in ipairs(host.records) do
    if r.type == "device" and type(r.identity) == "table" then was = r.identity.ecid end
  end
  local info = host.call("info")
  if was and info and info.ecid and info.ecid ~= was then
    fault("invalid", "this run was started on the phone with ECID %s; the phone here has ECID %s",
          tostring(was), tostring(info.ecid))
  end
  host.journal("device_found", { mode = m and m.mode or "unknown" })
  emit("resumed", { mode = m and m.mode or "unknown" })
end

--- step(name, fn) -> fn's results. A named, journaled unit of work (see the top of this
--- file for what resume does with it).
function api.step(name, fn)
  if type(name) ~= "string" or name == "" then fault("invalid", "step(name, fn): name must be a non-empty string") end
  if type(fn) ~= "function" then fault("invalid", "step(%q, fn): fn must be a function", name) end
  counter = counter + 1
  local n = counter
  local rec = recorded[n]
  if rec and rec.name ~= name then
    if not live then
      fault("playbook", "resume cannot follow this run: step %d was '%s' and is now '%s' (the playbook "
            .. "changed, or its code outside steps depends on time or chance)", n, rec.name, name)
    end
    for k in pairs(recorded) do if k >= n then recorded[k] = nil end end -- diverged after a fresh look
    rec = nil
  end
  if rec and (rec.finished or rec.replay_failure) then
    counter = max(counter, rec.next)
    note_effects(rec.destructive, rec.backup)
    host.event("step_replayed", { step = name, n = n })
    if rec.finished then return decode_values(rec) end
    error(decode_error(rec.error), 0)
  end
  if not live then go_live() end
  host.journal("step_started", { step = name, n = n })
  emit("step_started", { step = name, n = n })
  local frame = { name = name }
  frames[#frames + 1] = frame
  local res = pack(pcall(fn))
  frames[#frames] = nil
  local parent = frames[#frames]
  if parent then
    parent.destructive = parent.destructive or frame.destructive
    parent.backup = frame.backup or parent.backup
  end
  if res[1] then
    local values, count = encode_values(res)
    host.journal("step_finished", { step = name, n = n, next = counter, values = values, count = count,
                                    destructive = frame.destructive, backup = frame.backup })
    local failed = res[2] == nil and host.is_error(res[3]) and res[3] or nil
    emit("step_finished", { step = name, n = n, ok = not failed, error = failed and failed.name or nil })
    return unpack(res, 2, res.n)
  end
  local e = as_error(res[2])
  if e.step == nil then e.step = name end
  host.journal("step_failed", { step = name, n = n, next = counter, error = encode_error(e),
                                destructive = frame.destructive })
  emit("step_failed", { step = name, n = n, error = e.name, name = e.name, message = e.message })
  error(e, 0)
end
local step = api.step

-- Outside a step, an action is a step of its own so that replay sees what the run saw.
local function implicit(name, fn)
  if #frames > 0 then return fn() end
  return step(name, fn)
end

local function mark(field, value)
  for i = 1, #frames do frames[i][field] = value end
end

-- ---- the parts ---------------------------------------------------------------------------

rt.fault, rt.as_error, rt.encode_error, rt.decode_error = fault, as_error, encode_error, decode_error
rt.emit, rt.flat, rt.step, rt.implicit, rt.mark = emit, flat, step, implicit, mark
rt.errors = errors
rt.is_live = function() return live end
api.errors = errors

parts.device(rt)
parts.person(rt)
parts.flow(rt)
local runner = parts.run(rt)
return api, runner
