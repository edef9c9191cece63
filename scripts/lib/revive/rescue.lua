--[[
revive.rescue — what the shipped playbooks share: the health check a ladder runs after
each remedy, fetching firmware, backups when the phone can be read, and the words for a
"needs a person" ending.

  local rescue = require("revive.rescue")
]]
local M = {}

--- health() -> well, state: the phone is in normal mode and answers (iOS booted).
--- state is the mode, or "normal (not answering)", or "not seen (<error>)".
function M.health()
  local mode, err = device.mode()
  if not mode then return false, "not seen (" .. err.name .. ")" end
  if mode ~= "normal" then return false, mode end
  local info = device.info()
  if not info then return false, "normal (not answering)" end
  return true, "normal"
end

--- firmware(query, refresh) -> path or nil, err: a local, verified firmware file.
--- query is a path, a URL, a source query ("firmware:iPhone12,1:latest"), or just
--- "latest", a version ("17.5") or a build ("21F79") for this phone's model. The source
--- plugins (or the simulator's synthetic catalog under --sim) turn it into a file;
--- refresh = true fetches again instead of using the cache.
function M.firmware(query, refresh)
  return step(refresh and "fetch fresh firmware" or "fetch firmware", function()
    local q = query
    if not q:find("[:/]") then
      local info = device.info()
      local model = info and info.product_type
      if not model or model == "" then
        return nil, errors.new("not_found", "the phone's model is not known in this mode, so '" .. q
          .. "' cannot be looked up; give the firmware with --set firmware=PATH")
      end
      q = "firmware:" .. model .. ":" .. q
    end
    local r, err = device.fetch{ query = q, refresh = refresh or nil }
    if not r then return nil, err end
    return r.path
  end)
end

--- backup_if_readable() -> path or nil: a backup when the phone is in normal mode.
function M.backup_if_readable()
  return step("backup while the phone can be read", function()
    if device.mode() ~= "normal" then return nil end
    local r, err = device.backup{}
    if not r then
      log.warn("backup failed: %s", tostring(err))
      return nil
    end
    return r.path
  end)
end

--- wait_booted(timeout) -> true or nil, err: the phone is booted (normal mode, answering)
--- after an action that restarts it. A phone that restarts first leaves the bus, so this
--- waits for that (briefly), then for the phone to come back in any mode, and fails with
--- wrong_mode when it came back in recovery or DFU.
function M.wait_booted(timeout)
  if M.health() then return true end
  device.wait_for("off", 15)
  local ok, err = device.wait_for({ "normal", "recovery", "dfu", "restore" }, timeout or 300)
  if not ok then return nil, err end
  local well, state = M.health()
  if not well and state == "normal (not answering)" then
    -- iOS is still starting: lockdownd answers some seconds after the phone appears.
    ok, err = retry({ attempts = 6, backoff = 5, max_backoff = 5 }, function()
      local w, st = M.health()
      if w then return true end
      return nil, errors.new("timeout", "the phone is " .. st)
    end)
    if ok then return true end
  end
  if well then return true end
  return nil, errors.new("wrong_mode", "the phone came back in " .. state .. " mode, not booted")
end

M.SERVICE = "Take the phone to Apple or an Apple Authorised Service Provider: what revive tried "
  .. "did not bring it back, which points to a hardware fault. Bring this report (revive runs, "
  .. "then revive runs --show RUN)."

--- needs_person(report, extra_next) -> outcome.needs_person with the ladder's report.
function M.needs_person(report, first_next)
  local nxt = {}
  if first_next then nxt[#nxt + 1] = first_next end
  nxt[#nxt + 1] = M.SERVICE
  return outcome.needs_person{ tried = report.tried, state = report.state or "unknown", next = nxt }
end

return M
