# lib.sh: shared by the interop tests. Starts simdevd in a fresh temp dir with
# --foreground, exports the environment it prints, and stops it on exit.
# Needs REVIVE_BUILD_DIR and REVIVE_SOURCE_DIR (set by revive_add_test).
set -u
SIMDEVD="$REVIVE_BUILD_DIR/simdevd"
SIMCTL="$REVIVE_BUILD_DIR/simctl"
SCENARIOS="$REVIVE_SOURCE_DIR/sim/scenarios"
TMP=$(mktemp -d /tmp/revive-interop.XXXXXX)
SIM_PID=

cleanup() {
    local rc=${1:-$?}
    if [ -n "$SIM_PID" ]; then
        if ! kill "$SIM_PID" 2>/dev/null; then
            echo "FAIL: simdevd died during the test:" >&2
            cat "$TMP/simdevd.err" >&2
            rc=1
        fi
        wait "$SIM_PID" 2>/dev/null
    fi
    if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$TMP/simdevd.err" 2>/dev/null; then
        echo "FAIL: sanitizer report from simdevd:" >&2
        cat "$TMP/simdevd.err" >&2
        rc=1
    fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if [ -n "$SIM_PID" ] && [ -n "${SIMDEVD_CONTROL:-}" ]; then
        echo "--- device log ---" >&2
        "$SIMCTL" --raw log >&2 || true
    fi
    exit 1
}

# start_sim SCENARIO_FILE: runs simdevd and waits until its control socket answers.
start_sim() {
    "$SIMDEVD" --scenario "$1" --dir "$TMP/sim" --foreground > "$TMP/env" 2> "$TMP/simdevd.err" &
    SIM_PID=$!
    for _ in $(seq 1 200); do
        if [ -s "$TMP/env" ] && grep -q SIMDEVD_PID "$TMP/env"; then
            break
        fi
        kill -0 "$SIM_PID" 2>/dev/null || { cat "$TMP/simdevd.err" >&2; fail "simdevd exited at start"; }
        sleep 0.01
    done
    # shellcheck disable=SC1090
    . "$TMP/env"
    "$SIMCTL" --raw help > /dev/null || fail "simdevd does not answer on its control socket"
}

# field PATH [key=value...]: one field of the "state" answer, e.g. field devices.0.mode
field() {
    "$SIMCTL" --get "$1" state
}

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
    [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# wait_mode DEVICE MODE: waits (in real seconds, at most 10) for the device's mode.
wait_mode() {
    "$SIMCTL" --raw wait device="$1" mode="$2" timeout=10 > /dev/null || fail "device $1 never reached mode $2"
}
