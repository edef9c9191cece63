#!/bin/bash
# The issue's interop chain with the stock tools: ideviceenterrecovery puts a healthy phone
# in recovery (usbmuxd no longer lists it), irecovery -q finds it there with its ECID,
# irecovery -n brings it back, and idevice_id/ideviceinfo see it in normal mode again.
. "$(dirname "$0")/lib.sh"

start_sim "$SCENARIOS/healthy.json"
udid=$(field devices.0.udid)
ideviceenterrecovery "$udid" > "$TMP/enter" 2>&1 || fail "ideviceenterrecovery: $(cat "$TMP/enter")"
wait_mode 0 recovery
[ -z "$(idevice_id -l)" ] || fail "usbmuxd still lists a phone in recovery"
irec -q > "$TMP/q" || fail "irecovery -q"
grep -qx "MODE: Recovery" "$TMP/q" || fail "MODE: $(cat "$TMP/q")"
grep -qx "ECID: 0x00001a2b3c4d5e6f" "$TMP/q" || fail "ECID: $(cat "$TMP/q")"
expect_eq "auto-boot after EnterRecovery" "$(field devices.0.nvram_saved.auto-boot)" false
irec -n || fail "irecovery -n"
wait_mode 0 normal
for _ in $(seq 1 200); do
    [ "$(idevice_id -l)" = "$udid" ] && break
    sleep 0.01
done
expect_eq "idevice_id -l after irecovery -n" "$(idevice_id -l)" "$udid"
expect_eq "ProductType after coming back" "$(ideviceinfo -u "$udid" -k ProductType)" iPhone12,1
log_has 0 'enter-recovery.*iboot: setenv auto-boot true.*iboot: saveenv.*iboot: reboot.*boot -> normal' ||
    fail "the log does not show the chain in order"
echo "ok"
