#!/bin/sh
# Install the SDK to a temporary prefix, build the example out of tree two ways, load it.
set -eu
build=$1 src=$2 revive=$3 cmake=$4 cc=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

"$cmake" --install "$build" --prefix "$prefix" --component sdk >/dev/null
test -f "$prefix/include/revive/plugin.h"

# 1. CMake: find_package(revive-sdk) from the installed copy of the example.
example=$(find "$prefix" -type d -name simple-importer | head -n 1)
test -n "$example" || { echo "FAIL: the example is not installed with the SDK"; exit 1; }
"$cmake" -S "$example" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" >/dev/null
"$cmake" --build "$tmp/cmake-build" >/dev/null
test -f "$tmp/cmake-build/simple_importer.so"

# 2. pkg-config + make, in a copy (the installed example stays clean).
cp -r "$example" "$tmp/pc-src"
PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name revive-sdk.pc)") CC=$cc make -s -C "$tmp/pc-src"
test -f "$tmp/pc-src/simple_importer.so"

# Exactly one exported function symbol: the entry.
exports=$(nm -D --defined-only "$tmp/cmake-build/simple_importer.so" | awk '$2 == "T" { print $3 }')
[ "$exports" = "revive_plugin_entry" ] || { echo "FAIL: exports are: $exports"; exit 1; }

# Both load in revive (one at a time: they share a name, and a duplicate is refused).
for d in "$tmp/cmake-build" "$tmp/pc-src"; do
  out=$(REVIVE_PLUGIN_PATH=$d "$revive" -o plugins.builtin=false --json plugins)
  echo "$out" | grep -q '"name":"simple"' || { echo "FAIL: not loaded from $d: $out"; exit 1; }
  echo "$out" | grep -q '"refused":\[\]' || { echo "FAIL: refusals from $d: $out"; exit 1; }
done

# And it works through the importer capability: inspect and verify a folder backup.
mkdir -p "$tmp/bk/sub"
printf 'hello' > "$tmp/bk/a.txt"
printf '12345678' > "$tmp/bk/sub/b.bin"
printf 'revive-folder-backup 1\n5 a.txt\n8 sub/b.bin\n' > "$tmp/bk/REVIVE-FOLDER-BACKUP"
out=$(REVIVE_PLUGIN_PATH=$tmp/cmake-build "$revive" -o plugins.builtin=false backup inspect "$tmp/bk")
echo "$out" | grep -q 'files *2' || { echo "FAIL: inspect: $out"; exit 1; }
REVIVE_PLUGIN_PATH=$tmp/cmake-build "$revive" -o plugins.builtin=false backup verify "$tmp/bk" >/dev/null
list=$(REVIVE_PLUGIN_PATH=$tmp/cmake-build "$revive" -o plugins.builtin=false backup ls "$tmp/bk")
[ "$list" = "$(printf 'a.txt\nsub/b.bin')" ] || { echo "FAIL: ls printed: $list"; exit 1; }
printf '1234' > "$tmp/bk/sub/b.bin"
if REVIVE_PLUGIN_PATH=$tmp/cmake-build "$revive" -o plugins.builtin=false backup verify "$tmp/bk" >/dev/null 2>&1; then
  echo "FAIL: verify accepted a file of the wrong size"; exit 1
fi
echo "ok: example built with CMake and pkg-config, loaded, used"
