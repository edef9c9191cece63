--[[
update — install newer iOS over the current one, keeping the data: preflight, a backup
while the phone can be read, fetch and verify the firmware, update restore, check it
boots.

Parameters:
  firmware  string   "latest"  firmware path, URL or catalog query
  boot_wait integer  300       seconds to wait for the phone to boot

Policy: nothing destructive (an update keeps the data).
]]
local rescue = require("revive.rescue")

return playbook {
  name = "update",
  summary = "Update iOS, keeping the data, with a backup first",
  params = {
    firmware = { type = "string", default = "latest", doc = "firmware path, URL or catalog query" },
    boot_wait = { type = "integer", default = 300, doc = "seconds to wait for a boot" },
  },
  policy = {},

  run = function(p)
    local ready, err = device.preflight{ ["for"] = "restore_firmware" }
    if not ready then
      return outcome.needs_person{ tried = { "preflight" }, state = err.message,
        next = { "Charge the phone or free space on this computer, then update again." } }
    end
    local backup = rescue.backup_if_readable()
    local fw, ferr = rescue.firmware(p.firmware)
    if not fw then
      return outcome.needs_person{ tried = { "fetch firmware" }, state = ferr.message,
        next = { "Check the network or give a firmware file with --set firmware=PATH." } }
    end
    local r, rerr = retry({ attempts = 2, backoff = 10, retry_on = { "disconnected", "timeout", "busy" } },
      function() return device.restore_firmware{ firmware = fw, erase = false } end)
    if not r then
      return outcome.needs_person{ tried = { "update restore" }, state = rerr.name .. ": " .. rerr.message,
        next = { "Run the interrupted-restore playbook: it escalates step by step." } }
    end
    rescue.wait_booted(p.boot_wait)
    local well, state = step("verify", rescue.health)
    if not well then
      return outcome.needs_person{ tried = { "update restore" }, state = state,
        next = { "Run the interrupted-restore playbook." } }
    end
    return outcome.fixed("updated" .. (backup and "; backup at " .. backup or ""))
  end,
}
