#!/usr/bin/env bash
# runtime_wait: what the playbook runtime costs per device session while playbooks wait on
# their phones — CPU (share of one core) and resident memory per session. SESSIONS
# sessions (20 at BENCH_SCALE=1) each run a playbook through rv_run (sandbox, journal,
# prelude) that waits on a phone that never comes, for WAIT seconds (10 at scale 1).
# The engine side is a stand-in that blocks (tests/lua/session_bench.c), so this is the
# runtime's share; the engine's registry polling is the lead's startup/engine benchmarks.
# There is no field tool to compare with: ref is the target from issue 5.
set -euo pipefail
build=$1
scale=${BENCH_SCALE:-1}
sessions=$(awk -v s="$scale" 'BEGIN { n = int(20 * s); print (n < 2 ? 2 : n) }')
wait=$(awk -v s="$scale" 'BEGIN { w = 10 * s; print (w < 1 ? 1 : w) }')
tool="$build/tests/lua/session_bench"
if [ ! -x "$tool" ]; then
  echo "runtime_wait: $tool is not built (configure with REVIVE_TESTS=ON and build session_bench)" >&2
  exit 1
fi
out=$("$tool" "$sessions" "$wait")
echo "$out"
cpu=$(echo "$out" | awk -F= '/^cpu_percent_per_session=/ { print $2 }')
mem=$(echo "$out" | awk -F= '/^rss_mib_per_session=/ { print $2 }')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
echo "RESULT runtime_wait cpu_per_session ours=$cpu ref=1 unit=percent_of_a_core ratio=$(ratio "$cpu" 1) ref_tool=\"issue 5 target\" target=\"under 1% of a core per session while waiting\""
echo "RESULT runtime_wait memory_per_session ours=$mem ref=8 unit=MiB ratio=$(ratio "$mem" 8) ref_tool=\"issue 5 target\" target=\"under 8 MiB per session\""
