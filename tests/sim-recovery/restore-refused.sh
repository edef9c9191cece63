#!/bin/bash
# The restores idevicerestore refuses, with its messages and exit status 255, and the
# phone untouched: unsigned firmware (the signing server says no), an IPSW for another
# product, one missing a component, one that is not a zip, no such device, -l.
. "$(dirname "$0")/lib.sh"

start_sim "$SCENARIOS/unsigned-firmware.json"
"$SIMIPSW" -o "$TMP/fw.ipsw" -p iPhone12,1 -V 17.1 -b 21B74 > /dev/null || fail "sim-ipsw"
"$SIMIPSW" -o "$TMP/other.ipsw" -p iPhone11,8 -V 17.1 -b 21B74 > /dev/null || fail "sim-ipsw other"
"$SIMIPSW" -o "$TMP/noos.ipsw" -p iPhone12,1 -V 17.1 -b 21B74 --omit OS > /dev/null || fail "sim-ipsw --omit"
head -c 3000 /dev/urandom > "$TMP/junk.ipsw"

restore -y "$TMP/fw.ipsw"
expect_rc "unsigned" 255
has "$TMP/errout" "ERROR: TSS request failed (status=94, message=This device isn't eligible for the requested build.)"
has "$TMP/errout" "ERROR: Unable to get SHSH blobs for this device"
grep -q "Entering recovery mode" "$TMP/out" && fail "an unsigned restore touched the phone"
expect_eq "mode after unsigned" "$(field devices.0.mode)" normal
expect_eq "boots after unsigned" "$(field devices.0.boot_count)" 0
log_has 0 'restore-firmware refused: not signed' || fail "the refusal is not in the log"

"$SIMCTL" set sign_refused=false > /dev/null || fail "simctl set"
restore -y "$TMP/other.ipsw"
expect_rc "IPSW for another product" 255
has "$TMP/errout" "ERROR: Could not make sure this firmware is suitable for the current device. Refusing to continue."
restore -y "$TMP/noos.ipsw"
expect_rc "IPSW without its OS image" 255
has "$TMP/errout" "ERROR: Could not find all required components in IPSW $TMP/noos.ipsw"
restore -y "$TMP/junk.ipsw"
expect_rc "not a zip" 255
has "$TMP/errout" "ERROR: Unable to extract BuildManifest from $TMP/junk.ipsw. Firmware file might be corrupt."
restore -y "$TMP/missing.ipsw"
expect_rc "no such file" 255
has "$TMP/errout" "ERROR: Firmware file $TMP/missing.ipsw does not exist."
restore -y -i 0x99 "$TMP/fw.ipsw"
expect_rc "no such device" 255
has "$TMP/errout" "ERROR: Unable to discover device mode. Please make sure a device is attached."
restore -l
expect_rc "-l" 255
grep -q "not simulated" "$TMP/errout" || fail "-l does not say it is not simulated"
expect_eq "mode after the refusals" "$(field devices.0.mode)" normal
expect_eq "boots after the refusals" "$(field devices.0.boot_count)" 0
expect_eq "OS after the refusals" "$(field devices.0.os)" whole
echo "ok"
