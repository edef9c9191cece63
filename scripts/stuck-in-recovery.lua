--[[
stuck-in-recovery — a phone that boots into recovery mode (a computer and a cable on the
screen) every time. Nothing here erases: it tries the gentle remedies only.

  1. diagnose;
  2. exit recovery (which also turns auto-boot back on);
  3. a force restart, guided for this model;
  4. an update restore, which reinstalls iOS and keeps the data;
  then "needs a person" (the next step is an erase: run interrupted-restore or
  factory-reset, which ask before erasing).

Parameters:
  firmware  string   "latest"  firmware path, URL or catalog query for the update
  boot_wait integer  300       seconds to wait for a boot after a remedy

Policy: nothing destructive.
]]
local rescue = require("revive.rescue")

return playbook {
  name = "stuck-in-recovery",
  summary = "Get a phone out of a recovery-mode loop without erasing it",
  params = {
    firmware = { type = "string", default = "latest", doc = "firmware for the update restore" },
    boot_wait = { type = "integer", default = 300, doc = "seconds to wait for a boot" },
  },
  policy = {},

  run = function(p)
    local well, state = step("diagnose", rescue.health)
    if well then return outcome.fixed("the phone already boots") end
    log("the phone is in %s mode", state)

    local well_now, report = ladder {
      name = "recovery loop",
      check = rescue.health,
      { name = "exit recovery",
        run = function()
          local ok, err = device.exit_recovery()
          if not ok then return nil, err end
          return rescue.wait_booted(p.boot_wait)
        end },
      { name = "force restart",
        run = function()
          local ok, err = person.force_restart()
          if not ok then return nil, err end
          return rescue.wait_booted(p.boot_wait)
        end },
      { name = "update restore (keeps data)",
        run = function()
          local fw, err = rescue.firmware(p.firmware)
          if not fw then return nil, err end
          local r, rerr = device.restore_firmware{ firmware = fw, erase = false }
          if not r then return nil, rerr end
          return rescue.wait_booted(p.boot_wait)
        end },
    }
    if well_now then return outcome.fixed("out of recovery (" .. report.by .. ")") end
    return rescue.needs_person(report,
      "The next remedy erases the phone: run the interrupted-restore or factory-reset playbook, which asks first.")
  end,
}
