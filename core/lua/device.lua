--[[
device.lua — the device part of the playbook API (see prelude.lua for how parts fit).

Every verb goes to the engine through host.call, as an implicit step when called outside
one. Destructive verbs (erase, factory_reset, restore_backup) pass destructive(): the
playbook's policy must allow the kind, a backup is taken first when the device is
readable and none was taken since the last destructive action (unless --waive-backup,
which is journaled), and a person confirms (or --yes did, journaled). Long operations
(backup, restores) get a preflight first.
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
  rt.last_backup = where
  return r
end

local KINDS = {
  erase = "erase the phone and install its software afresh",
  factory_reset = "erase all content and settings on the phone",
  restore_backup = "replace the data on the phone with the backup",
}

-- The gate every destructive verb passes (see the top of this file).
local function destructive(kind)
  if rt.policy[kind] ~= true then
    fault("policy", "this playbook's policy does not allow '%s' (%s); a playbook that may do it says "
          .. "policy = { %s = true }", kind, KINDS[kind], kind)
  end
  if cfg.waive_backup then
    step("safety.waiver", function()
      host.journal("waiver", { what = "backup before " .. kind, by = "--waive-backup" })
      emit("log", { level = "warn", message = "no backup before " .. kind .. ": waived with --waive-backup" })
      return true
    end)
  elseif not rt.last_backup then
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
    local q = fmt("%s wants to %s. Go ahead?", rt.spec and rt.spec.name or "the playbook", KINDS[kind])
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
    if kind and r then rt.last_backup = nil end
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
rt.sanitize, rt.mode_list = sanitize, mode_list
