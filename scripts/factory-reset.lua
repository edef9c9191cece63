--[[
factory-reset — erase everything and install iOS afresh. The runtime takes a backup first
while the phone can be read (unless --waive-backup, which the journal records) and asks
the person (or takes --yes) before erasing.

Parameters:
  firmware  string   "latest"  firmware path, URL or catalog query
  boot_wait integer  300       seconds to wait for the phone to boot

Policy: factory_reset allowed (with consent).
]]
local rescue = require("revive.rescue")

return playbook {
  name = "factory-reset",
  summary = "Erase the phone and install iOS afresh, after a backup and with consent",
  params = {
    firmware = { type = "string", default = "latest", doc = "firmware path, URL or catalog query" },
    boot_wait = { type = "integer", default = 300, doc = "seconds to wait for a boot" },
  },
  policy = { factory_reset = true },

  run = function(p)
    local fw, ferr = rescue.firmware(p.firmware)
    if not fw then
      return outcome.needs_person{ tried = { "fetch firmware" }, state = ferr.message,
        next = { "Check the network or give a firmware file with --set firmware=PATH." } }
    end
    local r, err = device.factory_reset{ firmware = fw }
    if not r then
      return outcome.needs_person{ tried = { "factory reset" }, state = err.name .. ": " .. err.message,
        next = { err.name == "cancelled" and "Nothing was erased." or rescue.SERVICE } }
    end
    rescue.wait_booted(p.boot_wait)
    local well, state = step("verify", rescue.health)
    if not well then
      return outcome.needs_person{ tried = { "factory reset" }, state = state, next = { rescue.SERVICE } }
    end
    return outcome.fixed("erased and reinstalled; the phone shows the setup assistant")
  end,
}
