#!/bin/bash
# The CLI against a simulated phone, as a user runs it: devices, info, reboot, shutdown, and
# --sim. State is checked through the simulator's control socket, not revive's own word.
. "$REVIVE_SOURCE_DIR/tests/interop/lib.sh"
REVIVE="$REVIVE_BUILD_DIR/revive"
start_sim "$SCENARIOS/healthy.json"
ecid=$(field devices.0.ecid)
udid=$(field devices.0.udid)

out=$("$REVIVE" devices) || fail "revive devices: exit $?"
echo "$out" | grep -q "^normal .*$udid .*iPhone12,1" || fail "revive devices does not list the phone: $out"

"$REVIVE" --json info > "$TMP/info" || fail "revive info: exit $?"
python3 - "$TMP/info" "$udid" <<'PY' || fail "revive --json info"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
res = [e for e in ev if e["type"] == "result"]
assert len(res) == 1, ev
f = res[0]["fields"]
assert f["udid"] == sys.argv[2], f
assert f["product_type"] == "iPhone12,1", f
assert f["mode"] == "normal", f
assert isinstance(f.get("battery_level"), int), f
PY

# A device selector that matches nothing is "no device" (exit 3), with the reason.
"$REVIVE" info 00DEADBEEF > "$TMP/out" 2>&1; rc=$?
expect_eq "exit for an unknown device" "$rc" 3
grep -q "no attached device matches '00DEADBEEF'" "$TMP/out" || fail "unknown device message: $(cat "$TMP/out")"

boots=$(field devices.0.boot_count)
"$REVIVE" reboot "$udid" > "$TMP/out" 2>&1 || fail "revive reboot: $(cat "$TMP/out")"
wait_mode 0 normal
expect_eq "boot count after revive reboot" "$(field devices.0.boot_count)" $((boots + 1))

"$REVIVE" shutdown "${udid:0:12}" > "$TMP/out" 2>&1 || fail "revive shutdown by UDID prefix: $(cat "$TMP/out")"
wait_mode 0 off
"$REVIVE" devices > "$TMP/out" 2>&1; rc=$?
expect_eq "exit of revive devices with the phone off" "$rc" 3

# --sim: a fresh simulator of its own, gone afterwards.
before=$(ls -d /tmp/revive-sim-* 2>/dev/null | wc -l)
out=$("$REVIVE" --sim three-devices --json devices) || fail "revive --sim three-devices devices: exit $?"
n=$(echo "$out" | grep -c '"type":"device"')
[ "$n" -ge 2 ] || fail "--sim three-devices listed $n devices: $out"
after=$(ls -d /tmp/revive-sim-* 2>/dev/null | wc -l)
expect_eq "simulator directories left behind" "$after" "$before"
"$REVIVE" --sim no-such-scenario devices > "$TMP/out" 2>&1; rc=$?
expect_eq "exit for an unknown scenario" "$rc" 2
echo PASS
