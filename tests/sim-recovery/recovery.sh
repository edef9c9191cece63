#!/bin/bash
# irecovery against a phone stuck in recovery (auto-boot false, OS whole): -q shows the
# simulated chip, board, ECID and mode; -c setenv/saveenv change NVRAM as iBoot does (set
# first, saved only by saveenv); -n (auto-boot true, saveenv, reboot) brings it to normal.
. "$(dirname "$0")/lib.sh"

start_sim "$SCENARIOS/stuck-in-recovery.json"

irec -q > "$TMP/q" || fail "irecovery -q failed: $(cat "$TMP/q")"
grep -qx "CPID: 0x8030" "$TMP/q" || fail "CPID: $(cat "$TMP/q")"
grep -qx "BDID: 0x04" "$TMP/q" || fail "BDID: $(cat "$TMP/q")"
grep -qx "ECID: 0x00001a2b3c4d5e70" "$TMP/q" || fail "ECID: $(cat "$TMP/q")"
grep -qx "MODE: Recovery" "$TMP/q" || fail "MODE: $(cat "$TMP/q")"
grep -q "^NONC: [0-9a-f]\{64\}$" "$TMP/q" || fail "NONC: $(cat "$TMP/q")"
grep -qx "SRNM: $(field devices.0.serial)" "$TMP/q" || fail "SRNM: $(cat "$TMP/q")"
expect_eq "irecovery -m" "$(irec -m)" "Recovery Mode"

irec -c "setenv boot-args -v" || fail "irecovery -c setenv"
expect_eq "boot-args set" "$(field devices.0.nvram.boot-args)" "-v"
expect_eq "boot-args not saved yet" "$(field devices.0.nvram_saved.boot-args)" ""
irec -c "setenv auto-boot true" || fail "irecovery -c setenv auto-boot"
irec -c saveenv || fail "irecovery -c saveenv"
expect_eq "auto-boot saved" "$(field devices.0.nvram_saved.auto-boot)" "true"
expect_eq "boot-args saved" "$(field devices.0.nvram_saved.boot-args)" "-v"
expect_eq "still in recovery before the reboot" "$(field devices.0.mode)" "recovery"

# Back to auto-boot false (saved), so that -n itself has to set it.
irec -c "setenv auto-boot false" && irec -c saveenv || fail "reset auto-boot"
expect_eq "auto-boot false saved" "$(field devices.0.nvram_saved.auto-boot)" "false"
boots=$(field devices.0.boot_count)
irec -n || fail "irecovery -n failed"
wait_mode 0 normal
expect_eq "auto-boot after -n" "$(field devices.0.nvram_saved.auto-boot)" "true"
[ "$(field devices.0.boot_count)" -gt "$boots" ] || fail "-n did not reboot the phone"
log_has 0 'iboot: setenv auto-boot true.*iboot: saveenv.*iboot: reboot.*boot -> normal' ||
    fail "the log does not show setenv, saveenv, reboot, boot to normal in order"
# A phone in normal mode is not on the recovery bus any more.
if irec -m > "$TMP/m2" 2>&1; then fail "irecovery still sees a phone in normal mode: $(cat "$TMP/m2")"; fi
echo "ok"
