#!/bin/bash
# The issue's round trip with the stock tools: ideviceenterrecovery, then irecovery -q sees
# the phone in recovery (through libsimusb), then irecovery -n brings it back to normal.
. "$(dirname "$0")/lib.sh"
SIMUSB="$REVIVE_BUILD_DIR/libsimusb.so"
[ -f "$SIMUSB" ] || fail "libsimusb.so is not built at $SIMUSB"
start_sim "$SCENARIOS/healthy.json"
udid=$(field devices.0.udid)
ideviceenterrecovery "$udid" > "$TMP/out" 2>&1 || { cat "$TMP/out"; fail "ideviceenterrecovery failed"; }
expect_eq "mode" "$(field devices.0.mode)" recovery

LD_PRELOAD="$SIMUSB" irecovery -q > "$TMP/q" 2>&1 || { cat "$TMP/q"; fail "irecovery -q failed"; }
grep -qi "^MODE: Recovery" "$TMP/q" || { cat "$TMP/q"; fail "irecovery -q does not say recovery mode"; }
grep -qi "^ECID: 0x0*1a2b3c4d5e6f$" "$TMP/q" || { cat "$TMP/q"; fail "irecovery -q shows the wrong ECID"; }
grep -qi "^CPID: 0x8030$" "$TMP/q" || { cat "$TMP/q"; fail "irecovery -q shows the wrong CPID"; }

LD_PRELOAD="$SIMUSB" irecovery -n > "$TMP/n" 2>&1 || { cat "$TMP/n"; fail "irecovery -n failed"; }
wait_mode 0 normal
expect_eq "saved auto-boot after irecovery -n" "$(field devices.0.nvram_saved.auto-boot)" true
expect_eq "idevice_id after coming back" "$(idevice_id -l)" "$udid"
"$SIMCTL" --raw log | grep -q 'enter-recovery' || fail "enter-recovery not logged"
echo PASS
