#!/bin/bash
# simdevd starts (forks, sockets listening, environment printed) in under 100 ms, and the
# printed environment is right: eval it and the tools and simctl work at once.
. "$REVIVE_SOURCE_DIR/tests/interop/lib.sh"
# The daemons started here are not lib.sh's: stop each by its pid file whatever happens.
stop_daemons() {
    local rc=$?
    for f in "$TMP"/d*/simdevd.pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    cleanup "$rc"
    exit $rc
}
trap stop_daemons EXIT
best=999999
for i in 1 2 3; do
    t0=$(date +%s%N)
    "$SIMDEVD" --scenario "$SCENARIOS/three-devices.json" --dir "$TMP/d$i" > "$TMP/env$i" || fail "simdevd failed to start"
    t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    [ "$ms" -lt "$best" ] && best=$ms
    ( . "$TMP/env$i" > /dev/null
      [ "$(cat "$TMP/d$i/simdevd.pid")" = "$SIMDEVD_PID" ] || exit 3
      "$SIMCTL" --raw --get devices.2.mode state | grep -qx recovery || exit 4
      [ "$(idevice_id -l | wc -l)" = 2 ] || exit 5 ) || fail "the printed environment does not work (step $?)"
    kill "$(cat "$TMP/d$i/simdevd.pid")"
done
echo "best start-up time: ${best} ms"
[ "$best" -lt 100 ] || fail "simdevd took ${best} ms to start (limit 100 ms)"
grep -q '^USBMUXD_SOCKET_ADDRESS=UNIX:.*/usbmuxd.sock; export USBMUXD_SOCKET_ADDRESS;$' "$TMP/env1" || fail "env format"
echo PASS
