#!/usr/bin/env bash
# bench/usb_backup_restore.sh BUILD_DIR — restoring a generated backup into the simulated
# phone: revive (usb plugin, `revive restore-backup`) against idevicebackup2 restore, on
# the same backup and the same simulator, in one run. Reports wall time and host CPU
# seconds (user+sys of the tool's process) per GB of backup.
#
# Size: BENCH_SCALE=1 is 20,000 files / 2 GiB of phone data (the issue's size); the backup
# is taken once, with idevicebackup2, from a simulated phone seeded with that data.
# Each tool restores twice, alternating; the better run of each counts. Both restore
# without reboot, so the phone's reboot time is not in either figure. BENCH_KEEP=1
# leaves the work folder and the simulator running, to look at afterwards.
set -euo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
scale=${BENCH_SCALE:-1}
files=$(awk -v s="$scale" 'BEGIN { n = int(20000 * s); if (n < 10) n = 10; print n }')
bytes=$(awk -v s="$scale" 'BEGIN { n = int(2147483648 * s); if (n < 1048576) n = 1048576; printf "%d", n }')

simdevd=$build/simdevd
[ -x "$simdevd" ] || simdevd=$build/sim/simdevd/simdevd
revive=$build/revive
for need in "$simdevd" "$revive" "$build/plugins/usb.so"; do
  [ -e "$need" ] || { echo "missing $need (build it first)" >&2; exit 1; }
done
command -v idevicebackup2 >/dev/null || { echo "idevicebackup2 not installed (libimobiledevice-utils)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed (timing, pair records)" >&2; exit 1; }

work=$(mktemp -d /tmp/usbbench.XXXXXX)
sim_pid=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${BENCH_KEEP:-}" ] && trap - EXIT

cat >"$work/scenario.json" <<EOF
{ "name": "bench-backup-restore", "time_scale": 100000,
  "devices": [ { "product_type": "iPhone12,1", "ecid": "0x1A2B3C4D5EBE", "name": "Bench",
                 "storage_total": 274877906944, "storage_free": 137438953472,
                 "data": { "seed": 42, "files": $files, "bytes": $bytes } } ] }
EOF
"$simdevd" --scenario "$work/scenario.json" --dir "$work/sim" --foreground >"$work/simdevd.log" 2>&1 &
sim_pid=$!
for _ in $(seq 1 600); do [ -S "$work/sim/control.sock" ] && break; sleep 0.05; done
[ -S "$work/sim/control.sock" ] || { echo "simdevd did not start; see its log" >&2; cat "$work/simdevd.log" >&2; exit 1; }
export USBMUXD_SOCKET_ADDRESS=UNIX:$work/sim/usbmuxd.sock SIMDEVD_CONTROL=$work/sim/control.sock
export SIMDEVD_USB_SOCKET=$work/sim/usb.sock
udid=$(idevice_id -l | head -n 1)
[ -n "$udid" ] || { echo "the simulated phone is not listed" >&2; exit 1; }
# simdevd's pair records lack the EscrowBag a phone's have, and idevicebackup2 will not
# start mobilebackup2 without one: make the record exist, then add a bag.
ideviceinfo -u "$udid" -k UniqueDeviceID >/dev/null
python3 - "$work/sim/pairrecords" <<'PY'
import glob, os, plistlib, sys
for p in glob.glob(os.path.join(sys.argv[1], "*.plist")):
    rec = plistlib.load(open(p, "rb"))
    if "EscrowBag" not in rec:
        rec["EscrowBag"] = os.urandom(32)
        plistlib.dump(rec, open(p + ".tmp", "wb"))
        os.rename(p + ".tmp", p)
PY

digest() { "$build/simctl" --get devices.0.data_digest state 2>/dev/null || echo unknown; }
want=$(digest)
data_dir=$("$build/simctl" --get devices.0.data_dir state)
[ -d "$data_dir" ] || { echo "the simulator reports no data dir" >&2; exit 1; }

echo "taking a backup of $files files / $bytes bytes with idevicebackup2 ..."
mkdir -p "$work/backup"
idevicebackup2 -u "$udid" backup --full "$work/backup" >"$work/backup.log" 2>&1 ||
  { tail -n 20 "$work/backup.log" >&2; echo "backup failed" >&2; exit 1; }
size=$(du -sb "$work/backup/$udid" | cut -f1)
gb=$(awk -v b="$size" 'BEGIN { printf "%.6f", b / 1e9 }')
echo "backup: $size bytes ($gb GB) in $(find "$work/backup/$udid" -type f | wc -l) files"

# run NAME CMD... -> prints "wall cpu" of the best of the runs so far for NAME
declare -A best_wall best_cpu
measure() {
  local name=$1; shift
  # wipe the phone's data (files on this host) so that the restore has to bring it back
  find "$data_dir" -mindepth 1 -delete
  # wall time and the tool's own user+sys CPU (getrusage of the child, microseconds)
  python3 - "$work/time" "$work/$name.log" "$@" <<'PY' ||
import os, shutil, sys, time
out, log, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
# posix_spawn + wait4: the rusage of exactly this child (subprocess would add the
# forked interpreter's own start-up to it)
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
acts = [(os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)]
t = time.monotonic()
pid = os.posix_spawn(shutil.which(cmd[0]) or cmd[0], cmd, os.environ, file_actions=acts)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t
open(out, "w").write(f"{wall:.3f} {ru.ru_utime:.6f} {ru.ru_stime:.6f}\n")
sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
PY
    { tail -n 20 "$work/$name.log" >&2; echo "$name restore failed" >&2; exit 1; }
  read -r wall user sys <"$work/time"
  local cpu
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.4f", u + s }')
  local got
  got=$(digest)
  if [ "$got" != "$want" ]; then
    echo "$name: the phone's data after the restore differs from the backed-up data ($got != $want)" >&2
    exit 1
  fi
  echo "$name: wall ${wall}s cpu ${cpu}s"
  if [ -z "${best_wall[$name]:-}" ] || awk -v a="$wall" -v b="${best_wall[$name]}" 'BEGIN { exit !(a < b) }'; then
    best_wall[$name]=$wall
  fi
  if [ -z "${best_cpu[$name]:-}" ] || awk -v a="$cpu" -v b="${best_cpu[$name]}" 'BEGIN { exit !(a < b) }'; then
    best_cpu[$name]=$cpu
  fi
}

for round in 1 2; do
  measure idevicebackup2 idevicebackup2 -u "$udid" restore --system --no-reboot "$work/backup"
  measure revive "$revive" -q -y restore-backup --system --no-reboot "$udid" "$work/backup"
done

ow=${best_wall[revive]} rw=${best_wall[idevicebackup2]}
oc=$(awk -v c="${best_cpu[revive]}" -v g="$gb" 'BEGIN { printf "%.4f", c / g }')
rc=$(awk -v c="${best_cpu[idevicebackup2]}" -v g="$gb" 'BEGIN { printf "%.4f", c / g }')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "inf" }'; }
echo "RESULT usb_backup_restore cpu_per_gb ours=$oc ref=$rc unit=s/GB ratio=$(ratio "$oc" "$rc") ref_tool=\"idevicebackup2 $(idevicebackup2 --version 2>/dev/null | awk '{print $2}') restore\" target=\"<= 0.5\""
echo "RESULT usb_backup_restore wall ours=$ow ref=$rw unit=s ratio=$(ratio "$ow" "$rw") ref_tool=\"idevicebackup2 restore\" target=\"<= 1.0\""
