--[[
prelude.lua — the playbook API, built from the C primitives in `host` (api_host.c).

This is trusted code, compiled into revive. It runs once per session before the playbook,
and playbooks only ever see the table `api` it returns; `host` (the raw device, journal
and clock) stays in its upvalues. Everything it needs from the standard library is
captured into locals first, so nothing a playbook does to its globals changes it.

Durable execution. Each call of step(name, fn) has a number: the order it was called in.
A step's start and end go to the journal (host.journal fsyncs each record). On resume the
playbook runs again from the top; a step the journal shows finished returns its recorded
values without running (nested steps inside it are skipped with it: their numbers are
stepped over); the first step that did not finish runs again — after the device has been
found again — and from then on the run is live. Device calls, confirmations and prompts
made outside any step are steps of their own ("device.mode", "confirm", ...), so the code
between steps sees, on replay, exactly what it saw the first time. sleep() does nothing
while replaying. A finished destructive step can therefore never run twice.

Safety. Destructive verbs (erase, factory_reset, restore_backup) go through destructive():
the playbook's policy must allow the kind, a backup is taken first when the device is
readable and none was taken since the last destructive action (unless --waive-backup,
which is journaled), and a person confirms (or --yes did, journaled). Long operations
(backup, restores) get a preflight first.
]]
local host = ...
local cfg = host.config

local type, pairs, ipairs, next, select, tostring, tonumber, error, pcall, setmetatable,
      rawget, getmetatable, require =
      type, pairs, ipairs, next, select, tostring, tonumber, error, pcall, setmetatable,
      rawget, getmetatable, require
local pack, unpack, concat, sort = table.pack, table.unpack, table.concat, table.sort
local fmt, floor, min, max, huge, mtype = string.format, math.floor, math.min, math.max,
      math.huge, math.type

local api = {}
local spec            -- the playbook being run (set by runner.main)
-- A resume of a run that died before its first record is simply its start.
local resuming = cfg.resume and #host.records > 0
local live = not resuming
local counter = 0     -- step numbers handed out so far
local frames = {}     -- steps running now, innermost last
local last_backup     -- a backup taken since the last destructive action
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

local function note_effects(destructive, backup)
  if backup then last_backup = backup end
  if destructive then last_backup = nil end
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
  emit("step_failed", { step = name, n = n, error = e.name, message = e.message })
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

-- ---- device ------------------------------------------------------------------------------

local MODES = { normal = true, recovery = true, dfu = true, restore = true, off = true }

local function sanitize(args, what)
  local out = {}
  if args == nil then return out end
  if type(args) ~= "table" then fault("invalid", "%s: arguments are a table of name = value", what) end
  local k, v = next(args) -- raw: a playbook's __index cannot say one thing here and another later
  while k ~= nil do
    local t = type(v)
    if type(k) ~= "string" or not (t == "string" or t == "number" or t == "boolean") then
      fault("invalid", "%s: argument %s must be a name with a string, number or boolean value", what, tostring(k))
    end
    out[k] = v
    k, v = next(args, k)
  end
  return out
end

local function mode_list(modes, what)
  if type(modes) == "string" then modes = { modes } end
  if type(modes) ~= "table" or #modes == 0 then fault("invalid", "%s: modes is a mode name or a list of them", what) end
  local out = {}
  for i = 1, #modes do
    if not MODES[modes[i]] then
      fault("invalid", "%s: '%s' is not a mode (normal, recovery, dfu, restore, off)", what, tostring(modes[i]))
    end
    out[i] = modes[i]
  end
  return out
end

local function preflight(verb, args)
  local r, e = host.call("preflight", { ["for"] = verb, bytes = args and args.bytes })
  if r then return true end
  if e.name == "unsupported" or e.name == "not_built" then
    emit("log", { level = "warn", message = "no preflight check available before " .. verb .. ": " .. e.message })
    return true
  end
  return nil, e
end

local function do_backup(args)
  local ok, e = preflight("backup", args)
  if not ok then return nil, e end
  local r
  r, e = host.call("backup", args)
  if not r then return nil, e end
  local where = r.path or "backup"
  mark("backup", where)
  last_backup = where
  return r
end

local KINDS = {
  erase = "erase the phone and install its software afresh",
  factory_reset = "erase all content and settings on the phone",
  restore_backup = "replace the data on the phone with the backup",
}

-- The gate every destructive verb passes (see the top of this file).
local policy = {} -- the header's policy, copied when the run starts (runner.main)

local function destructive(kind)
  if policy[kind] ~= true then
    fault("policy", "this playbook's policy does not allow '%s' (%s); a playbook that may do it says "
          .. "policy = { %s = true }", kind, KINDS[kind], kind)
  end
  if cfg.waive_backup then
    step("safety.waiver", function()
      host.journal("waiver", { what = "backup before " .. kind, by = "--waive-backup" })
      emit("log", { level = "warn", message = "no backup before " .. kind .. ": waived with --waive-backup" })
      return true
    end)
  elseif not last_backup then
    local m = host.call("mode")
    if m and m.mode == "normal" then
      local r, e = step("safety.backup", function() return do_backup({}) end)
      if not r then
        return nil, host.error(e.name, "the backup before " .. kind .. " failed, so nothing was erased: "
          .. e.message .. " (fix that, or run with --waive-backup to go on without a backup)")
      end
    else
      step("safety.no_backup", function()
        local msg = fmt("no backup before %s: the phone is in %s mode and its data cannot be read",
                        kind, m and m.mode or "an unknown")
        host.journal("note", { message = msg })
        emit("log", { level = "warn", message = msg })
        return true
      end)
    end
  end
  local yes, e = step("safety.consent", function()
    local q = fmt("%s wants to %s. Go ahead?", spec and spec.name or "the playbook", KINDS[kind])
    host.journal("prompt", { question = q })
    local answer, err = true, nil
    if not cfg.yes then answer, err = host.confirm(q) end
    if answer == nil then return nil, err end
    host.journal("answer", { question = q, answer = answer, by = cfg.yes and "--yes" or "person" })
    return answer
  end)
  if yes == nil then return nil, e end
  if not yes then
    return nil, host.error("cancelled", "the person declined to " .. KINDS[kind] .. "; nothing was changed")
  end
  mark("destructive", kind)
  return true
end

local function long_call(verb, args, kind)
  return implicit("device." .. verb, function()
    if kind then
      local ok, e = destructive(kind)
      if not ok then return nil, e end
    end
    local ok, e = preflight(verb, args)
    if not ok then return nil, e end
    local r
    r, e = host.call(verb, args)
    if kind and r then last_backup = nil end
    return r, e
  end)
end

local function simple(verb)
  return function(args)
    args = sanitize(args, "device." .. verb)
    return implicit("device." .. verb, function() return host.call(verb, args) end)
  end
end

local device = {}

--- device.mode() -> "normal" | "recovery" | "dfu" | "restore" | "off", or nil, err
function device.mode()
  local r, e = implicit("device.mode", function() return host.call("mode") end)
  if not r then return nil, e end
  return r.mode
end

--- device.info() -> { ecid, udid, product_type, ios_version, battery_percent, ... } or nil, err
device.info = simple("info")
device.enter_recovery = simple("enter_recovery")
device.exit_recovery = simple("exit_recovery")
device.reboot = simple("reboot")
device.shutdown = simple("shutdown")
device.verify_backup = simple("verify_backup")
device.fetch = simple("fetch")
device.import = simple("import")

--- device.preflight{["for"] = verb} -> true or nil, err (battery, free space)
function device.preflight(args)
  args = sanitize(args, "device.preflight")
  return implicit("device.preflight", function() return preflight(args["for"] or "restore_firmware", args) end)
end

--- device.getvar(name) -> value or nil, err (recovery mode)
function device.getvar(name)
  if type(name) ~= "string" then fault("invalid", "device.getvar(name)") end
  local r, e = implicit("device.getvar", function() return host.call("getvar", { name = name }) end)
  if not r then return nil, e end
  return r.value
end

--- device.setvar(name, value) -> true or nil, err (recovery mode)
function device.setvar(name, value)
  if type(name) ~= "string" or type(value) ~= "string" then fault("invalid", "device.setvar(name, value): strings") end
  local r, e = implicit("device.setvar", function() return host.call("setvar", { name = name, value = value }) end)
  if not r then return nil, e end
  return true
end

--- device.wait_for(modes, timeout_s) -> true or nil, err (timeout, cancelled)
function device.wait_for(modes, timeout)
  modes = mode_list(modes, "device.wait_for")
  if timeout ~= nil and type(timeout) ~= "number" then fault("invalid", "device.wait_for: timeout in seconds") end
  return implicit("device.wait_for", function() return host.wait_mode(modes, timeout or 60) end)
end

--- device.wait_reconnect(timeout_s) -> true or nil, err: the device is back, in any mode
function device.wait_reconnect(timeout)
  return device.wait_for({ "normal", "recovery", "dfu", "restore" }, timeout)
end

--- device.backup{dir = ...} -> { path, bytes } or nil, err
function device.backup(args)
  args = sanitize(args, "device.backup")
  return implicit("device.backup", function() return do_backup(args) end)
end

--- device.restore_firmware{firmware = ..., erase = bool} -> result or nil, err
function device.restore_firmware(args)
  args = sanitize(args, "device.restore_firmware")
  return long_call("restore_firmware", args, args.erase and "erase" or nil)
end

--- device.factory_reset{firmware = ...}: a restore that erases everything.
function device.factory_reset(args)
  args = sanitize(args, "device.factory_reset")
  args.erase = true
  return long_call("restore_firmware", args, "factory_reset")
end

--- device.restore_backup{path = ..., password = ...} -> result or nil, err
function device.restore_backup(args)
  args = sanitize(args, "device.restore_backup")
  return long_call("restore_backup", args, "restore_backup")
end

--- device.call(verb, args): any other verb a plugin offers; the known ones keep their rules.
function device.call(verb, args)
  if type(verb) ~= "string" or not verb:match("^[a-z][a-z0-9_]*$") then fault("invalid", "device.call(verb, args)") end
  if verb == "mode" then return implicit("device.mode", function() return host.call("mode") end) end
  local known = rawget(device, verb)
  if known and verb ~= "call" then return known(args) end
  if verb:match("erase") or verb:match("reset") or verb:match("wipe") then
    fault("policy", "device.call('%s'): verbs that erase go through device.factory_reset or device.restore_firmware", verb)
  end
  return simple(verb)(args)
end

api.device = device

-- ---- retry and ladders -------------------------------------------------------------------

local FATAL = { playbook = true, unsafe = true, limit = true, cancelled = true, policy = true,
                invalid = true, no_memory = true }

--- retry({attempts = 3, backoff = 2, max_backoff = 60, retry_on = {names}}, fn) -> fn's results.
--- fn(attempt) returns results, or nil, err; or raises. It runs again while the error is
--- worth retrying (its name is in retry_on, or, without retry_on, err.retry is true).
function api.retry(opts, fn)
  if type(opts) ~= "table" or type(fn) ~= "function" then fault("invalid", "retry(options, fn)") end
  local attempts, backoff = opts.attempts or 3, opts.backoff or 2
  local cap = opts.max_backoff or 60
  if mtype(attempts) ~= "integer" or attempts < 1 or type(backoff) ~= "number" or backoff < 0 then
    fault("invalid", "retry: attempts is an integer >= 1, backoff a number of seconds >= 0")
  end
  local worth
  if opts.retry_on ~= nil then
    worth = {}
    for _, n in ipairs(opts.retry_on) do
      if not errors.names[n] then fault("invalid", "retry: '%s' is not an error name", tostring(n)) end
      worth[n] = true
    end
  end
  for a = 1, attempts do
    local res = pack(pcall(fn, a))
    local e
    if res[1] then
      if not (res[2] == nil and res.n >= 3 and res[3] ~= nil) then return unpack(res, 2, res.n) end
      e = as_error(res[3])
    else
      e = as_error(res[2])
    end
    local again = not FATAL[e.name] and (worth and worth[e.name] or (not worth and e.retry == true))
    if not again or a == attempts then
      if res[1] then return nil, e end
      error(e, 0)
    end
    local wait = min(backoff * 2 ^ (a - 1), cap)
    emit("retry", { attempt = a, attempts = attempts, error = e.name, message = e.message, wait = wait })
    api.sleep(wait)
  end
end

-- ---- a person's part ---------------------------------------------------------------------

local person = {}

local function countdown(phases)
  for i, ph in ipairs(phases) do
    emit("countdown", { phase = i, phases = #phases, text = ph.text, seconds = ph.seconds or 0 })
    local s = ph.seconds or 0
    while s > 0 do
      host.sleep(1)
      s = s - 1
      emit("countdown_tick", { phase = i, remaining = s })
    end
  end
end

-- A guided button sequence (force restart, DFU, recovery) for this exact model, repeated
-- until the device is seen in one of `targets`, or the person gives up.
local function guided(kind, targets, opts)
  opts = sanitize(opts, "person." .. kind)
  return implicit("person." .. kind, function()
    local models = require("revive.models")
    local info = host.call("info") or {}
    local g = models.guide(kind, info.product_type)
    local attempts = opts.attempts or 3
    for attempt = 1, attempts do
      host.journal("prompt", { question = g.title, model = g.model, attempt = attempt })
      emit("prompt", { title = g.title, text = concat(g.lines, "\n"), model = g.model })
      if g.phases then
        countdown({ { text = "Get ready: fingers on the buttons", seconds = 3 } })
        countdown(g.phases)
      end
      local ok, e = host.prompt_until(g.title, g.wait_lines or g.lines, targets, opts.timeout or g.timeout or 30)
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
  local text = type(lines) == "table" and concat(lines, "\n") or tostring(lines or "")
  emit("prompt", { title = title, text = text })
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
function api.ladder(l)
  if type(l) ~= "table" or type(l.check) ~= "function" then fault("invalid", "ladder{ check = fn, remedies... }") end
  local name, drops_max = l.name or "ladder", l.drops or 2
  local tried, drops = {}, 0
  local well, state = step(name .. ": check", l.check)
  if well then return true, { tried = tried, state = state, by = "no remedy: it was already well" } end
  for i = 1, #l do
    local r = l[i]
    if type(r) ~= "table" or type(r.name) ~= "string" or type(r.run) ~= "function" then
      fault("invalid", "ladder remedy %d: { name = '...', run = function() ... end }", i)
    end
    if r.when == nil or r.when(state) then
      local tries = 1
      while tries > 0 do
        tries = tries - 1
        local res = pack(pcall(step, r.name, r.run))
        local e
        if not res[1] then
          e = as_error(res[2])
          if FATAL[e.name] then error(e, 0) end
        elseif res[2] == nil and res.n >= 3 and res[3] ~= nil then
          e = as_error(res[3])
        end
        tried[#tried + 1] = { remedy = r.name, result = e and (e.name .. ": " .. e.message) or "done" }
        if e and e.name == "disconnected" then
          drops = drops + 1
          if drops >= drops_max then
            drops = 0
            if person.check_cable() then tries = 1 end
          end
        end
        if tries == 0 or not e then
          well, state = step(name .. ": check after " .. r.name, l.check)
          tried[#tried].state = state
          if well then return true, { tried = tried, state = state, by = r.name } end
          tries = 0
        end
      end
    end
  end
  return false, { tried = tried, state = state }
end

-- ---- outcomes, params, the playbook header -------------------------------------------------

local OUTCOME = {}
local outcome = {}

--- outcome.fixed(summary) -> the outcome the run function returns when the phone works.
function outcome.fixed(summary)
  return setmetatable({ outcome = "fixed", summary = tostring(summary or "the phone works again") }, OUTCOME)
end

--- outcome.needs_person{ tried = {...}, state = "...", next = {...} }
function outcome.needs_person(t)
  if type(t) ~= "table" or type(t.state) ~= "string" or type(t.next) ~= "table" or #t.next == 0 then
    fault("invalid", "outcome.needs_person{ tried = {...}, state = 'what the phone is doing', next = {'what a person does next', ...} }")
  end
  local tried = {}
  for i, v in ipairs(t.tried or {}) do
    tried[i] = type(v) == "table" and fmt("%s (%s)", tostring(v.remedy or v[1]), tostring(v.result or v[2] or "")) or tostring(v)
  end
  local nxt = {}
  for i, v in ipairs(t.next) do nxt[i] = tostring(v) end
  return setmetatable({ outcome = "needs_person", tried = tried, state = t.state, next = nxt,
                        summary = t.summary }, OUTCOME)
end
api.outcome = outcome
api.errors = errors

local PARAM_TYPES = { string = true, integer = true, number = true, boolean = true, enum = true, secret = true }
local POLICY_KEYS = { erase = true, factory_reset = true, restore_backup = true }
local SPEC = {}

local function convert(name, d, raw)
  local t = d.type
  if t == "string" or t == "secret" then return raw end
  if t == "integer" then
    local v = tonumber(raw)
    if v and mtype(v) == "integer" then return v end
  elseif t == "number" then
    local v = tonumber(raw)
    if v then return v end
  elseif t == "boolean" then
    if raw == "true" or raw == "yes" or raw == "1" then return true end
    if raw == "false" or raw == "no" or raw == "0" then return false end
  elseif t == "enum" then
    for _, v in ipairs(d.values) do if v == raw then return raw end end
    fault("invalid", "parameter %s: '%s' is not one of %s", name, raw, concat(d.values, ", "))
  end
  fault("invalid", "parameter %s: '%s' is not a%s %s", name, raw, t == "integer" and "n" or "", t)
end

local function check_default(name, d)
  local v = d.default
  if v == nil then return end
  local t = d.type
  local ok = (t == "string" and type(v) == "string") or (t == "integer" and mtype(v) == "integer")
    or (t == "number" and type(v) == "number") or (t == "boolean" and type(v) == "boolean")
  if t == "enum" then
    for _, x in ipairs(d.values) do if x == v then ok = true end end
  end
  if t == "secret" then fault("invalid", "parameter %s: a secret has no default", name) end
  if not ok then fault("invalid", "parameter %s: its default %s is not a %s", name, tostring(v), t) end
end

--- playbook{ name, summary, params = {...}, policy = {...}, run = function(params) ... end }
--- -> the playbook, checked. A playbook file ends with `return playbook { ... }`.
function api.playbook(t)
  if type(t) ~= "table" then fault("invalid", "playbook{ ... }: a table") end
  if type(t.name) ~= "string" or not t.name:match("^[a-z0-9][a-z0-9%-]*$") then
    fault("invalid", "playbook: name is lowercase letters, digits and '-' (got %s)", tostring(t.name))
  end
  if type(t.summary) ~= "string" or t.summary == "" then fault("invalid", "playbook %s: summary (one line) is missing", t.name) end
  if type(t.run) ~= "function" then fault("invalid", "playbook %s: run = function(params) ... end is missing", t.name) end
  local params = {}
  for k, d in pairs(t.params or {}) do
    if type(k) ~= "string" or not k:match("^[a-z][a-z0-9_]*$") then fault("invalid", "playbook %s: parameter names are lowercase words (got %s)", t.name, tostring(k)) end
    if type(d) ~= "table" or not PARAM_TYPES[d.type] then
      fault("invalid", "parameter %s: type is one of string, integer, number, boolean, enum, secret", k)
    end
    if d.type == "enum" and (type(d.values) ~= "table" or #d.values == 0) then fault("invalid", "parameter %s: an enum lists its values", k) end
    if d.doc ~= nil and type(d.doc) ~= "string" then fault("invalid", "parameter %s: doc is a string", k) end
    check_default(k, d)
    params[k] = { type = d.type, default = d.default, values = d.values, doc = d.doc, required = d.required }
  end
  local policy = {}
  for k, v in pairs(t.policy or {}) do
    if not POLICY_KEYS[k] then fault("invalid", "playbook %s: policy key '%s' is not one of erase, factory_reset, restore_backup", t.name, tostring(k)) end
    if type(v) ~= "boolean" then fault("invalid", "playbook %s: policy.%s is true or false", t.name, k) end
    policy[k] = v
  end
  return setmetatable({ name = t.name, summary = t.summary, params = params, policy = policy, run = t.run }, SPEC)
end

local function resolve_params(decl, given, recorded_params)
  local names = {}
  for k in pairs(decl) do names[#names + 1] = k end
  sort(names)
  for k in pairs(given) do
    if not decl[k] then
      fault("invalid", "unknown parameter '%s'; this playbook takes: %s", k, #names > 0 and concat(names, ", ") or "none")
    end
    if recorded_params and decl[k].type ~= "secret" then
      fault("invalid", "parameter '%s': a resumed run keeps the parameters it started with", k)
    end
  end
  local p, journaled = {}, {}
  for _, k in ipairs(names) do
    local d = decl[k]
    local v
    if recorded_params and d.type ~= "secret" then
      v = recorded_params[k]
    elseif given[k] ~= nil then
      v = convert(k, d, given[k])
    else
      v = d.default
    end
    if v == nil and d.required ~= false and d.type ~= "secret" then
      fault("invalid", "parameter '%s' is needed: --set %s=...%s", k, k, d.doc and (" (" .. d.doc .. ")") or "")
    end
    p[k] = v
    journaled[k] = d.type == "secret" and (v and "(secret)" or nil) or v
  end
  return setmetatable(p, { __index = function(_, k)
                             if decl[k] then return nil end -- declared, optional, not given
                             fault("playbook", "params.%s: no such parameter", tostring(k))
                           end,
                           __newindex = function() fault("playbook", "params are read-only") end,
                           __metatable = false }), journaled
end

-- ---- the run -------------------------------------------------------------------------------

local runner = {}

local function outcome_fields(o)
  return { outcome = o.outcome, summary = o.summary, tried = o.tried, state = o.state, next = o.next }
end

function runner.main(pb)
  if getmetatable(pb) ~= SPEC then
    fault("playbook", "%s must end with `return playbook { ... }`", cfg.playbook)
  end
  spec = pb
  for k, v in pairs(pb.policy) do policy[k] = v end -- later changes to pb.policy do nothing
  local started = host.records[1]
  local params, journaled
  if resuming then
    if started.type ~= "run_started" then fault("corrupt", "the journal does not start with run_started") end
    for _, r in ipairs(host.records) do
      if r.type == "outcome" and (r.outcome == "fixed" or r.outcome == "needs_person") then
        fault("invalid", "run %s already ended (%s); there is nothing to resume", cfg.run_id, r.outcome)
      end
    end
    if started.sha256 ~= cfg.sha256 and not cfg.force then
      fault("invalid", "the playbook %s changed since run %s started (it was %s, it is now %s); "
            .. "resume with --force to continue with the changed playbook", cfg.playbook, cfg.run_id,
            tostring(started.sha256):sub(1, 12), cfg.sha256:sub(1, 12))
    end
    params, journaled = resolve_params(pb.params, cfg.params, started.params or {})
    host.journal("resumed", { sha256 = cfg.sha256, forced = started.sha256 ~= cfg.sha256 })
  else
    params, journaled = resolve_params(pb.params, cfg.params, nil)
    -- The start is journaled before anything crosses to the engine, so a crash at any
    -- later moment leaves a run that resumes with its own parameters.
    host.journal("run_started", { playbook = cfg.playbook, name = pb.name, sha256 = cfg.sha256,
                                  params = journaled, yes = cfg.yes, waive_backup = cfg.waive_backup })
    if cfg.waive_backup then host.journal("waiver", { what = "backups before destructive actions", by = "--waive-backup" }) end
    local info, err = host.call("info")
    host.journal("device", info and { identity = info } or { error = encode_error(err) })
  end
  emit("run_started", { playbook = pb.name, run = cfg.run_id, resume = resuming })
  local res = pack(pcall(pb.run, params))
  if not res[1] then
    local e = as_error(res[2])
    if e.name == "cancelled" then error(e, 0) end -- stays resumable
    host.journal("outcome", { outcome = "failed", error = encode_error(e) })
    host.event("outcome", { outcome = "failed", error = e.name, message = e.message })
    error(e, 0)
  end
  local o = res[2]
  if getmetatable(o) ~= OUTCOME then
    local e = host.error("playbook", "the run function ended without an outcome: return outcome.fixed(...) or outcome.needs_person{...}")
    host.journal("outcome", { outcome = "failed", error = encode_error(e) })
    error(e, 0)
  end
  host.journal("outcome", outcome_fields(o))
  local ev = { outcome = o.outcome, summary = o.summary, state = o.state }
  if o.tried then ev.tried = concat(o.tried, "; ") end
  if o.next then ev.next = concat(o.next, "\n") end
  host.event("outcome", ev)
  return o.outcome
end

-- For `revive check`: what the playbook declares, and the names the API offers.
function runner.describe(pb)
  if getmetatable(pb) ~= SPEC then
    fault("playbook", "the file must end with `return playbook { ... }`")
  end
  return pb
end

return api, runner
