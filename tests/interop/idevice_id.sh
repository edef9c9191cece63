#!/bin/bash
# idevice_id -l lists exactly the simulated devices that are in normal mode.
. "$(dirname "$0")/lib.sh"
start_sim "$SCENARIOS/healthy.json"
out=$(idevice_id -l) || fail "idevice_id -l failed"
expect_eq "idevice_id -l" "$out" "$(field devices.0.udid)"

kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; SIM_PID=
start_sim "$SCENARIOS/three-devices.json"
out=$(idevice_id -l | sort) || fail "idevice_id -l failed"
want=$(printf '%s\n%s\n' "$(field devices.0.udid)" "$(field devices.1.udid)" | sort)
expect_eq "idevice_id -l (device 2 is in recovery, so not listed)" "$out" "$want"
"$SIMCTL" --raw unplug device=1 > /dev/null || fail "unplug"
out=$(idevice_id -l)
expect_eq "idevice_id -l after unplugging device 1" "$out" "$(field devices.0.udid)"
echo PASS
