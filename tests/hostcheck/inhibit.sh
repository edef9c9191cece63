#!/bin/sh
# Sleep inhibition through the real protocol: a private dbus-daemon as the system bus, a
# stand-in logind on it, and `revive doctor`, whose sleep.inhibit check takes the lock over
# sd-bus and lets it go. Then a logind that refuses, and no bus at all.
set -u
revive=$1 fake=$2 hold=$3
command -v dbus-daemon >/dev/null || { echo "dbus-daemon not installed"; exit 77; }
tmp=$(mktemp -d) || exit 1
pids=
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
export XDG_STATE_HOME=$tmp/state XDG_CACHE_HOME=$tmp/cache XDG_CONFIG_HOME=$tmp/config
cat > "$tmp/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile >"$tmp/dbus.log" 2>&1 &
pids="$!"
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$tmp/bus
i=0; while [ ! -S "$tmp/bus" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
[ -S "$tmp/bus" ] || { echo "dbus-daemon did not start"; cat "$tmp/dbus.log"; exit 1; }

start_logind() {
  : > "$tmp/record"
  "$fake" "$tmp/record" "$1" 2>"$tmp/logind.err" &
  lp=$!; pids="$pids $lp"
  i=0; while ! grep -q ready "$tmp/record" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  grep -q ready "$tmp/record" || { echo "fake logind did not start"; cat "$tmp/logind.err"; exit 1; }
}
sleep_line() { "$revive" -o plugins.builtin=false --json doctor 2>/dev/null </dev/null | grep '"name":"sleep.inhibit"'; }

start_logind ok
line=$(sleep_line)
echo "$line" | grep -q '"status":"ok"' || { echo "expected ok with logind: $line"; exit 1; }
grep -q '^inhibit what=sleep:idle who=revive mode=block why=revive doctor' "$tmp/record" ||
  { echo "logind did not see the Inhibit call"; cat "$tmp/record"; exit 1; }
i=0; while ! grep -q released "$tmp/record" && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done
grep -q released "$tmp/record" || { echo "the inhibitor was never released"; cat "$tmp/record"; exit 1; }
kill "$lp"; wait "$lp" 2>/dev/null

# A run's lock lasts until it is released, and ends there.
start_logind ok
"$hold" "$tmp/record" || { echo "inhibitor lifetime wrong"; cat "$tmp/record"; exit 1; }
kill "$lp"; wait "$lp" 2>/dev/null

start_logind refuse
line=$(sleep_line)
echo "$line" | grep -q '"status":"warn"' || { echo "expected warn when logind refuses: $line"; exit 1; }
echo "$line" | grep -q 'AccessDenied' || { echo "the refusal is not named: $line"; exit 1; }
echo "$line" | grep -q 'systemd-inhibit' || { echo "no remedy: $line"; exit 1; }
kill "$lp"; wait "$lp" 2>/dev/null

# The bus is there but nobody owns logind's name.
line=$(sleep_line)
echo "$line" | grep -q '"status":"warn"' || { echo "expected warn without logind: $line"; exit 1; }
echo "sleep inhibition ok"
