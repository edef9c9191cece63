#!/usr/bin/env bash
# itunes_verify: verifying a generated backup (100,000 files, 4 GB at BENCH_SCALE=1; every
# file has a recorded SHA-1) against the floor of hashing the same files with sha1sum on
# both cores, page cache warm. Target: at most 1.15x the floor's wall time.
# Also the memory figure: a manifest of 1,000,000 rows (x BENCH_SCALE) verified, peak RSS
# from /usr/bin/time -v. Target: under 200 MiB.
set -euo pipefail
build=$1
scale=${BENCH_SCALE:-1}
tool="$build/plugins/itunes/itunes-tool"
[ -x "$tool" ] || { echo "itunes_verify: $tool is not built" >&2; exit 1; }
files=$(awk -v s="$scale" 'BEGIN { n = int(100000 * s); print (n < 10 ? 10 : n) }')
bytes=$(awk -v s="$scale" 'BEGIN { printf "%.0f", 4e9 * s }')
rows=$(awk -v s="$scale" 'BEGIN { n = int(1000000 * s); print (n < 10 ? 10 : n) }')
work=$(mktemp -d "${TMPDIR:-/tmp}/itunes-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "generating $files files, $bytes bytes in $work"
"$tool" generate "$work/b" --files "$files" --bytes "$bytes" >/dev/null
list="$work/list"
(cd "$work/b" && find . -mindepth 2 -type f -print0) > "$list"
cat_all() { (cd "$work/b" && xargs -0 cat < "$list" > /dev/null); }
cat_all # warm the page cache

wall() { # command... -> best wall seconds of 3
  local best="" s e t
  for _ in 1 2 3; do
    s=$(date +%s%N); "$@" > /dev/null 2>&1 || true; e=$(date +%s%N)
    t=$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
    if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best=$t; fi
  done
  echo "$best"
}
floor() { (cd "$work/b" && xargs -0 -P2 -n 256 sha1sum < "$list" > /dev/null); }
ours=$(wall "$tool" verify "$work/b" --threads 2)
"$tool" verify "$work/b" --threads 2 | tail -1 | grep -q "ok=true" || { echo "verify did not pass" >&2; exit 1; }
ref=$(wall floor)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
echo "RESULT itunes_verify wall ours=$ours ref=$ref unit=s ratio=$(ratio "$ours" "$ref") ref_tool=\"sha1sum on 2 cores (xargs -P2), cache warm\" target=\"<= 1.15x\""

rm -rf "$work/b"
echo "generating a manifest of $rows rows (empty files) for the memory figure"
"$tool" generate "$work/m" --files "$rows" --bytes 0 >/dev/null
/usr/bin/time -v "$tool" verify "$work/m" --threads 2 > /dev/null 2> "$work/time" || true
kib=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$work/time")
mib=$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')
echo "RESULT itunes_verify rss_${rows}_rows ours=$mib ref=200 unit=MiB ratio=$(ratio "$mib" 200) ref_tool=\"the 200 MiB budget\" target=\"< 200 MiB for 1,000,000 rows\""
