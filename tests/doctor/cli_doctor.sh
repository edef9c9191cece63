#!/bin/sh
# revive doctor: one "check" event per check and a final "doctor" event under --json; a
# refused plugin is a fail with its file and reason; a clean machine exits 0, a machine
# with a failing check exits 1. Host facts come from a fake root (-o host.sysroot).
set -u
revive=$1 bad=$2
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
export XDG_STATE_HOME=$tmp/state XDG_CACHE_HOME=$tmp/cache XDG_CONFIG_HOME=$tmp/config
unset USBMUXD_SOCKET_ADDRESS
[ -f "$bad/other_major.so" ] || { echo "bad plugins not built in $bad"; exit 1; }

# A laptop on battery, usbmuxd installed, a phone behind a hub, revive's udev rule.
root=$tmp/root
mkdir -p "$root/sys/class/power_supply/AC" "$root/sys/class/power_supply/BAT0" "$root/usr/sbin" \
         "$root/sys/bus/usb/devices/1-3" "$root/sys/bus/usb/devices/1-3.2" "$root/etc/udev/rules.d"
echo Mains > "$root/sys/class/power_supply/AC/type"; echo 0 > "$root/sys/class/power_supply/AC/online"
echo Battery > "$root/sys/class/power_supply/BAT0/type"; echo Discharging > "$root/sys/class/power_supply/BAT0/status"
echo 37 > "$root/sys/class/power_supply/BAT0/capacity"
: > "$root/usr/sbin/usbmuxd"
echo 05e3 > "$root/sys/bus/usb/devices/1-3/idVendor"
echo 05ac > "$root/sys/bus/usb/devices/1-3.2/idVendor"; echo 1227 > "$root/sys/bus/usb/devices/1-3.2/idProduct"
echo "CPID:8030 BDID:04 ECID:001A2B3C4D5E6F70" > "$root/sys/bus/usb/devices/1-3.2/serial"
# The shipped rule, for a group the runner is in (CI need not be root or in plugdev).
sed "s/GROUP=\"plugdev\"/GROUP=\"$(id -gn)\"/" "$(dirname "$0")/../../dist/udev/60-revive.rules" \
  > "$root/etc/udev/rules.d/60-revive.rules" || exit 1
grep -q "GROUP=\"$(id -gn)\"" "$root/etc/udev/rules.d/60-revive.rules" || { echo "rule not rewritten"; exit 1; }
# The idevicerestore of Debian 12, whether or not this machine has it.
printf '#!/bin/sh\necho "idevicerestore 1.0.0"\n' > "$tmp/idevicerestore"; chmod +x "$tmp/idevicerestore"
export REVIVE_USB_IDEVICERESTORE=$tmp/idevicerestore

out=$("$revive" -o plugins.builtin=false -o host.sysroot="$root" --json doctor 2>"$tmp/err" </dev/null)
rc=$?
if [ $rc -eq 6 ] && grep -q 'not built yet' "$tmp/err"; then
  echo "revive doctor is not registered in this build yet (core/cli/commands.c)"; exit 77
fi
[ $rc -eq 0 ] || { echo "expected exit 0 without plugin refusals, got $rc"; echo "$out"; cat "$tmp/err"; exit 1; }
echo "$out" | python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin if l.strip()]
checks = [e for e in lines if e["type"] == "check"]
final = lines[-1]
assert final["type"] == "doctor", final
assert all(e["type"] in ("check", "doctor") for e in lines), lines
by = {}
for e in checks:
    f = e["fields"]
    assert set(f) >= {"name", "status", "message", "remedy"}, f
    assert f["status"] in ("ok", "warn", "fail"), f
    assert f["message"], f
    if f["status"] != "ok":
        assert f["remedy"], f
    by.setdefault(f["name"], f)
for need in ("dirs.cache", "dirs.state", "power", "sleep.inhibit", "usbmuxd", "usb.access", "usb.path",
             "versions.libimobiledevice", "versions.libirecovery", "versions.libusbmuxd", "versions.libplist",
             "versions.idevicerestore", "plugins"):
    assert need in by, (need, sorted(by))
assert by["power"]["status"] == "warn" and "37%" in by["power"]["message"], by["power"]
assert by["usb.path"]["status"] == "warn" and "1-3.2" in by["usb.path"]["message"], by["usb.path"]
assert by["usbmuxd"]["status"] == "ok", by["usbmuxd"]
assert by["plugins"]["status"] == "ok", by["plugins"]
assert by["versions.idevicerestore"]["status"] == "warn" and "14.5" in by["versions.idevicerestore"]["message"]
counts = {s: sum(1 for e in checks if e["fields"]["status"] == s) for s in ("ok", "warn", "fail")}
ff = final["fields"]
assert (ff["ok"], ff["warn"], ff["fail"]) == (counts["ok"], counts["warn"], counts["fail"]), (ff, counts)
assert ff["fail"] == 0 and ff["status"] == "warn", ff
print("ok: %d checks, %s" % (len(checks), counts))
' || exit 1

# Refused plugins: each is a failing check naming the file and why; exit 1.
out=$(REVIVE_PLUGIN_PATH=$bad "$revive" -o plugins.builtin=false -o host.sysroot="$root" --json doctor 2>/dev/null </dev/null)
rc=$?
[ $rc -eq 1 ] || { echo "expected exit 1 with refused plugins, got $rc"; exit 1; }
echo "$out" | python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin if l.strip()]
ref = [e["fields"] for e in lines if e["type"] == "check" and e["fields"]["name"] == "plugins.refused"]
assert len(ref) >= 5, ref
assert all(r["status"] == "fail" and r["remedy"] for r in ref), ref
om = [r for r in ref if "other_major.so" in r["message"]]
assert om and "another major" in om[0]["message"], ref
assert lines[-1]["fields"]["fail"] >= len(ref), lines[-1]
print("ok: %d refusals reported" % len(ref))
' || exit 1

# Text: one line per check starting with its status; remedies on the next line.
text=$("$revive" -o plugins.builtin=false -o host.sysroot="$root" doctor 2>/dev/null </dev/null)
echo "$text" | grep -q '^warn  power .*on battery' || { echo "text lacks the power warning"; echo "$text"; exit 1; }
echo "$text" | grep -q -- '-> Plug the computer into mains power' || { echo "text lacks the remedy"; exit 1; }
echo "$text" | grep -q '^ok    usbmuxd' || { echo "text lacks usbmuxd"; exit 1; }
echo "$text" | tail -1 | grep -q '^[0-9]* ok, [0-9]* warn, 0 fail$' || { echo "text lacks the totals"; exit 1; }

# A missing udev rule is a fail for a user who is not root.
if [ "$(id -u)" -ne 0 ]; then
  rm "$root/etc/udev/rules.d/60-revive.rules"
  "$revive" -o plugins.builtin=false -o host.sysroot="$root" doctor >/dev/null 2>&1 </dev/null
  [ $? -eq 1 ] || { echo "expected exit 1 without udev rules"; exit 1; }
fi
echo "doctor ok"
