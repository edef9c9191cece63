#!/bin/bash
# One shipped playbook against one simulator scenario, checked the way a technician would
# check the phone afterwards — through the simulator's own record, not revive's word:
#   case.sh PLAYBOOK SCENARIO OUTCOME MODE DATA [--set k=v ...]
# Environment: CASE_BEFORE=interrupt runs a firmware restore through revive first (which
# the scenario's fault cuts off), as the demo does; CASE_DEVICE=ECID picks one phone.
# A person's hands are simulated: when revive shows a prompt (force restart, DFU buttons,
# Trust), the case does what it asks through simctl, as a technician would.
#     OUTCOME  fixed | needs_person        what revive must report
#     MODE     normal | recovery | dfu | off   the phone's mode at the end (simctl state)
#     DATA     same | erased | any         the phone's data digest against before
# Also checked: the run's journal exists and `revive runs` shows the same outcome; no
# erase happened unless DATA=erased; every input file (IPSW) is unchanged.
. "$REVIVE_SOURCE_DIR/tests/interop/lib.sh"
playbook=$1 scenario=$2 want_outcome=$3 want_mode=$4 want_data=$5
shift 5
REVIVE="$REVIVE_BUILD_DIR/revive"
export XDG_STATE_HOME="$TMP/state" XDG_CACHE_HOME="$TMP/cache" XDG_DATA_HOME="$TMP/data" XDG_CONFIG_HOME="$TMP/config"
start_sim "$SCENARIOS/$scenario.json"
# revive's clock keeps pace with the simulated phone's, as under `revive --sim`.
export REVIVE_TIME_SCALE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("time_scale", 1))' "$SCENARIOS/$scenario.json")
dev=0
if [ -n "${CASE_DEVICE:-}" ]; then
  set -- --device "$CASE_DEVICE" "$@"
  dev=$(python3 -c 'import json,sys; s=json.load(sys.stdin); print([d["index"] for d in s["devices"] if int(d["ecid"],16)==int(sys.argv[1],16)][0])' "$CASE_DEVICE" < <("$SIMCTL" --raw state))
fi

# A synthetic IPSW for the phone, made by the simulator's tool, as the playbook's firmware.
export LD_PRELOAD="$REVIVE_BUILD_DIR/libsimusb.so"
export REVIVE_USB_IDEVICERESTORE="$REVIVE_BUILD_DIR/sim-idevicerestore"
"$REVIVE_BUILD_DIR/sim-ipsw" -o "$TMP/fw.ipsw" -p "$(field devices.$dev.product_type)" -V 17.0 -b 21A329 \
  > /dev/null || fail "sim-ipsw could not make an IPSW"
ipsw_sum=$(sha256sum "$TMP/fw.ipsw" | cut -d' ' -f1)
set -- --set "firmware=$TMP/fw.ipsw" "$@"
export SIM_IDEVICERESTORE_VERSION=1.1.0
digest_before=$(field devices.$dev.data_digest)
if [ "${CASE_BEFORE:-}" = interrupt ]; then
  "$REVIVE" --yes restore-firmware "$TMP/fw.ipsw" > /dev/null 2>&1 && fail "the scenario's fault did not cut the restore off"
  "$SIMCTL" --raw wait device=$dev mode=recovery timeout=10 > /dev/null || fail "after the cut-off restore the phone is not in recovery"
  expect_eq "data after the cut-off restore" "$(field devices.$dev.data_digest)" "$digest_before"
fi
"$REVIVE" --yes --json run "$playbook" "$@" > "$TMP/events" 2> "$TMP/stderr" &
revive_pid=$!
# The person's hands (hands.py): do what each prompt asks, once.
python3 "$REVIVE_SOURCE_DIR/tests/playbooks/hands.py" "$TMP/events" "$SIMCTL" "$dev" "$revive_pid" &
hands_pid=$!
wait "$revive_pid"
rc=$?
wait "$hands_pid"
outcome=$(python3 -c '
import json, sys
o = "none"
for line in open(sys.argv[1]):
    try: e = json.loads(line)
    except ValueError: continue
    if e.get("type") == "outcome": o = e["fields"].get("outcome", o)
print(o)' "$TMP/events")
if [ "$outcome" != "$want_outcome" ]; then
  echo "--- stderr ---"; tail -n 30 "$TMP/stderr"
  echo "--- last events ---"; tail -n 15 "$TMP/events"
  fail "$playbook on $scenario: outcome '$outcome' (exit $rc), expected '$want_outcome'"
fi
case $want_outcome in
  fixed) want_rc=0 ;;
  needs_person) want_rc=4 ;;
esac
if [ "$rc" != "$want_rc" ]; then
  echo "--- stderr ---"; tail -n 40 "$TMP/stderr"
  fail "exit status: got $rc, expected $want_rc"
fi
expect_eq "mode at the end" "$(field devices.$dev.mode)" "$want_mode"
digest_after=$(field devices.$dev.data_digest)
case $want_data in
  same) expect_eq "data digest (nothing lost)" "$digest_after" "$digest_before" ;;
  erased) [ "$digest_after" != "$digest_before" ] || fail "the data was expected to be erased" ;;
esac
if [ "$want_data" != erased ] && "$SIMCTL" --raw log | grep -q '"[0-9.]* erase'; then
  fail "an erase happened although this case must keep the data"
fi
[ -z "${ipsw_sum:-}" ] || expect_eq "the IPSW is unchanged" "$(sha256sum "$TMP/fw.ipsw" | cut -d' ' -f1)" "$ipsw_sum"
runs=$("$REVIVE" --json runs) || fail "revive runs failed"
echo "$runs" | python3 -c '
import json, sys
runs = json.load(sys.stdin)
assert len(runs) == 1, runs
assert runs[0]["state"] == "finished", runs
assert runs[0]["outcome"] == sys.argv[1], runs' "$want_outcome" || fail "revive runs does not show the outcome: $runs"
echo PASS
