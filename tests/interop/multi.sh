#!/bin/bash
# Three phones at once: each answers with its own values, and what is done to one
# (recovery, a restart) leaves the others alone.
. "$(dirname "$0")/lib.sh"
start_sim "$SCENARIOS/three-devices.json"
u0=$(field devices.0.udid); u1=$(field devices.1.udid); u2=$(field devices.2.udid)
[ "$u0" != "$u1" ] || fail "two devices share a UDID"
expect_eq "device 0 name" "$(ideviceinfo -u "$u0" -k DeviceName)" "Bench 1"
expect_eq "device 1 name" "$(ideviceinfo -u "$u1" -k DeviceName)" "Bench 2"
expect_eq "device 1 model" "$(ideviceinfo -u "$u1" -k ProductType)" "iPhone10,3"
expect_eq "device 1 version" "$(ideviceinfo -u "$u1" -k ProductVersion)" "15.8"
expect_eq "device 1 battery" "$(ideviceinfo -u "$u1" -q com.apple.mobile.battery -k BatteryCurrentCapacity)" 55
if ideviceinfo -u "$u2" -k DeviceName > /dev/null 2>&1; then fail "a phone in recovery answered lockdown"; fi

ideviceenterrecovery "$u0" > /dev/null 2>&1 || fail "ideviceenterrecovery $u0"
expect_eq "device 0 mode" "$(field devices.0.mode)" recovery
expect_eq "device 1 untouched" "$(field devices.1.mode)" normal
expect_eq "device 1 auto-boot untouched" "$(field devices.1.nvram_saved.auto-boot)" true
expect_eq "idevice_id -l now" "$(idevice_id -l)" "$u1"
idevicediagnostics -u "$u1" restart > /dev/null 2>&1 || fail "restart $u1"
wait_mode 1 normal
expect_eq "device 1 rebooted once" "$(field devices.1.boot_count)" 1
expect_eq "device 2 never booted" "$(field devices.2.boot_count)" 0
"$SIMCTL" --raw log device=2 | grep -q restart && fail "device 2's log shows device 1's restart"
echo PASS
