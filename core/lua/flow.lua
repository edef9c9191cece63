--[[
flow.lua — retry with backoff, and escalation ladders.
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

local check_cable = api.person.check_cable


local FATAL = { playbook = true, unsafe = true, limit = true, cancelled = true, policy = true,
                invalid = true, no_memory = true }

--- retry({attempts = 3, backoff = 2, max_backoff = 60, retry_on = {names}}, fn) -> fn's results
--- (or retry{ attempts = 3, ..., fn } with fn as the table's first item).
--- fn(attempt) returns results, or nil, err; or raises. It runs again while the error is
--- worth retrying (its name is in retry_on, or, without retry_on, err.retry is true).
function api.retry(opts, fn)
  if fn == nil and type(opts) == "table" then fn = opts[1] end -- retry{ attempts = 3, function() ... end }
  if type(opts) ~= "table" or type(fn) ~= "function" then fault("invalid", "retry(options, fn) or retry{ options..., fn }") end
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
    emit("retry", { attempt = a, attempts = attempts, error = e.name, message = e.message, delay = wait })
    api.sleep(wait)
  end
end

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
        elseif not res[2] then -- nil or false without a reason: it did not work either
          e = host.error("unknown", "the remedy returned " .. tostring(res[2]) .. " without saying why")
        end
        tried[#tried + 1] = { remedy = r.name, result = e and (e.name .. ": " .. e.message) or "done" }
        if e and e.name == "disconnected" then
          drops = drops + 1
          if drops >= drops_max then
            drops = 0
            if check_cable() then tries = 1 end
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
