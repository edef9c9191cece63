--[[
dfu-restore — when the phone shows nothing or will not enter recovery: guide the person
into DFU mode (the exact buttons for this model, with countdowns), then restore.

Parameters:
  firmware  string   "latest"  firmware path, URL or catalog query
  erase     boolean  false     erase (clean install) instead of an update restore
  boot_wait integer  300       seconds to wait for the phone to boot

Policy: erase allowed (only when the erase parameter says so; consent or --yes first).
A phone in DFU mode cannot be read, so no backup is possible here (journaled as such).
]]
local rescue = require("revive.rescue")

return playbook {
  name = "dfu-restore",
  summary = "Guide the phone into DFU mode and restore it",
  params = {
    firmware = { type = "string", default = "latest", doc = "firmware path, URL or catalog query" },
    erase = { type = "boolean", default = false, doc = "erase instead of an update restore" },
    boot_wait = { type = "integer", default = 300, doc = "seconds to wait for a boot" },
  },
  policy = { erase = true },

  run = function(p)
    local backup = rescue.backup_if_readable()
    local fw, ferr = rescue.firmware(p.firmware)
    if not fw then
      return outcome.needs_person{ tried = { "fetch firmware" }, state = ferr.message,
        next = { "Check the network or give a firmware file with --set firmware=PATH." } }
    end
    if device.mode() ~= "dfu" then
      local ok, err = person.dfu()
      if not ok then
        return outcome.needs_person{ tried = { "DFU mode" }, state = err.message,
          next = { "Try the DFU steps again slowly, with a cable straight to this computer.", rescue.SERVICE } }
      end
    end
    local r, rerr = device.restore_firmware{ firmware = fw, erase = p.erase }
    if not r then
      return outcome.needs_person{ tried = { "DFU restore" }, state = rerr.name .. ": " .. rerr.message,
        next = { rescue.SERVICE } }
    end
    rescue.wait_booted(p.boot_wait)
    local well, state = step("verify", rescue.health)
    if not well then
      return outcome.needs_person{ tried = { "DFU restore" }, state = state, next = { rescue.SERVICE } }
    end
    return outcome.fixed("restored from DFU mode" .. (backup and "; backup at " .. backup or ""))
  end,
}
