#!/bin/bash
# sim-idevicerestore on a healthy phone with data: an update restore (-P) prints
# idevicerestore's steps and plain progress lines, exits 0 and leaves the phone in normal
# mode at the new version with its data untouched; an erase restore (-e) erases the data
# exactly once; -n stops after finding the phone. sim-ipsw's IPSW is what it reads.
. "$(dirname "$0")/lib.sh"

cat > "$TMP/s.json" <<'JSON'
{ "name": "t-restore", "time_scale": 1000,
  "devices": [ { "product_type": "iPhone12,1", "ecid": "0x1A2B3C4D5E60", "ios_version": "16.7.2",
                 "build_version": "20H115", "data": { "seed": 7, "files": 12, "bytes": 65536 } } ] }
JSON
start_sim "$TMP/s.json"
"$SIMIPSW" -o "$TMP/fw.ipsw" -p iPhone12,1 -V 17.1 -b 21B74 > /dev/null || fail "sim-ipsw failed"
[ -s "$TMP/fw.ipsw" ] || fail "sim-ipsw wrote nothing"
ls "$TMP"/fw.ipsw.tmp.* 2> /dev/null && fail "sim-ipsw left its temporary file"
digest=$(field devices.0.data_digest)
[ -n "$digest" ] && [ "$digest" != null ] || fail "no data digest (data module missing?)"

restore -n -y "$TMP/fw.ipsw"
expect_rc "-n" 0
has "$TMP/out" "Found device in Normal mode"
has "$TMP/out" "Identified device as n104ap, iPhone12,1"
grep -q "Extracting BuildManifest" "$TMP/out" && fail "-n went on to the IPSW"
expect_eq "-n changed nothing" "$(field devices.0.boot_count)" 0
restore -n -u "$(field devices.0.udid)" "$TMP/fw.ipsw"
expect_rc "-n -u UDID" 0
restore -n -i $((0x1A2B3C4D5E60)) "$TMP/fw.ipsw"
expect_rc "-n -i decimal ECID" 0
restore -n -u 00008030-000000000000BEEF "$TMP/fw.ipsw"
expect_rc "-u of no phone" 255
restore -n -i nonsense "$TMP/fw.ipsw"
expect_rc "-i that is no number" 255
has "$TMP/errout" "ERROR: Could not parse ECID from 'nonsense'"

restore -y -P -i 0x1A2B3C4D5E60 "$TMP/fw.ipsw"
expect_rc "update restore" 0
for line in "progress: 0 0.000000" "Found device in Normal mode" "Product Version: 17.1" \
    "Product Build: 21B74 Major: 21" "Variant: Customer Upgrade Install (IPSW)" \
    "This restore will update your device without erasing user data." \
    "All required components found in IPSW" "Entering recovery mode..." \
    "Waiting for device to enter restore mode..." "Sending filesystem now..." "progress: 2 1.000000" \
    "progress: 3 1.000000" "progress: 4 1.000000" "Verifying restore (14)" "Status: Restore Finished" \
    "DONE" "progress: 6 1.000000"; do
    has "$TMP/out" "$line"
done
[ ! -s "$TMP/errout" ] || fail "errors on a good restore: $(cat "$TMP/errout")"
expect_eq "mode after the update" "$(field devices.0.mode)" normal
expect_eq "OS after the update" "$(field devices.0.os)" whole
expect_eq "version after the update" "$(field devices.0.ios_version)" 17.1
expect_eq "build after the update" "$(field devices.0.build_version)" 21B74
expect_eq "auto-boot after the update" "$(field devices.0.nvram_saved.auto-boot)" true
expect_eq "data after an update restore" "$(field devices.0.data_digest)" "$digest"
log_has 0 'mode normal -> recovery.*mode recovery -> restore.*restore-firmware ok (update' ||
    fail "the log does not show normal -> recovery -> restore -> ok"
"$SIMCTL" --raw log device=0 | grep -q '"[0-9.]* erase"' && fail "an update restore erased the data"

# Without -P: progress bars instead of progress lines.
restore -e "$TMP/fw.ipsw"
expect_rc "erase restore" 0
has "$TMP/out" "This restore will erase your device data."
grep -q "^progress:" "$TMP/out" && fail "progress lines without -P"
grep -q '100.0%' "$TMP/out" || fail "no progress bar without -P"
[ "$(field devices.0.data_digest)" != "$digest" ] || fail "the erase restore kept the data"
n=$("$SIMCTL" --raw log device=0 | grep -o '"[0-9.]* erase"' | wc -l)
expect_eq "erases in the log" "$n" 1
expect_eq "mode after the erase" "$(field devices.0.mode)" normal
echo "ok"
