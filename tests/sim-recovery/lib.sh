# lib.sh: shared by the recovery tests. Reuses the interop helpers (a fresh simdevd in a
# temp dir, simctl, field, wait_mode) and adds irec: the stock irecovery with libsimusb
# preloaded. Needs SIMUSB (the path of libsimusb.so) from CTest.
. "$REVIVE_SOURCE_DIR/tests/interop/lib.sh"
: "${SIMUSB:?SIMUSB must name libsimusb.so}"

irec() {
    local rc=0
    LD_PRELOAD="$SIMUSB" timeout 30 irecovery "$@" 2> "$TMP/irec.err" || rc=$?
    if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$TMP/irec.err"; then
        cat "$TMP/irec.err" >&2
        fail "sanitizer report from libsimusb inside irecovery $*"
    fi
    cat "$TMP/irec.err" >&2
    return $rc
}

# poll PATH VALUE: waits up to 5 s for a field of the state to have a value.
poll() {
    for _ in $(seq 1 500); do
        [ "$(field "$1")" = "$2" ] && return 0
        sleep 0.01
    done
    fail "$1 never became $2 (is $(field "$1"))"
}

# log_has DEVICE PATTERN: the device's operation log has a line matching PATTERN.
log_has() {
    "$SIMCTL" --raw log device="$1" | grep -q -- "$2"
}

SIMIPSW="$REVIVE_BUILD_DIR/sim-ipsw"
SIMRESTORE="$REVIVE_BUILD_DIR/sim-idevicerestore"

# restore ARGS...: runs the stand-in; its stdout in $TMP/out, stderr in $TMP/errout, its
# exit status in $RC.
restore() {
    RC=0
    timeout 60 "$SIMRESTORE" "$@" > "$TMP/out" 2> "$TMP/errout" || RC=$?
}

# expect_rc WHAT CODE: the last restore exited with CODE.
expect_rc() {
    [ "$RC" = "$2" ] || fail "$1: exit status $RC, expected $2; stdout: $(tail -5 "$TMP/out"); stderr: $(cat "$TMP/errout")"
}

# has FILE TEXT: a line of FILE ($TMP/out or $TMP/errout) is exactly TEXT.
has() {
    grep -qxF -- "$2" "$1" || fail "missing line '$2' in $(basename "$1"): $(cat "$1")"
}

# stop_sim: stops this test's simdevd and forgets it, so start_sim can run another.
stop_sim() {
    kill "$SIM_PID" 2> /dev/null
    wait "$SIM_PID" 2> /dev/null
    SIM_PID=
    rm -rf "$TMP/sim" "$TMP/env"
}
