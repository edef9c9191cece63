#!/bin/bash
# A phone in DFU mode: listed as DFU with the SecureROM's serial string; iBoot commands
# stall (no NVRAM change); a file sent with irecovery -f goes through the DFU state
# machine (blocks, status, CRC suffix, manifest, reset) and boots, so the phone comes back
# in recovery mode; there a file goes by bulk upload and "go" jumps to it.
. "$(dirname "$0")/lib.sh"

cat > "$TMP/dfu.json" <<'JSON'
{ "name": "t-dfu", "time_scale": 100,
  "devices": [ { "product_type": "iPhone12,1", "ecid": "0x1A2B3C4D5E75", "mode": "dfu", "os": "needs-dfu" } ] }
JSON
start_sim "$TMP/dfu.json"

irec -q > "$TMP/q" || fail "irecovery -q failed"
grep -qx "MODE: DFU" "$TMP/q" || fail "MODE: $(cat "$TMP/q")"
grep -qx "ECID: 0x00001a2b3c4d5e75" "$TMP/q" || fail "ECID: $(cat "$TMP/q")"
grep -q "^SRTG: iBoot-" "$TMP/q" || fail "SRTG: $(cat "$TMP/q")"
expect_eq "irecovery -m" "$(irec -m)" "DFU Mode"

irec -c "setenv boot-args -v" || true
expect_eq "DFU has no iBoot to set NVRAM" "$(field devices.0.nvram.boot-args)" ""

# 5000 bytes: two full 0x800 blocks and a short last one that carries the suffix.
head -c 5000 /dev/urandom > "$TMP/ibss"
irec -f "$TMP/ibss" > "$TMP/f" 2>&1 || fail "irecovery -f in DFU: $(cat "$TMP/f")"
wait_mode 0 recovery
log_has 0 'dfu: image of 5000 bytes received, CRC ok' || fail "the DFU upload was not verified"
log_has 0 'dfu: reset, booting the 5000-byte image' || fail "the image was not booted"
expect_eq "irecovery -m after the iBSS" "$(irec -m)" "Recovery Mode"

# In recovery: a bulk upload, then go.
head -c 70000 /dev/urandom > "$TMP/ibec"
irec -f "$TMP/ibec" > "$TMP/f2" 2>&1 || fail "irecovery -f in recovery: $(cat "$TMP/f2")"
irec -c go || fail "irecovery -c go"
log_has 0 'iboot: go (jumps to the 70000-byte image' || fail "go did not jump to the uploaded image"
irec -c go || fail "irecovery -c go (again)"
log_has 0 'iboot: go refused: no image uploaded' || fail "a second go found an image"

# An unplug in the middle of a DFU upload (scenario fault on op "upload"): the image never
# boots, the phone is back in DFU after the replug, and a second upload works.
stop_sim
cat > "$TMP/cut.json" <<'JSON'
{ "name": "t-dfu-cut", "time_scale": 100,
  "devices": [ { "product_type": "iPhone12,1", "ecid": "0x1A2B3C4D5E76", "mode": "dfu" } ],
  "faults": [ { "device": 0, "kind": "unplug", "op": "upload", "at_bytes": 3000, "back_after": 5 } ] }
JSON
start_sim "$TMP/cut.json"
irec -f "$TMP/ibss" > "$TMP/f3" 2>&1 || true
log_has 0 'fault unplug (upload at 4096/0)' || fail "the unplug did not fire in the upload"
poll devices.0.plugged true
expect_eq "mode after the cut upload" "$(field devices.0.mode)" dfu
log_has 0 'CRC ok' && fail "a cut upload was accepted"
irec -f "$TMP/ibss" > "$TMP/f4" 2>&1 || fail "irecovery -f after the replug: $(cat "$TMP/f4")"
wait_mode 0 recovery
echo "ok"
