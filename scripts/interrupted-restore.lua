--[[
interrupted-restore — bring back a phone whose restore was cut off (power failure, pulled
cable, cancel), doing what a good technician does, in order, and stopping as soon as the
phone boots:

  1. diagnose: which mode is the phone in, and does it answer?
  2. take a backup while the phone can still be read (normal mode);
  3. exit recovery (the phone may only be waiting with auto-boot off);
  4. retry the restore, keeping the data (an update restore with the same firmware);
  5. an update restore with freshly fetched firmware (the first file may be damaged);
  6. a force restart, guided step by step for this model;
  7. DFU mode (guided) and an update restore from there;
  8. a factory reset (erase and restore) — only with the person's consent — and then
     the backup from step 2 put back;
  and after every remedy a check: is the phone in normal mode and answering? When the
  phone keeps dropping off the bus, the person is asked to change the cable and use a
  port on the computer itself before the remedy is tried again. When every remedy is
  spent: "needs a person", with what was tried, the phone's state and the next step.

Parameters:
  firmware  string   "latest"  a firmware path, URL, source query, or latest/version/build
  attempts  integer  2         tries of each restore when the error is worth retrying
  boot_wait integer  300       seconds to wait for the phone to boot after a remedy

Policy: erase, factory_reset and restore_backup allowed; each still needs consent (or
--yes), and a backup is taken first whenever the phone can be read.
]]
local rescue = require("revive.rescue")

local WORTH_RETRYING = { "disconnected", "timeout", "protocol", "busy", "io", "checksum" }

return playbook {
  name = "interrupted-restore",
  summary = "Rescue a phone whose restore was interrupted: the whole escalation ladder",
  params = {
    firmware = { type = "string", default = "latest", doc = "firmware path, URL or catalog query" },
    attempts = { type = "integer", default = 2, doc = "tries per restore for errors worth retrying" },
    boot_wait = { type = "integer", default = 300, doc = "seconds to wait for a boot after a remedy" },
  },
  policy = { erase = true, factory_reset = true, restore_backup = true },

  run = function(p)
    local well, state = step("diagnose", rescue.health)
    log("the phone is %s", state)
    if well then return outcome.fixed("the phone already boots; nothing to do") end

    local backup = rescue.backup_if_readable()

    local function restore(firmware, erase)
      return retry({ attempts = p.attempts, backoff = 5, retry_on = WORTH_RETRYING }, function()
        local r, err = device.restore_firmware{ firmware = firmware, erase = erase }
        if not r then return nil, err end
        return rescue.wait_booted(p.boot_wait)
      end)
    end

    local function booted_after(ok, err)
      if not ok then return nil, err end
      return rescue.wait_booted(p.boot_wait)
    end

    local firmware
    local function firmware_path()
      if firmware then return firmware end
      local fw, err = rescue.firmware(p.firmware)
      firmware = fw
      return fw, err
    end

    local well_now, report = ladder {
      name = "rescue",
      check = rescue.health,
      { name = "exit recovery",
        when = function(st) return st == "recovery" end,
        run = function() return booted_after(device.exit_recovery()) end },
      { name = "retry the restore",
        when = function(st) return st == "recovery" or st == "restore" end,
        run = function()
          local fw, err = firmware_path()
          if not fw then return nil, err end
          return restore(fw, false)
        end },
      { name = "update restore with fresh firmware",
        run = function()
          local fw, err = rescue.firmware(p.firmware, true)
          if not fw then return nil, err end
          return restore(fw, false)
        end },
      { name = "force restart",
        run = function() return booted_after(person.force_restart()) end },
      { name = "DFU restore",
        run = function()
          local ok, err = person.dfu()
          if not ok then return nil, err end
          local fw, ferr = firmware_path()
          if not fw then return nil, ferr end
          return restore(fw, false)
        end },
      { name = "factory reset",
        run = function()
          local fw, err = firmware_path()
          if not fw then return nil, err end
          local r, rerr = device.factory_reset{ firmware = fw }
          if not r then return nil, rerr end
          local ok, berr = rescue.wait_booted(p.boot_wait)
          if not ok then return nil, berr end
          if backup then
            return device.restore_backup{ path = backup }
          end
          return true
        end },
    }

    if well_now then
      return outcome.fixed("the phone boots again (" .. report.by .. ")"
        .. (backup and "; a backup was taken first: " .. backup or ""))
    end
    return rescue.needs_person(report, backup and ("The phone's data is safe in the backup " .. backup .. ".") or nil)
  end,
}
