# lib.sh: shared by the recovery tests. Reuses the interop helpers (a fresh simdevd in a
# temp dir, simctl, field, wait_mode) and adds irec: the stock irecovery with libsimusb
# preloaded. Needs SIMUSB (the path of libsimusb.so) from CTest.
. "$REVIVE_SOURCE_DIR/tests/interop/lib.sh"
: "${SIMUSB:?SIMUSB must name libsimusb.so}"

irec() {
    LD_PRELOAD="$SIMUSB" timeout 30 irecovery "$@"
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
