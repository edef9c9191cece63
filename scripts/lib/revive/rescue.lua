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
--- query is a local path (used as it is), a URL, a source query ("firmware:iPhone12,1:latest"), or just
--- "latest", a version ("17.5") or a build ("21F79") for this phone's model. The source
--- plugins (or the simulator's synthetic catalog under --sim) turn it into a file;
--- refresh = true fetches again instead of using the cache.
function M.firmware(query, refresh)
  return step(refresh and "fetch fresh firmware" or "fetch firmware", function()
    local q = query
    if q:find("^[/.~]") then return q end -- a file or folder here: used as it is
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

local function answering()
  -- iOS is up a little before lockdownd answers: give it half a minute.
  return retry({ attempts = 6, backoff = 5, max_backoff = 5 }, function()
    local well, state = M.health()
    if well then return true end
    return nil, errors.new("timeout", "the phone is " .. state)
  end)
end

--- wait_booted(timeout) -> true or nil, err: the phone is booted (normal mode, answering)
--- after an action that restarts it. It returns as soon as the phone answers in normal
--- mode; a phone seen back in recovery or DFU fails at once with wrong_mode (so a ladder
--- moves on); a phone off the bus (booting) is waited for up to `timeout` seconds. It is
--- one step, so a resume sees the answer the run saw.
function M.wait_booted(timeout)
  return step("wait for the phone to boot", function()
    -- A reboot is not seen at once: right after the action the phone may still show in its
    -- old mode. Give a boot its usual time before judging the mode it is in.
    if device.wait_for("normal", math.min(timeout or 300, 60)) then return answering() end
    local mode = device.mode()
    -- Off the bus (rebooting) or still in restore mode (a restore just ended and the
    -- phone has not left it yet): both are on the way somewhere; wait to see where.
    if mode == "off" or mode == "restore" then
      local ok, err = device.wait_for({ "normal", "recovery", "dfu" }, timeout or 300)
      if not ok then return nil, err end
      mode = device.mode()
      if mode == "normal" then return answering() end
    end
    return nil, errors.new("wrong_mode", "the phone came back in " .. tostring(mode) .. " mode, not booted")
  end)
end

M.SERVICE = "Take the phone to Apple or an Apple Authorised Service Provider: what revive tried "
  .. "did not bring it back, which points to a hardware fault. Bring this report: "
  .. "'revive runs' lists the runs, 'revive runs show RUN' prints what was done."

--- needs_person(report, extra_next) -> outcome.needs_person with the ladder's report.
function M.needs_person(report, first_next)
  local nxt = {}
  if first_next then nxt[#nxt + 1] = first_next end
  nxt[#nxt + 1] = M.SERVICE
  return outcome.needs_person{ tried = report.tried, state = report.state or "unknown", next = nxt }
end

return M
