--[[
run.lua — the playbook header (playbook{}), parameters, outcomes, and runner.main: the
run from its journaled start (or its resume) to its journaled outcome.
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
  rt.spec = pb
  for k, v in pairs(pb.policy) do rt.policy[k] = v end -- later changes to pb.policy do nothing
  local started = host.records[1]
  local params, journaled
  if rt.resuming then
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
  emit("run_started", { playbook = pb.name, run = cfg.run_id, resume = rt.resuming })
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

return runner
