#!/bin/bash
# Restores that go wrong on the phone's side. The shipped interrupted-restore scenario:
# power lost at 40% (in the filesystem upload) -> exit 255, the phone comes back in
# recovery with auto-boot false and its OS not whole, and a second update restore fixes
# it. An OS that needs an erase fails an update restore (255) and then takes an erase.
# A phone that needs DFU cannot be restored from recovery (254) but can from DFU. An
# battery that refuses long operations makes restored refuse (255, back to recovery). An
# unplug late in the restore (verification) is exit 245 and leaves the phone in recovery.
. "$(dirname "$0")/lib.sh"

"$SIMIPSW" -o "$TMP/fw.ipsw" -p iPhone12,1 -V 17.1 -b 21B74 > /dev/null || fail "sim-ipsw"

start_sim "$SCENARIOS/interrupted-restore.json"
restore -y "$TMP/fw.ipsw"
expect_rc "power loss at 40%" 255
has "$TMP/errout" "ERROR: Unable to restore device"
log_has 0 'fault power-loss (firmware-restore at 400/1000)' || fail "the power loss did not fire at 40%"
wait_mode 0 recovery
expect_eq "auto-boot after the power loss" "$(field devices.0.nvram_saved.auto-boot)" false
expect_eq "OS after the power loss" "$(field devices.0.os)" mild
restore -y "$TMP/fw.ipsw"
expect_rc "retry from recovery" 0
has "$TMP/out" "Found device in Recovery mode"
expect_eq "mode after the retry" "$(field devices.0.mode)" normal
expect_eq "OS after the retry" "$(field devices.0.os)" whole
stop_sim

# The shipped scenarios at ten times their speed (the outcome does not depend on it).
fast() { sed 's/"time_scale": *100,/"time_scale": 1000,/' "$SCENARIOS/$1.json" > "$TMP/$1.json"; echo "$TMP/$1.json"; }

start_sim "$(fast corrupt-needs-erase)"
restore -y "$TMP/fw.ipsw"
expect_rc "update of a severely damaged OS" 255
has "$TMP/out" "Status: Failed to mount filesystems."
wait_mode 0 recovery
expect_eq "OS after the failed update" "$(field devices.0.os)" severe
restore -y -e "$TMP/fw.ipsw"
expect_rc "erase of a severely damaged OS" 0
expect_eq "mode after the erase" "$(field devices.0.mode)" normal
expect_eq "OS after the erase" "$(field devices.0.os)" whole
stop_sim

start_sim "$(fast needs-dfu)"
restore -y -e "$TMP/fw.ipsw"
expect_rc "restore from recovery of a phone that needs DFU" 254
has "$TMP/errout" "ERROR: Device did not reconnect in recovery mode. Possibly invalid iBEC. Reset device and try again."
"$SIMCTL" dfu-buttons > /dev/null || fail "simctl dfu-buttons"
wait_mode 0 dfu
restore -y -e "$TMP/fw.ipsw"
expect_rc "restore from DFU" 0
has "$TMP/out" "Found device in DFU mode"
has "$TMP/out" "Sending iBSS (4096 bytes)..."
expect_eq "mode after the DFU restore" "$(field devices.0.mode)" normal
expect_eq "OS after the DFU restore" "$(field devices.0.os)" whole
stop_sim

start_sim "$SCENARIOS/low-battery.json"
restore -y -i 0x1A2B3C4D5E78 "$TMP/fw.ipsw"
expect_rc "a battery that refuses" 255
has "$TMP/out" "Status: Fail"
wait_mode 0 recovery
expect_eq "OS after the battery refusal" "$(field devices.0.os)" whole
log_has 0 'restored: battery too low (3%), restore refused' || fail "the refusal is not in the log"
stop_sim

cat > "$TMP/unplug.json" <<'JSON'
{ "name": "t-unplug", "time_scale": 1000, "devices": [ { "product_type": "iPhone12,1", "ecid": "0x1A2B3C4D5E61" } ],
  "faults": [ { "device": 0, "kind": "unplug", "op": "firmware-restore", "at_percent": 70, "back_after": 5 } ] }
JSON
start_sim "$TMP/unplug.json"
restore -y "$TMP/fw.ipsw"
expect_rc "unplugged during verification" 245
has "$TMP/errout" "ERROR: Could not read data (-3). Aborting."
poll devices.0.plugged true
wait_mode 0 recovery
expect_eq "OS after the unplug" "$(field devices.0.os)" mild
echo "ok"
