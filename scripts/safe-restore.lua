--[[
safe-restore — reinstall iOS the careful way: preflight (battery, free space), a backup,
verify the backup, restore, check the phone boots; after an erasing restore, put the
backup back and check again.

Parameters:
  firmware  string   "latest"  firmware path, URL or catalog query
  erase     boolean  false     erase the phone (a clean install) instead of an update
  boot_wait integer  300       seconds to wait for the phone to boot

Policy: erase and restore_backup allowed (erase only when the erase parameter says so;
each still needs consent or --yes).
]]
local rescue = require("revive.rescue")

return playbook {
  name = "safe-restore",
  summary = "Preflight, backup, verify, restore, verify",
  params = {
    firmware = { type = "string", default = "latest", doc = "firmware path, URL or catalog query" },
    erase = { type = "boolean", default = false, doc = "erase (clean install) instead of an update" },
    boot_wait = { type = "integer", default = 300, doc = "seconds to wait for a boot" },
  },
  policy = { erase = true, restore_backup = true },

  run = function(p)
    local ready, err = device.preflight{ ["for"] = "restore_firmware" }
    if not ready then
      return outcome.needs_person{ tried = { "preflight" }, state = err.message,
        next = { "Charge the phone or free space on this computer, then run safe-restore again." } }
    end
    local backup, berr = step("backup", function()
      local r, e = device.backup{}
      if not r then return nil, e end
      return r.path
    end)
    if not backup then
      return outcome.needs_person{ tried = { "backup" }, state = "backup failed: " .. berr.message,
        next = { "Fix what stopped the backup (trust this computer, free space), then run safe-restore again." } }
    end
    local verified, verr = step("verify backup", function() return device.verify_backup{ path = backup } end)
    if not verified then
      return outcome.needs_person{ tried = { "backup", "verify backup" }, state = "the backup did not verify: " .. verr.message,
        next = { "Do not restore: keep the phone as it is and ask for help with the backup." } }
    end
    local fw, ferr = rescue.firmware(p.firmware)
    if not fw then
      return outcome.needs_person{ tried = { "backup", "fetch firmware" }, state = ferr.message,
        next = { "Check the network or give a firmware file with --set firmware=PATH." } }
    end
    local r, rerr = device.restore_firmware{ firmware = fw, erase = p.erase }
    if not r then
      return outcome.needs_person{ tried = { "restore" }, state = rerr.name .. ": " .. rerr.message,
        next = { "Run the interrupted-restore playbook: it escalates step by step.", rescue.SERVICE } }
    end
    local booted, werr = rescue.wait_booted(p.boot_wait)
    if not booted then
      return outcome.needs_person{ tried = { "restore" }, state = "restored but not booting: " .. werr.message,
        next = { "Run the interrupted-restore playbook.", rescue.SERVICE } }
    end
    if p.erase then
      local back, e = device.restore_backup{ path = backup }
      if not back then
        return outcome.needs_person{ tried = { "restore", "restore backup" }, state = e.message,
          next = { "The backup is safe at " .. backup .. "; run restore-backup with --set backup=" .. backup } }
      end
      rescue.wait_booted(p.boot_wait)
    end
    local well, state = step("verify", rescue.health)
    if not well then
      return outcome.needs_person{ tried = { "restore" }, state = state, next = { rescue.SERVICE } }
    end
    return outcome.fixed("restored; backup at " .. backup)
  end,
}
