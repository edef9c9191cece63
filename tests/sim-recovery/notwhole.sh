#!/bin/bash
# A phone whose OS is not whole (an update restore is needed) does not leave recovery with
# irecovery -n: it reboots, finds the OS broken and comes back in recovery, auto-boot true
# notwithstanding.
. "$(dirname "$0")/lib.sh"

start_sim "$SCENARIOS/boot-loop-needs-update.json"
expect_eq "starts in recovery" "$(field devices.0.mode)" "recovery"
boots=$(field devices.0.boot_count)
irec -n || fail "irecovery -n failed"
for _ in $(seq 1 500); do
    [ "$(field devices.0.boot_count)" -gt "$boots" ] && break
    sleep 0.01
done
[ "$(field devices.0.boot_count)" -gt "$boots" ] || fail "-n did not reboot the phone"
sleep 0.2
expect_eq "mode after -n" "$(field devices.0.mode)" "recovery"
expect_eq "auto-boot was saved" "$(field devices.0.nvram_saved.auto-boot)" "true"
expect_eq "the OS is still broken" "$(field devices.0.os)" "mild"
log_has 0 'boot -> recovery (OS not whole)' || fail "the log does not say why it stayed"
# It is on the recovery bus again, with a fresh enumeration.
expect_eq "irecovery -m after -n" "$(irec -m)" "Recovery Mode"
echo "ok"
