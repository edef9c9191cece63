#!/usr/bin/env bash
# fuzz: a libFuzzer campaign per target in tests/fuzz (clang, ASan+UBSan), each for
# FUZZ_SECONDS (default 600 × BENCH_SCALE), starting from the checked-in seed corpus copied
# to a scratch directory. Prints executions and coverage per target; a crash leaves its
# input in build-fuzz/findings/ and fails the run. Not a ratio against another tool: the
# "ref" column is the target of 1,000,000 executions without a finding.
set -uo pipefail
build=$1
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz_build=${FUZZ_BUILD_DIR:-$src/build-fuzz}
seconds=$(awk -v s="${BENCH_SCALE:-1}" -v f="${FUZZ_SECONDS:-}" 'BEGIN { print (f != "" ? f : int(600 * s) < 5 ? 5 : int(600 * s)) }')
CC=clang cmake -S "$src" -B "$fuzz_build" -DREVIVE_FUZZ=ON -DREVIVE_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build "$fuzz_build" -j "$(nproc)" >/dev/null || exit 1
mkdir -p "$fuzz_build/findings"
status=0
for src_file in "$src"/tests/fuzz/*_fuzz_*.c; do
  name=$(basename "$src_file" .c)
  bin="$fuzz_build/tests/fuzz/$name"
  [ -x "$bin" ] || { echo "fuzz: $name not built (its library is not part of this build)"; continue; }
  part=${name%%_fuzz_*} what=${name#*_fuzz_}
  corpus=$(mktemp -d)
  cp -r "$src/tests/fuzz/corpus/${part}_${what}/." "$corpus/" 2>/dev/null || true
  log=$(mktemp)
  "$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$fuzz_build/findings/$name-" "$corpus" > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | awk '{ print $2 }')
  [ "$rc" -eq 0 ] || { echo "fuzz: $name FOUND A CRASH (see $fuzz_build/findings/)"; tail -n 20 "$log"; status=1; }
  echo "RESULT fuzz $name ours=${execs:-0} ref=1000000 unit=executions ratio=$(awk -v a="${execs:-0}" 'BEGIN { printf "%.2f", a / 1000000 }') ref_tool=\"target: 1e6 executions, no finding\" target=\"coverage ${cov:-?} edges, ${seconds}s\""
  rm -rf "$corpus" "$log"
done
exit $status
