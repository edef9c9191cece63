#!/bin/bash
# ideviceenterrecovery puts the phone in recovery with auto-boot false saved in NVRAM, and
# it stays there across a force restart until auto-boot is set back.
. "$(dirname "$0")/lib.sh"
start_sim "$SCENARIOS/healthy.json"
udid=$(field devices.0.udid)
ideviceenterrecovery "$udid" > "$TMP/out" 2>&1 || { cat "$TMP/out"; fail "ideviceenterrecovery failed"; }
expect_eq "mode" "$(field devices.0.mode)" recovery
expect_eq "saved auto-boot" "$(field devices.0.nvram_saved.auto-boot)" false
[ -z "$(idevice_id -l)" ] || fail "a phone in recovery is still listed by usbmuxd"
"$SIMCTL" --raw log | grep -q enter-recovery || fail "enter-recovery is not in the device log"
"$SIMCTL" --raw force-restart > /dev/null || fail "force-restart"
expect_eq "mode after a force restart" "$(field devices.0.mode)" recovery
"$SIMCTL" --raw set 'nvram={"auto-boot":"true"}' nvram_save=true > /dev/null || fail "set nvram"
"$SIMCTL" --raw force-restart > /dev/null || fail "force-restart"
expect_eq "mode after auto-boot true and a restart" "$(field devices.0.mode)" normal
expect_eq "idevice_id after coming back" "$(idevice_id -l)" "$udid"
echo PASS
