#!/usr/bin/env bash
# startup: `revive plugins` with every built-in plugin loaded, started afresh N times,
# against `true` (the floor: fork+exec) and `ideviceinfo --help` (a libimobiledevice tool)
# in the same run. Target: under 15 ms per start.
set -euo pipefail
build=$1
n=$(awk -v s="${BENCH_SCALE:-1}" 'BEGIN { n = int(200 * s); print (n < 20 ? 20 : n) }')
revive="$build/revive"
per_run_ms() { # command... -> mean wall ms over n runs
  local start end
  "$@" >/dev/null 2>&1 || true   # warm the page cache once: we measure process start, not disk
  start=$(date +%s%N)
  for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>&1 || true; done
  end=$(date +%s%N)
  awk -v a="$start" -v b="$end" -v n="$n" 'BEGIN { printf "%.3f", (b - a) / n / 1e6 }'
}
loaded=$("$revive" --json plugins | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["plugins"]))' || echo 0)
echo "revive loads $loaded plugins; $n starts each"
ours=$(per_run_ms "$revive" plugins)
floor=$(per_run_ms /usr/bin/true)
ref=$(per_run_ms ideviceinfo --help)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "RESULT startup plugins_wall ours=$ours ref=$ref unit=ms ratio=$(ratio "$ours" "$ref") ref_tool=\"ideviceinfo --help\" target=\"< 15 ms per start\""
echo "RESULT startup vs_true ours=$ours ref=$floor unit=ms ratio=$(ratio "$ours" "$floor") ref_tool=\"true (fork+exec floor)\" target=\"-\""
awk -v o="$ours" 'BEGIN { exit !(o < 15) }' && echo "startup: within the 15 ms target" || echo "startup: OVER the 15 ms target"
