#!/bin/bash
# The stock idevicebackup2 (libimobiledevice 1.3.0) against simdevd's mobilebackup2:
# a full backup that `info` and `list` read back and whose Manifest.db describes every
# file of the phone with the right SHA-1s; a restore of it into a second phone that then
# holds the same data (same digest); and the failures a phone reports: an unplug half
# way through a restore, a corrupted file in the backup, a phone without room. A phone
# with a backup password, whose encrypted backup an independent reader decrypts and which
# restores into another phone with the password (and not without, or with a wrong one).
# In every failure the target phone's data is unchanged.
. "$REVIVE_SOURCE_DIR/tests/interop/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

# poll_log DEVICE PATTERN: true once a line of the device's log matches (within 10 s).
poll_log() {
    for _ in $(seq 1 1000); do
        "$SIMCTL" --raw log device="$1" | grep -q "$2" && return 0
        sleep 0.01
    done
    return 1
}
command -v idevicebackup2 > /dev/null || fail "idevicebackup2 (libimobiledevice-utils) is not installed"
command -v python3 > /dev/null || fail "python3 is needed to check Manifest.db"
python3 -c "import cryptography" 2> /dev/null || fail "python3-cryptography is needed to decrypt the encrypted backup independently"

start_sim "$HERE/phones.json"
B="$TMP/backup"
mkdir -p "$B"
U0=$(field devices.0.udid); U1=$(field devices.1.udid); U2=$(field devices.2.udid)
U3=$(field devices.3.udid); U4=$(field devices.4.udid); U5=$(field devices.5.udid)
U6=$(field devices.6.udid); U7=$(field devices.7.udid)

# Work around: simdevd's default pair records carry no EscrowBag, and idevicebackup2
# starts mobilebackup2 with lockdownd_start_service_with_escrow_bag, which refuses
# without one. Real pair records have it (the phone returns it from Pair). Make the
# records exist, then add a bag if the core did not write one.
for u in "$U0" "$U1" "$U2" "$U3" "$U4" "$U5" "$U6" "$U7"; do
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

D0=$(field devices.0.data_digest); D1=$(field devices.1.data_digest)
D2=$(field devices.2.data_digest); D3=$(field devices.3.data_digest); D4=$(field devices.4.data_digest)
[ ${#D0} -eq 64 ] || fail "device 0 has no data digest: '$D0'"
[ "$D0" != "$D1" ] || fail "the two phones start with the same data"

# --- backup -------------------------------------------------------------------------
# A leftover of an earlier backup that this phone no longer has must not survive a full
# backup; files of the host's own (Info.plist) must.
STALE="$B/$U0/ff/ffffffffffffffffffffffffffffffffffffffff"
mkdir -p "$(dirname "$STALE")"
echo stale > "$STALE"
timeout 60 idevicebackup2 -u "$U0" backup --full "$B" > "$TMP/backup.out" 2>&1 ||
    { cat "$TMP/backup.out" >&2; fail "idevicebackup2 backup exited with $?"; }
grep -q "Backup Successful." "$TMP/backup.out" || { cat "$TMP/backup.out" >&2; fail "backup not successful"; }
"$SIMCTL" --raw log device=0 | grep -q "backup finished" || fail "device 0's log does not show the backup"
[ ! -e "$STALE" ] || fail "a file of an earlier backup survived a full backup"
"$SIMCTL" --raw log device=0 | grep -q "backup removed 1 files of an earlier backup" || fail "the removal is not in the log"
[ -f "$B/$U0/Info.plist" ] || fail "the host's Info.plist is gone"

timeout 30 idevicebackup2 -u "$U0" info "$B" > "$TMP/info.out" 2>&1 || fail "idevicebackup2 info: $(cat "$TMP/info.out")"
grep -q "<string>$U0</string>" "$TMP/info.out" || fail "info does not show the backup's device: $(head -20 "$TMP/info.out")"

timeout 30 idevicebackup2 -u "$U0" list "$B" > "$TMP/list.out" 2>&1 || fail "idevicebackup2 list: $(cat "$TMP/list.out")"
nfiles=$(find "$SIMDEVD_DIR/devices/$U0/data" -type f | wc -l)
nlisted=$(grep -c ',1,[0-9]*,[0-7]*$' "$TMP/list.out")
expect_eq "files listed by idevicebackup2 list" "$nlisted" "$nfiles"
grep -q ',HomeDomain,Library/SMS/sms.db,1,' "$TMP/list.out" || fail "list lacks HomeDomain sms.db"

# Manifest.db against the phone's own files: every file once, fileID = SHA-1 of
# "domain-relativePath", the stored copy and the MBFile Digest = SHA-1 of the content.
python3 - "$B/$U0" "$SIMDEVD_DIR/devices/$U0/data" <<'PY' || fail "Manifest.db does not match the phone's data"
import hashlib, os, plistlib, sqlite3, sys
bdir, data = sys.argv[1], sys.argv[2]
def sha1(p):
    with open(p, "rb") as f:
        return hashlib.sha1(f.read()).digest()
want = {}
for root, _, files in os.walk(data):
    for n in files:
        full = os.path.join(root, n)
        rel = os.path.relpath(full, data)
        dom, path = rel.split("/", 1)
        want[(dom, path)] = full
db = sqlite3.connect(os.path.join(bdir, "Manifest.db"))
rows = db.execute("SELECT fileID, domain, relativePath, flags, file FROM Files WHERE flags = 1").fetchall()
assert len(rows) == len(want), f"{len(rows)} files in Manifest.db, {len(want)} on the phone"
for fid, dom, rel, flags, blob in rows:
    assert fid == hashlib.sha1(f"{dom}-{rel}".encode()).hexdigest(), f"fileID of {dom}-{rel}"
    src = want.pop((dom, rel))
    stored = os.path.join(bdir, fid[:2], fid)
    assert sha1(stored) == sha1(src), f"content of {dom}-{rel}"
    arc = plistlib.loads(blob)
    objs = arc["$objects"]
    mb = objs[arc["$top"]["root"].data]
    assert objs[mb["$class"].data]["$classname"] == "MBFile"
    assert objs[mb["RelativePath"].data] == rel
    assert mb["Size"] == os.path.getsize(src), f"Size of {dom}-{rel}"
    assert objs[mb["Digest"].data] == sha1(src), f"Digest of {dom}-{rel}"
    assert mb["Mode"] & 0o7777 == os.stat(src).st_mode & 0o7777, f"Mode of {dom}-{rel}"
assert not want, f"not in Manifest.db: {want}"
st = plistlib.load(open(os.path.join(bdir, "Status.plist"), "rb"))
assert st["SnapshotState"] == "finished", st
mf = plistlib.load(open(os.path.join(bdir, "Manifest.plist"), "rb"))
assert mf["IsEncrypted"] is False and mf["Lockdown"]["UniqueDeviceID"] == os.path.basename(bdir), mf
assert not os.path.exists(os.path.join(bdir, "Snapshot")), "Snapshot/ left behind"
PY

# --- restore into the second phone ----------------------------------------------------
boots=$(field devices.1.boot_count)
free1=$(field devices.1.storage_free)
timeout 60 idevicebackup2 -u "$U1" -s "$U0" restore --system --no-reboot "$B" > "$TMP/restore.out" 2>&1 ||
    { cat "$TMP/restore.out" >&2; fail "idevicebackup2 restore exited with $?"; }
grep -q "Restore Successful." "$TMP/restore.out" || { cat "$TMP/restore.out" >&2; fail "restore not successful"; }
expect_eq "phone 1's data after the restore" "$(field devices.1.data_digest)" "$D0"
expect_eq "phone 0's data is untouched" "$(field devices.0.data_digest)" "$D0"
"$SIMCTL" --raw log device=1 | grep -q "backup-restore finished" || fail "device 1's log does not show the restore"
expect_eq "no reboot with --no-reboot" "$(field devices.1.boot_count)" "$boots"
# the phone keeps its own 50 KB and gains the backup's 600 KB: its free space shrinks
free1_after=$(field devices.1.storage_free)
[ "$free1_after" -lt "$free1" ] || fail "storage_free did not drop after a restore ($free1 -> $free1_after)"
expect_eq "phone 1 still in normal mode" "$(field devices.1.mode)" normal

# --- again, with every option the other way: copy first, remove what the backup lacks,
# take the settings (device name) from the backup, reboot at the end ------------------------
mkdir -p "$SIMDEVD_DIR/devices/$U1/data/HomeDomain/Library/Extra"
echo "not in the backup" > "$SIMDEVD_DIR/devices/$U1/data/HomeDomain/Library/Extra/stray.txt"
[ "$(field devices.1.data_digest)" != "$D0" ] || fail "a stray file does not change the digest"
timeout 60 idevicebackup2 -u "$U1" -s "$U0" restore --system --copy --remove --settings "$B" > "$TMP/restore2.out" 2>&1 ||
    { cat "$TMP/restore2.out" >&2; fail "idevicebackup2 restore --copy --remove --settings exited with $?"; }
grep -q "Restore Successful." "$TMP/restore2.out" || { cat "$TMP/restore2.out" >&2; fail "second restore not successful"; }
[ -f "$B/$U0-copy/Manifest.db" ] || fail "--copy: the host holds no copy of the backup"
# the phone reboots once the host has hung up, which may be just after idevicebackup2 exits
poll_log 1 "reboot after backup restore" || fail "no reboot after a restore without --no-reboot"
wait_mode 1 normal
expect_eq "phone 1's data after restore --remove" "$(field devices.1.data_digest)" "$D0"
expect_eq "device name taken from the backup with --settings" "$(field devices.1.name)" "Source"

# --- unplug half way through a restore --------------------------------------------------
if timeout 60 idevicebackup2 -u "$U2" -s "$U0" restore --system --no-reboot "$B" > "$TMP/unplug.out" 2>&1; then
    cat "$TMP/unplug.out" >&2; fail "a restore interrupted by an unplug succeeded"
fi
grep -q "Restore Successful." "$TMP/unplug.out" && fail "an interrupted restore says successful"
"$SIMCTL" --raw log device=2 | grep -q "fault unplug (backup-restore at" || fail "the unplug fault did not fire"
poll_log 2 "backup-restore interrupted at" || fail "device 2's log does not show the interrupted restore"
expect_eq "phone 2's data after an interrupted restore" "$(field devices.2.data_digest)" "$D2"

# --- unplug half way through a backup: the host's copy must not look finished --------------
mkdir -p "$TMP/cut"
if timeout 60 idevicebackup2 -u "$U7" backup --full "$TMP/cut" > "$TMP/cut.out" 2>&1; then
    cat "$TMP/cut.out" >&2; fail "a backup interrupted by an unplug succeeded"
fi
grep -q "Backup Successful." "$TMP/cut.out" && fail "an interrupted backup says successful"
poll_log 7 "backup interrupted at" || fail "device 7's log does not show the interrupted backup"
python3 -c "import plistlib,sys; s=plistlib.load(open(sys.argv[1],'rb')); sys.exit(s['SnapshotState']=='finished')" \
    "$TMP/cut/$U7/Status.plist" || fail "an interrupted backup's Status.plist says finished"
[ ! -e "$TMP/cut/$U7/Manifest.db" ] || fail "an interrupted backup has a Manifest.db"

# --- a corrupted file in the backup: same size, one byte changed --------------------------
victim=$(find "$B/$U0" -path "*/[0-9a-f][0-9a-f]/*" -type f -size +1k | head -1)
[ -n "$victim" ] || fail "no backup file to corrupt"
python3 - "$victim" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0xff
open(p, "wb").write(b)
PY
if timeout 60 idevicebackup2 -u "$U3" -s "$U0" restore --system --no-reboot "$B" > "$TMP/corrupt.out" 2>&1; then
    cat "$TMP/corrupt.out" >&2; fail "a restore of a corrupted backup succeeded"
fi
grep -q "ErrorCode 205: Multiple errors downloading files: .*SHA-1 does not match" "$TMP/corrupt.out" ||
    { cat "$TMP/corrupt.out" >&2; fail "the digest error is not reported as a phone reports it"; }
expect_eq "phone 3's data after a refused restore" "$(field devices.3.data_digest)" "$D3"

# --- a phone without room ---------------------------------------------------------------
if timeout 60 idevicebackup2 -u "$U4" -s "$U0" restore --system --no-reboot "$B" > "$TMP/full.out" 2>&1; then
    fail "a restore into a full phone succeeded"
fi
grep -q "ErrorCode 106: Not enough free space on the device" "$TMP/full.out" || { cat "$TMP/full.out" >&2; fail "no device-full error"; }
expect_eq "phone 4's data after a refused restore" "$(field devices.4.data_digest)" "$D4"

# --- encrypted backups: a phone with a backup password ---------------------------------------
# The backup is checked with an independent reader (Python's cryptography package), the
# way third-party tools decrypt iOS 10.2+ backups: keybag -> passcode key -> class keys,
# ManifestKey -> Manifest.db, each MBFile's EncryptionKey -> the file.
expect_eq "WillEncrypt with a backup password" "$(ideviceinfo -u "$U5" -q com.apple.mobile.backup -k WillEncrypt)" true
D5=$(field devices.5.data_digest); D6=$(field devices.6.data_digest)
mkdir -p "$TMP/enc"
timeout 60 idevicebackup2 -u "$U5" backup --full "$TMP/enc" > "$TMP/enc.out" 2>&1 ||
    { cat "$TMP/enc.out" >&2; fail "encrypted backup exited with $?"; }
grep -q "Backup will be encrypted." "$TMP/enc.out" || fail "idevicebackup2 was not told the backup is encrypted"
grep -q "Backup Successful." "$TMP/enc.out" || { cat "$TMP/enc.out" >&2; fail "encrypted backup not successful"; }
python3 - "$TMP/enc/$U5" "$SIMDEVD_DIR/devices/$U5/data" 1234 <<'PY' || fail "the encrypted backup does not decrypt as an iOS 10.2+ backup"
import hashlib, os, plistlib, sqlite3, struct, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap
bdir, data, password = sys.argv[1], sys.argv[2], sys.argv[3].encode()
mf = plistlib.load(open(os.path.join(bdir, "Manifest.plist"), "rb"))
assert mf["IsEncrypted"] is True
bag, attrs, classes, cur = mf["BackupKeyBag"], {}, {}, None
i = 0
while i + 8 <= len(bag):
    tag, n = bag[i:i + 4], struct.unpack(">L", bag[i + 4:i + 8])[0]
    v = bag[i + 8:i + 8 + n]; i += 8 + n
    if n == 4: v = struct.unpack(">L", v)[0]
    if tag == b"UUID" and "UUID" not in attrs: attrs["UUID"] = v
    elif tag == b"WRAP" and "WRAP" not in attrs: attrs["WRAP"] = v
    elif tag == b"UUID":
        if cur: classes[cur[b"CLAS"]] = cur
        cur = {b"UUID": v}
    elif tag in (b"CLAS", b"WRAP", b"WPKY", b"KTYP", b"PBKY"): cur[tag] = v
    else: attrs[tag.decode()] = v
classes[cur[b"CLAS"]] = cur
assert attrs["TYPE"] == 1
k1 = hashlib.pbkdf2_hmac("sha256", password, attrs["DPSL"], attrs["DPIC"], 32)
pk = hashlib.pbkdf2_hmac("sha1", k1, attrs["SALT"], attrs["ITER"], 32)
keys = {c: aes_key_unwrap(pk, ck[b"WPKY"]) for c, ck in classes.items() if ck[b"WRAP"] & 2}
def dec(key, blob):
    d = Cipher(algorithms.AES(key), modes.CBC(b"\0" * 16)).decryptor()
    out = d.update(blob) + d.finalize()
    return out[:-out[-1]]
mk = mf["ManifestKey"]
mkey = aes_key_unwrap(keys[struct.unpack("<l", mk[:4])[0]], mk[4:])
dbfile = os.path.join(os.path.dirname(bdir), "plain-Manifest.db")
open(dbfile, "wb").write(dec(mkey, open(os.path.join(bdir, "Manifest.db"), "rb").read()))
rows = sqlite3.connect(dbfile).execute("SELECT fileID, domain, relativePath, file FROM Files WHERE flags = 1").fetchall()
nphone = sum(len(f) for _, _, f in os.walk(data))
assert len(rows) == nphone, f"{len(rows)} rows, {nphone} files"
for fid, dom, rel, blob in rows:
    arc = plistlib.loads(blob); objs = arc["$objects"]; mb = objs[arc["$top"]["root"].data]
    ek = objs[mb["EncryptionKey"].data]["NS.data"]
    fkey = aes_key_unwrap(keys[mb["ProtectionClass"]], ek[4:])
    stored = open(os.path.join(bdir, fid[:2], fid), "rb").read()
    plain = dec(fkey, stored)
    orig = open(os.path.join(data, dom, rel), "rb").read()
    assert plain == orig, f"{dom}-{rel} does not decrypt to the phone's file"
    assert len(orig) < 16 or stored[:16] != orig[:16], f"{dom}-{rel} stored in clear"
    assert mb["Size"] == len(orig)
PY
# idevicebackup2 itself refuses an encrypted restore without a password.
if timeout 60 idevicebackup2 -u "$U6" -s "$U5" restore --system --no-reboot "$TMP/enc" > "$TMP/encnopw.out" 2>&1; then
    fail "restore of an encrypted backup without a password succeeded"
fi
if timeout 60 idevicebackup2 -u "$U6" -s "$U5" restore --system --no-reboot --password wrong "$TMP/enc" > "$TMP/encbad.out" 2>&1; then
    fail "restore of an encrypted backup with a wrong password succeeded"
fi
grep -q "ErrorCode 206: The backup password is not correct" "$TMP/encbad.out" || { cat "$TMP/encbad.out" >&2; fail "no wrong-password error"; }
expect_eq "phone 6's data after a wrong password" "$(field devices.6.data_digest)" "$D6"
timeout 60 idevicebackup2 -u "$U6" -s "$U5" restore --system --no-reboot --password 1234 "$TMP/enc" > "$TMP/encok.out" 2>&1 ||
    { cat "$TMP/encok.out" >&2; fail "encrypted restore exited with $?"; }
grep -q "Restore Successful." "$TMP/encok.out" || { cat "$TMP/encok.out" >&2; fail "encrypted restore not successful"; }
expect_eq "phone 6's data after restoring the encrypted backup" "$(field devices.6.data_digest)" "$D5"
# --- encryption turned on, changed and off from the computer ----------------------------------
expect_eq "WillEncrypt before" "$(ideviceinfo -u "$U1" -q com.apple.mobile.backup -k WillEncrypt)" false
timeout 30 idevicebackup2 -u "$U1" encryption on 1234 > "$TMP/encon.out" 2>&1 || true
grep -q "Backup encryption has been enabled successfully." "$TMP/encon.out" || { cat "$TMP/encon.out" >&2; fail "encryption on"; }
expect_eq "WillEncrypt after encryption on" "$(ideviceinfo -u "$U1" -q com.apple.mobile.backup -k WillEncrypt)" true
timeout 30 idevicebackup2 -u "$U1" changepw 9999 5678 > "$TMP/chbad.out" 2>&1 || true
grep -q "Could not change backup encryption password." "$TMP/chbad.out" || fail "changepw with a wrong old password was accepted"
timeout 30 idevicebackup2 -u "$U1" changepw 1234 5678 > "$TMP/ch.out" 2>&1 || true
grep -q "Backup encryption password has been changed successfully." "$TMP/ch.out" || { cat "$TMP/ch.out" >&2; fail "changepw"; }
timeout 30 idevicebackup2 -u "$U1" encryption off 5678 > "$TMP/encoff.out" 2>&1 || true
grep -q "Backup encryption has been disabled successfully." "$TMP/encoff.out" || { cat "$TMP/encoff.out" >&2; fail "encryption off"; }
expect_eq "WillEncrypt after encryption off" "$(ideviceinfo -u "$U1" -q com.apple.mobile.backup -k WillEncrypt)" false
echo "ok"
