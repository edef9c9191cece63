#!/bin/bash
# idevicediagnostics restart reboots the phone (off, then normal again); shutdown leaves it off.
. "$(dirname "$0")/lib.sh"
start_sim "$SCENARIOS/healthy.json"
expect_eq "boot count at start" "$(field devices.0.boot_count)" 0
idevicediagnostics restart > "$TMP/out" 2>&1 || { cat "$TMP/out"; fail "idevicediagnostics restart failed"; }
grep -q "Restarting device" "$TMP/out" || fail "idevicediagnostics restart did not report the restart"
wait_mode 0 normal
expect_eq "boot count after restart" "$(field devices.0.boot_count)" 1
"$SIMCTL" --raw log | grep -q '"[0-9.]* restart"' || fail "the restart is not in the device log"

idevicediagnostics shutdown > "$TMP/out" 2>&1 || { cat "$TMP/out"; fail "idevicediagnostics shutdown failed"; }
wait_mode 0 off
sleep 0.5   # 50 device-seconds: longer than a boot; a shut-down phone must stay off
expect_eq "mode after shutdown" "$(field devices.0.mode)" off
[ -z "$(idevice_id -l)" ] || fail "a phone that is off is still listed by usbmuxd"
"$SIMCTL" --raw power-on > /dev/null || fail "power-on"
expect_eq "mode after power-on" "$(field devices.0.mode)" normal
echo PASS
