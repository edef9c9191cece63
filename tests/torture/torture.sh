#!/bin/bash
# torture.sh NAME -- COMMAND...: run COMMAND once to count its allocations, then again with
# each allocation in turn failing (every one up to TORTURE_MAX, then a spread sample), and
# check that every run ends without a crash and without more blocks left allocated than
# the baseline (memory lost on an error path). A failing allocation may make the command
# fail — with an error, not a signal.
set -u
name=$1; shift; [ "$1" = -- ] && shift
lib=${FAILALLOC_LIB:?}
max=${TORTURE_MAX:-400}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { # n -> sets rc, calls, live
  FAILALLOC_N=$1 FAILALLOC_REPORT="$tmp/report" LD_PRELOAD="$lib" "$@" > /dev/null 2> "$tmp/stderr" < /dev/null
}
FAILALLOC_N=-1 FAILALLOC_REPORT="$tmp/report" LD_PRELOAD="$lib" "$@" > /dev/null 2> "$tmp/stderr" < /dev/null
base_rc=$?
read -r base_calls base_live _ < <(tr '=' ' ' < "$tmp/report" | awk '{ print $2, $4, $6 }')
[ "${base_calls:-0}" -gt 0 ] || { echo "FAIL: $name: the baseline run reported no allocations (is the wrapper loaded?)"; exit 1; }
echo "$name: baseline exit $base_rc, $base_calls allocations, $base_live left at exit"
points=$(awk -v c="$base_calls" -v m="$max" 'BEGIN {
  if (c <= m) { for (i = 1; i <= c; i++) print i; exit }
  for (i = 1; i <= m / 2; i++) print i;                       # every early one (start-up paths)
  step = (c - m / 2) / (m / 2); for (x = m / 2 + 1; x <= c; x += step) print int(x) }')
bad=0 n_runs=0
for n in $points; do
  rm -f "$tmp/report"
  FAILALLOC_N=$n FAILALLOC_REPORT="$tmp/report" LD_PRELOAD="$lib" "$@" > /dev/null 2> "$tmp/stderr" < /dev/null
  rc=$?
  n_runs=$((n_runs + 1))
  if [ $rc -ge 128 ]; then
    echo "FAIL: $name: allocation $n failing crashed the command (signal $((rc - 128)))"; tail -n 5 "$tmp/stderr"; bad=$((bad + 1)); continue
  fi
  [ -f "$tmp/report" ] || { echo "FAIL: $name: allocation $n: no report (exit $rc)"; bad=$((bad + 1)); continue; }
  live=$(sed -n 's/.*live=\([-0-9]*\).*/\1/p' "$tmp/report")
  if [ "$live" -gt "$base_live" ]; then
    echo "FAIL: $name: allocation $n failing left $live blocks (baseline $base_live): memory lost on an error path"
    bad=$((bad + 1))
  fi
done
echo "$name: $n_runs runs with one allocation failing, $bad failures"
[ $bad -eq 0 ]
