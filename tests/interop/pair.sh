#!/bin/bash
# Pairing with a phone that never saw this host: the Trust dialog is pending until the
# person taps Trust; Don't Trust makes pairing fail; a paired host validates.
. "$(dirname "$0")/lib.sh"
start_sim "$SCENARIOS/untrusted-host.json"
udid=$(field devices.0.udid)

if ideviceinfo -k ProductType > "$TMP/out" 2>&1; then fail "ideviceinfo worked on an untrusted phone"; fi
grep -q "Pairing dialog response pending" "$TMP/out" || { cat "$TMP/out"; fail "ideviceinfo did not report the pending Trust dialog"; }
expect_eq "trust dialog showing" "$(field devices.0.trust_pending)" true

if idevicepair pair > "$TMP/out" 2>&1; then fail "idevicepair pair succeeded before Trust was tapped"; fi
grep -q "accept the trust dialog" "$TMP/out" || { cat "$TMP/out"; fail "idevicepair did not ask to accept the dialog"; }

"$SIMCTL" --raw trust answer=deny > /dev/null || fail "simctl trust answer=deny"
if idevicepair pair > "$TMP/out" 2>&1; then fail "idevicepair pair succeeded after Don't Trust"; fi
grep -q "denied" "$TMP/out" || { cat "$TMP/out"; fail "idevicepair did not report the denial"; }

if idevicepair pair > "$TMP/out" 2>&1; then fail "pairing succeeded without a new dialog"; fi
"$SIMCTL" --raw trust > /dev/null || fail "simctl trust"
idevicepair pair > "$TMP/out" 2>&1 || { cat "$TMP/out"; fail "idevicepair pair failed after Trust"; }
grep -q "SUCCESS: Paired with device $udid" "$TMP/out" || fail "idevicepair did not report success"
[ -f "$TMP/sim/pairrecords/$udid.plist" ] || fail "no pair record was saved through usbmuxd"
idevicepair validate > "$TMP/out" 2>&1 || { cat "$TMP/out"; fail "idevicepair validate failed"; }
grep -q "SUCCESS: Validated pairing" "$TMP/out" || fail "validate did not report success"
expect_eq "ideviceinfo after pairing" "$(ideviceinfo -k DeviceName)" "Bob's iPhone"
expect_eq "paired" "$(field devices.0.paired)" true

# The person resets the phone's trust settings: this host is a stranger again.
"$SIMCTL" --raw set paired=false > /dev/null || fail "simctl set paired=false"
if ideviceinfo -k DeviceName > "$TMP/out" 2>&1; then fail "ideviceinfo worked after the phone forgot this host"; fi
"$SIMCTL" --raw set paired=true > /dev/null || fail "simctl set paired=true"
expect_eq "ideviceinfo once trusted again" "$(ideviceinfo -k DeviceName)" "Bob's iPhone"

# Trust tapped by the scenario after a delay (device time; time_scale 100).
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; SIM_PID=
cat > "$TMP/delayed.json" <<'JSON'
{ "name": "delayed-trust", "time_scale": 100,
  "devices": [ { "ecid": "0x55", "paired": false, "trust_after": 5 } ] }
JSON
start_sim "$TMP/delayed.json"
if idevicepair pair > /dev/null 2>&1; then fail "pairing succeeded before the delayed Trust"; fi
sleep 0.3
idevicepair pair > "$TMP/out" 2>&1 || { cat "$TMP/out"; fail "pairing failed after the delayed Trust"; }

# A phone with a passcode: pairing says so until the person taps Trust (and enters it).
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; SIM_PID=
cat > "$TMP/passcode.json" <<'JSON'
{ "name": "passcode", "time_scale": 100, "devices": [ { "ecid": "0x56", "paired": false, "passcode": true } ] }
JSON
start_sim "$TMP/passcode.json"
if idevicepair pair > "$TMP/out" 2>&1; then fail "pairing succeeded with a locked phone"; fi
grep -q "passcode is set" "$TMP/out" || { cat "$TMP/out"; fail "idevicepair did not report the passcode"; }
"$SIMCTL" --raw trust > /dev/null || fail "simctl trust"
idevicepair pair > "$TMP/out" 2>&1 || { cat "$TMP/out"; fail "pairing failed after Trust with a passcode"; }
expect_eq "PasswordProtected" "$(ideviceinfo -k PasswordProtected)" true
echo PASS
