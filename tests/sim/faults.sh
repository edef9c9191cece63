#!/bin/bash
# Timed faults and the phone's own timers, at time_scale 100 (1 device-second = 10 ms):
# an unplug that comes back, a power loss that comes back and boots by NVRAM, a battery
# that dies, and "never" meaning never. Also: every shipped scenario is valid, a broken
# one is refused with a message naming the key.
. "$REVIVE_SOURCE_DIR/tests/interop/lib.sh"

for f in "$SCENARIOS"/*.json; do
    "$SIMDEVD" --check --scenario "$f" > /dev/null || fail "shipped scenario $f does not load"
done
n=$(ls "$SCENARIOS"/*.json | wc -l)
[ "$n" -ge 12 ] || fail "only $n scenarios shipped"
echo '{"devices":[{"ecid":1,"mode":"normal","battery":50,"plugedd":true}]}' > "$TMP/bad.json"
if "$SIMDEVD" --check --scenario "$TMP/bad.json" 2> "$TMP/err"; then fail "a misspelt key was accepted"; fi
grep -q 'unknown key "plugedd"' "$TMP/err" || fail "the error does not name the key: $(cat "$TMP/err")"

# poll PATH VALUE: waits up to 5 s for a field of the state to have a value.
poll() {
    for _ in $(seq 1 500); do
        [ "$(field "$1")" = "$2" ] && return 0
        sleep 0.01
    done
    fail "$1 never became $2 (is $(field "$1"))"
}

# poll_log DEVICE PATTERN: waits up to 5 s for a line of the device's log to match.
poll_log() {
    for _ in $(seq 1 500); do
        "$SIMCTL" --raw log device="$1" | grep -q "$2" && return 0
        sleep 0.01
    done
    fail "device $1's log never showed '$2'"
}

cat > "$TMP/timed.json" <<'JSON'
{ "name": "timed", "time_scale": 100, "boot_seconds": 10,
  "devices": [ { "ecid": 1 }, { "ecid": 2, "nvram": { "auto-boot": "true" } },
               { "ecid": 3, "battery": 2, "charging": false, "low_battery": "dies", "battery_dies_after": 40 },
               { "ecid": 4 } ],
  "faults": [ { "device": 0, "kind": "unplug", "at": 30, "back_after": 40 },
              { "device": 1, "kind": "power-loss", "at": 30, "back_after": 20 },
              { "device": 3, "kind": "unplug", "at": 30, "back_after": "never" } ] }
JSON
start_sim "$TMP/timed.json"
# Device 1 gets auto-boot false set (unsaved) before its power loss: power loss forgets it.
"$SIMCTL" --raw set device=1 'nvram={"auto-boot":"false"}' > /dev/null || fail "set nvram"
# The windows are short in real time, so the log (not a poll of the state) proves the order.
poll_log 0 '"[0-9.]* plug"'
"$SIMCTL" --raw log device=0 | grep -q '"[0-9.]* unplug",.*"[0-9.]* plug"' || fail "unplug then plug, in that order"
poll_log 1 'power on'
"$SIMCTL" --raw log device=1 | grep -q 'fault power-loss (at 30.0s)",.*mode normal -> off",.*power on",.*mode off -> normal' ||
    fail "power loss, off, power on, normal: not in that order"
poll devices.1.mode normal
expect_eq "unsaved NVRAM after a power loss" "$(field devices.1.nvram.auto-boot)" true
poll devices.2.mode off
expect_eq "battery after dying" "$(field devices.2.battery)" 0
poll devices.3.plugged false
sleep 0.5
expect_eq "an unplug that never comes back" "$(field devices.3.plugged)" false
"$SIMCTL" --raw log device=0 | grep -q 'fault unplug (at 30.0s)' || fail "the unplug is not in the log"

# A person's hands: DFU buttons, then a force restart out of DFU boots by NVRAM and OS.
"$SIMCTL" --raw dfu-buttons device=0 > /dev/null || fail "dfu-buttons"
expect_eq "mode after the DFU buttons" "$(field devices.0.mode)" dfu
"$SIMCTL" --raw set device=0 os=needs-dfu > /dev/null || fail "set os"
"$SIMCTL" --raw force-restart device=0 > /dev/null || fail "force-restart"
expect_eq "a phone that needs DFU boots to recovery" "$(field devices.0.mode)" recovery
echo PASS
