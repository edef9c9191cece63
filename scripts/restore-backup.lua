--[[
restore-backup — put a backup back on the phone: verify the backup (read-only: it is
never written), convert it to the canonical layout when it is another format, restore it
over the phone's data (with consent, after a fresh backup of what is on the phone now),
and check the phone boots.

Parameters:
  backup    string   (needed)  the backup folder or archive
  password  secret             the backup's password, if it is encrypted (never journaled)
  boot_wait integer  300       seconds to wait for the phone to boot

Policy: restore_backup allowed (with consent).
]]
local rescue = require("revive.rescue")

return playbook {
  name = "restore-backup",
  summary = "Verify a backup and restore it onto the phone",
  params = {
    backup = { type = "string", doc = "the backup folder or archive" },
    password = { type = "secret", required = false, doc = "the backup's password if it is encrypted" },
    boot_wait = { type = "integer", default = 300, doc = "seconds to wait for a boot" },
  },
  policy = { restore_backup = true },

  run = function(p)
    local canonical, ierr = step("import backup", function()
      local r, e = device.import{ path = p.backup }
      if not r then return nil, e end
      return r.path
    end)
    if not canonical then
      return outcome.needs_person{ tried = { "import backup" }, state = ierr.message,
        next = { "Check that " .. p.backup .. " is a complete backup (revive backup inspect)." } }
    end
    local ok, verr = step("verify backup", function() return device.verify_backup{ path = canonical } end)
    if not ok then
      return outcome.needs_person{ tried = { "verify backup" }, state = verr.message,
        next = { "The backup is damaged; nothing was changed on the phone." } }
    end
    local args = { path = canonical }
    if p.password then args.password = p.password end
    local r, err = device.restore_backup(args)
    if not r then
      return outcome.needs_person{ tried = { "restore backup" }, state = err.name .. ": " .. err.message,
        next = { err.name == "wrong_password" and "Run again with --set password=..." or "Run restore-backup again." } }
    end
    rescue.wait_booted(p.boot_wait)
    local well, state = step("verify", rescue.health)
    if not well then
      return outcome.needs_person{ tried = { "restore backup" }, state = state, next = { "Run the interrupted-restore playbook." } }
    end
    return outcome.fixed("the backup is back on the phone")
  end,
}
