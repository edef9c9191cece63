#!/usr/bin/env bash
# itunes_extract: extracting an encrypted generated backup (100,000 files, 4 GB at
# BENCH_SCALE=1), decrypting every file, against `openssl enc -d -aes-256-cbc` over the same
# stored bytes (one stream, written to a file in the same folder). Figures are throughput
# in MB/s of stored bytes; target: at least 0.8x openssl's.
# Two figures: `throughput` is the whole extract (one file created per backup file, with
# its folder, mode and time); `decrypt_stream` is `itunes-tool cat` (the same decryption,
# every file's plain bytes into one output file), which isolates the crypto and reading
# from the cost of creating 100,000 files on the filesystem.
set -euo pipefail
build=$1
scale=${BENCH_SCALE:-1}
tool="$build/plugins/itunes/itunes-tool"
[ -x "$tool" ] || { echo "itunes_extract: $tool is not built" >&2; exit 1; }
files=$(awk -v s="$scale" 'BEGIN { n = int(100000 * s); print (n < 10 ? 10 : n) }')
bytes=$(awk -v s="$scale" 'BEGIN { printf "%.0f", 4e9 * s }')
work=$(mktemp -d "${TMPDIR:-/tmp}/itunes-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
export REVIVE_BACKUP_PASSWORD=bench-password

echo "generating an encrypted backup: $files files, $bytes bytes in $work"
"$tool" generate "$work/b" --files "$files" --bytes "$bytes" --encrypted >/dev/null
(cd "$work/b" && find . -mindepth 2 -type f -print0 | xargs -0 cat) > "$work/stream"
stored=$(stat -c %s "$work/stream")

best() { # command... -> best wall seconds of 3; removes $work/x before each run
  local b="" s e t
  for _ in 1 2 3; do
    rm -rf "$work/x" "$work/plain"
    s=$(date +%s%N); "$@" > /dev/null 2>&1 || true; e=$(date +%s%N)
    t=$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
    if [ -z "$b" ] || awk -v t="$t" -v x="$b" 'BEGIN { exit !(t < x) }'; then b=$t; fi
  done
  echo "$b"
}
ours_s=$(best "$tool" extract "$work/b" "$work/x")
"$tool" extract "$work/b" "$work/x2" | grep -q "^files=$files" || { echo "extract incomplete" >&2; exit 1; }
rm -rf "$work/x2"
key=$(printf '%064x' 1)
ref_s=$(best openssl enc -d -aes-256-cbc -nopad -K "$key" -iv 00000000000000000000000000000000 \
        -in "$work/stream" -out "$work/plain")
cat_s=$(best sh -c '"$0" cat "$1" > "$2"' "$tool" "$work/b" "$work/plain")
mbs() { awk -v b="$stored" -v t="$1" 'BEGIN { printf "%.1f", b / t / 1e6 }'; }
ours=$(mbs "$ours_s")
ref=$(mbs "$ref_s")
cat_mbs=$(mbs "$cat_s")
echo "stored bytes $stored; extract ${ours_s}s, cat ${cat_s}s, openssl ${ref_s}s"
echo "RESULT itunes_extract throughput ours=$ours ref=$ref unit=MB/s ratio=$(awk -v a="$ours" -v b="$ref" 'BEGIN { printf "%.3f", a / b }') ref_tool=\"openssl enc -d -aes-256-cbc over the same bytes\" target=\">= 0.8x\""
echo "RESULT itunes_extract decrypt_stream ours=$cat_mbs ref=$ref unit=MB/s ratio=$(awk -v a="$cat_mbs" -v b="$ref" 'BEGIN { printf "%.3f", a / b }') ref_tool=\"openssl enc -d -aes-256-cbc over the same bytes\" target=\">= 0.8x\""
