#!/bin/bash
# Backups taken from the simulated phone by the stock idevicebackup2 (libimobiledevice),
# read by itunes-tool: inspect, verify, ls, extract (every file of the phone comes out
# with the phone's own content) and import (which verifies again), for a plain backup and
# an encrypted one (password from REVIVE_BACKUP_PASSWORD; a wrong one is refused).
. "$REVIVE_SOURCE_DIR/tests/interop/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
TOOL="$REVIVE_BUILD_DIR/plugins/itunes/itunes-tool"
[ -x "$TOOL" ] || fail "itunes-tool is not built"
command -v idevicebackup2 > /dev/null || fail "idevicebackup2 (libimobiledevice-utils) is not installed"

start_sim "$HERE/sim_phones.json"
U0=$(field devices.0.udid); U1=$(field devices.1.udid)
# simdevd's pair records carry no EscrowBag, which idevicebackup2 needs (see
# tests/sim-backup/backup_restore.sh for the same step).
for u in "$U0" "$U1"; do
    ideviceinfo -u "$u" -k UniqueDeviceID > /dev/null || fail "ideviceinfo -u $u"
done
python3 - "$SIMDEVD_DIR/pairrecords" <<'PY' || fail "cannot add EscrowBag to the pair records"
import glob, os, plistlib, sys
for p in glob.glob(os.path.join(sys.argv[1], "*.plist")):
    with open(p, "rb") as f:
        rec = plistlib.load(f)
    if "EscrowBag" not in rec:
        rec["EscrowBag"] = os.urandom(32)
        with open(p + ".tmp", "wb") as f:
            plistlib.dump(rec, f)
        os.rename(p + ".tmp", p)
PY

B="$TMP/backups"
mkdir -p "$B"
for u in "$U0" "$U1"; do
    timeout 60 idevicebackup2 -u "$u" backup --full "$B" > "$TMP/backup-$u.out" 2>&1 ||
        { cat "$TMP/backup-$u.out" >&2; fail "idevicebackup2 backup of $u failed"; }
done

check_backup() { # UDID DEVICE_INDEX
    local u=$1 dev=$2 out="$TMP/out-$1"
    "$TOOL" inspect "$B/$u" > "$TMP/inspect" 2>&1 || fail "inspect $u: $(cat "$TMP/inspect")"
    grep -q "^format=itunes-db$" "$TMP/inspect" || fail "inspect $u: $(cat "$TMP/inspect")"
    grep -qi "^udid=$u$" "$TMP/inspect" || fail "inspect $u shows another udid: $(cat "$TMP/inspect")"
    "$TOOL" verify "$B/$u" > "$TMP/verify" 2>&1 || fail "verify $u: $(cat "$TMP/verify")"
    grep -q "^ok=true$" "$TMP/verify" || fail "verify $u: $(cat "$TMP/verify")"
    "$TOOL" extract "$B/$u" "$out" > "$TMP/extract" 2>&1 || fail "extract $u: $(cat "$TMP/extract")"
    # every file of the phone's data comes out with the same content
    local data="$SIMDEVD_DIR/devices/$u/data" n=0
    while IFS= read -r -d '' f; do
        rel=${f#"$data"/}
        [ -f "$out/$rel" ] || fail "extract $u: $rel is missing"
        cmp -s "$f" "$out/$rel" || fail "extract $u: $rel differs from the phone's"
        n=$((n + 1))
    done < <(find "$data" -type f -print0)
    [ "$n" -gt 0 ] || fail "device $dev has no data files under $data"
    echo "extract $u: $n files match the phone"
    "$TOOL" import "$B/$u" "$TMP/imported-$u" > "$TMP/import" 2>&1 || fail "import $u: $(cat "$TMP/import")"
    REVIVE_BACKUP_PASSWORD= "$TOOL" verify "$TMP/imported-$u" | grep -q "^ok=true$" ||
        fail "the import of $u does not verify on its own"
}
[ -d "$SIMDEVD_DIR/devices/$U0/data" ] || fail "no data folder for $U0 (simdevd layout changed?)"

before=$(cd "$B" && find . -type f -print0 | sort -z | xargs -0 sha1sum | sha1sum)
check_backup "$U0" 0
REVIVE_BACKUP_PASSWORD=4321 check_backup "$U1" 1
# without the password: inspect shows what the plists say, verify refuses
"$TOOL" inspect "$B/$U1" > "$TMP/ip" 2>&1 || fail "inspect without a password: $(cat "$TMP/ip")"
grep -q "^locked=true$" "$TMP/ip" && grep -q "^encrypted=true$" "$TMP/ip" ||
    fail "inspect without a password: $(cat "$TMP/ip")"
"$TOOL" verify "$B/$U1" > "$TMP/np" 2>&1 && fail "an encrypted backup verified without a password"
grep -q "password_needed" "$TMP/np" || fail "no password: $(cat "$TMP/np")"
REVIVE_BACKUP_PASSWORD=nope "$TOOL" verify "$B/$U1" > "$TMP/wp" 2>&1 && fail "a wrong password was accepted"
grep -q "wrong_password" "$TMP/wp" || fail "wrong password: $(cat "$TMP/wp")"
after=$(cd "$B" && find . -type f -print0 | sort -z | xargs -0 sha1sum | sha1sum)
[ "$before" = "$after" ] || fail "the backups were modified"
echo "PASS"
