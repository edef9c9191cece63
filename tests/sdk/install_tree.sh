#!/bin/sh
# `cmake --install` to a temporary prefix gives a working revive: the binary runs (its
# RPATH finds librevive), loads the same built-in plugins as the build tree from
# lib/.../revive/plugins, and the manual page and shipped playbooks are installed.
set -eu
build=$1 cmake=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$cmake" --install "$build" --prefix "$tmp/p" >/dev/null
bin=$tmp/p/bin/revive
[ -x "$bin" ] || { echo "FAIL: no bin/revive"; exit 1; }
"$bin" version | grep -q 'plugin ABI' || { echo "FAIL: installed revive does not run"; exit 1; }
[ -f "$tmp/p/share/man/man1/revive.1" ] || { echo "FAIL: man page not installed"; exit 1; }
names() { python3 -c 'import json,sys; print(" ".join(sorted(p["name"] for p in json.load(sys.stdin)["plugins"])))'; }
want=$("$build/revive" --json plugins | names)
got=$(env -u REVIVE_PLUGIN_PATH "$bin" --json plugins | names)
[ "$want" = "$got" ] || { echo "FAIL: installed revive loads '$got', the build tree '$want'"; exit 1; }
for p in $want; do
  find "$tmp/p" -path "*/revive/plugins/$p.so" | grep -q . || { echo "FAIL: plugin $p not under lib/revive/plugins"; exit 1; }
done
if [ -d "$build/scripts" ] && ls "$build/scripts"/*.lua >/dev/null 2>&1; then
  find "$tmp/p/share/revive/scripts" -name '*.lua' | grep -q . || { echo "FAIL: playbooks not installed"; exit 1; }
fi
echo "ok: installed revive runs and loads: ${got:-no plugins}"
