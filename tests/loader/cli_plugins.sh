#!/bin/sh
# `revive plugins` names every refused plugin with its reason, in text and in --json,
# and still lists the good ones; it exits 1 when something was refused.
set -u
revive=$1 dir=$2
out=$(REVIVE_PLUGIN_PATH=$dir "$revive" -o plugins.builtin=false --json plugins)
rc=$?
[ "$rc" -eq 1 ] || { echo "expected exit 1 with refusals, got $rc"; exit 1; }
echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
names = sorted(p["name"] for p in d["plugins"])
assert names == ["dup", "good"], names
reasons = {r["path"].rsplit("/", 1)[1]: r["reason"] for r in d["refused"]}
assert "another major" in reasons["other_major.so"], reasons
assert "no \x27revive_plugin_entry\x27 symbol" in reasons["no_entry.so"], reasons
assert "already loaded" in reasons["dup_second.so"], reasons
assert len(reasons) == 9, reasons
print("ok: %d loaded, %d refused" % (len(names), len(reasons)))
' || exit 1
text=$(REVIVE_PLUGIN_PATH=$dir "$revive" -o plugins.builtin=false plugins)
echo "$text" | grep -q "refused.*newer_minor.so" || { echo "text output lacks newer_minor refusal"; echo "$text"; exit 1; }
echo "$text" | grep -q "newer than this revive" || { echo "text output lacks the reason"; exit 1; }
