#!/bin/sh
# A waiting playbook session must stay under 8 MiB resident (issue 5). $1: session_bench.
out=$("$1" 4 1) || exit 1
echo "$out"
echo "$out" | awk -F= '/^rss_mib_per_session=/ { m = $2 } END { if (m == "" || m + 0 >= 8) exit 1 }'
