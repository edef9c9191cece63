#!/usr/bin/env bash
# cloud_fetch: download a 2 GB file (BENCH_SCALE=1) from the loopback server and verify its
# SHA1. Ours: cloud-tool fetch --sha1 (hashes inline while writing, fsyncs, enters the
# cache). Reference: `curl -o` followed by `sha1sum`, the two passes a script would do.
# Server: tests/cloud/faulty_server.py serving with socket.sendfile (not the bottleneck).
# Target: wall <= 0.6x the pair, CPU no more than theirs.
set -euo pipefail
. "$(dirname "$0")/../tests/cloud/bench_common.sh"
echo "cloud_fetch: $size bytes from $base"
cat "$work/root/fw.ipsw" > /dev/null   # both sides read the served file from the page cache

measure() { # command... -> "wall cpu" seconds
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" > /dev/null
  awk '{ printf "%.3f %.3f", $1, $2 + $3 }' "$work/time"
}
ref=$(measure bash -c "curl -s -o '$work/ref/fw.ipsw' '$base/fw.ipsw' && sha1sum '$work/ref/fw.ipsw'")
[ "$(sha1sum "$work/ref/fw.ipsw" | cut -d' ' -f1)" = "$sha" ] || { echo "reference download wrong" >&2; exit 1; }
rm -f "$work/ref/fw.ipsw"
ours=$(measure "$tool" fetch --cache "$work/cache" --sha1 "$sha" "$base/fw.ipsw")
[ -f "$work/cache/files/sha1-$sha" ] || { echo "our download did not verify" >&2; exit 1; }
read -r ow oc <<<"$ours"
read -r rw rc <<<"$ref"
echo "ours: wall ${ow}s cpu ${oc}s; curl -o + sha1sum: wall ${rw}s cpu ${rc}s"
echo "RESULT cloud_fetch wall ours=$ow ref=$rw unit=s ratio=$(ratio "$ow" "$rw") ref_tool=\"curl -o + sha1sum\" target=\"<= 0.6\""
echo "RESULT cloud_fetch cpu ours=$oc ref=$rc unit=s ratio=$(ratio "$oc" "$rc") ref_tool=\"curl -o + sha1sum\" target=\"<= 1.0\""
