#!/bin/bash
# ideviceinfo (full dictionary, single keys, and -q domains) reports the scenario's values.
. "$(dirname "$0")/lib.sh"
start_sim "$SCENARIOS/healthy.json"
info=$(ideviceinfo) || fail "ideviceinfo failed"
get() { printf '%s\n' "$info" | sed -n "s/^$1: //p"; }
expect_eq ProductType "$(get ProductType)" iPhone12,1
expect_eq ProductVersion "$(get ProductVersion)" 16.7.2
expect_eq BuildVersion "$(get BuildVersion)" 20H115
expect_eq SerialNumber "$(get SerialNumber)" F2LXK0ABHG7F
expect_eq DeviceName "$(get DeviceName)" "Alice's iPhone"
expect_eq HardwareModel "$(get HardwareModel)" N104AP
expect_eq UniqueDeviceID "$(get UniqueDeviceID)" "$(field devices.0.udid)"
expect_eq UniqueChipID "$(get UniqueChipID)" "$((0x1A2B3C4D5E6F))"
expect_eq ActivationState "$(get ActivationState)" Activated
expect_eq "ideviceinfo -k ProductVersion" "$(ideviceinfo -k ProductVersion)" 16.7.2

bat=$(ideviceinfo -q com.apple.mobile.battery) || fail "ideviceinfo -q battery failed"
expect_eq BatteryCurrentCapacity "$(printf '%s\n' "$bat" | sed -n 's/^BatteryCurrentCapacity: //p')" 80
expect_eq BatteryIsCharging "$(printf '%s\n' "$bat" | sed -n 's/^BatteryIsCharging: //p')" true

disk=$(ideviceinfo -q com.apple.disk_usage) || fail "ideviceinfo -q disk_usage failed"
expect_eq TotalDiskCapacity "$(printf '%s\n' "$disk" | sed -n 's/^TotalDiskCapacity: //p')" 68719476736
expect_eq AmountDataAvailable "$(printf '%s\n' "$disk" | sed -n 's/^AmountDataAvailable: //p')" 21474836480
expect_eq WillEncrypt "$(ideviceinfo -q com.apple.mobile.backup -k WillEncrypt)" false

# A change made through the control socket shows in the next query.
"$SIMCTL" --raw set battery=15 charging=false > /dev/null || fail "simctl set"
expect_eq "battery after set" "$(ideviceinfo -q com.apple.mobile.battery -k BatteryCurrentCapacity)" 15
expect_eq "charging after set" "$(ideviceinfo -q com.apple.mobile.battery -k BatteryIsCharging)" false
"$SIMCTL" --raw set backup_password=secret > /dev/null || fail "simctl set"
expect_eq "WillEncrypt with a backup password" "$(ideviceinfo -q com.apple.mobile.backup -k WillEncrypt)" true
echo PASS
