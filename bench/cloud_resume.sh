#!/usr/bin/env bash
# cloud_resume: the connection is cut at 50% of a 2 GB file (BENCH_SCALE=1); the next run
# finishes it. Figure: body bytes the server sent beyond the file's size (downloaded
# twice), counted by the server. Ours: cloud-tool fetch, which resumes from its part file
# (Range + If-Range). Reference: what the field's restore tool does, downloading again
# from zero, done here with curl. Target: under 1 MiB.
set -euo pipefail
. "$(dirname "$0")/../tests/cloud/bench_common.sh"
half=$((size / 2))
echo "cloud_resume: $size bytes, cut at $half"

reset_stats
REVIVE_CLOUD_RETRIES=0 "$tool" fetch --cache "$work/cache" --sha1 "$sha" \
  "$base/fw.ipsw?drop=$half" > /dev/null 2>&1 && { echo "the cut did not happen" >&2; exit 1; }
"$tool" fetch --cache "$work/cache" --sha1 "$sha" "$base/fw.ipsw" > "$work/ours.txt"
grep -q "verified=1" "$work/ours.txt" || { echo "resume did not verify" >&2; exit 1; }
ours=$(( $(sent) - size ))

reset_stats
curl -s -o "$work/ref/fw.ipsw" "$base/fw.ipsw?drop=$half" && { echo "the cut did not happen" >&2; exit 1; }
curl -s -o "$work/ref/fw.ipsw" "$base/fw.ipsw"
ref=$(( $(sent) - size ))
echo "downloaded twice: ours $ours bytes, download-again $ref bytes"
echo "RESULT cloud_resume twice_bytes ours=$ours ref=$ref unit=bytes ratio=$(ratio "$ours" "$ref") ref_tool=\"download again from zero (curl), as idevicerestore does\" target=\"< 1048576 bytes\""
awk -v o="$ours" 'BEGIN { exit !(o < 1048576) }' && echo "cloud_resume: within target" || echo "cloud_resume: OVER target"
