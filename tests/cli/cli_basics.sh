#!/bin/sh
# Every command answers --help with a usage line and exit 0; unknown commands and options
# are usage errors (2); commands not built yet say so and exit 6; the man page lists every
# error name and every command.
set -u
revive=$1 src=$2
fail() { echo "FAIL: $*"; exit 1; }
commands=$("$revive" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } /^$/ { on = 0 }')
[ -n "$commands" ] || fail "no commands in --help"
for c in $commands; do
  out=$("$revive" "$c" --help 2>&1) || fail "'revive $c --help' exited $?"
  [ -n "$out" ] || fail "'revive $c --help' printed nothing"
  grep -q "^\.B.*$c\|^\.BI \"$c\|$c" "$src/docs/revive.1" || fail "revive.1 does not mention '$c'"
done
"$revive" no-such-command >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown command is not exit 2"
"$revive" --no-such-option >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option is not exit 2"
"$revive" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no command is not exit 2"
"$revive" -o novalue version >/dev/null 2>&1; [ $? -eq 2 ] || fail "-o without = is not exit 2"
"$revive" version | grep -q 'plugin ABI 1\.' || fail "version lacks the ABI"
for c in $commands; do
  out=$("$revive" "$c" 2>&1 </dev/null); rc=$?
  if echo "$out" | grep -q 'not built yet in this version'; then
    [ $rc -eq 6 ] || fail "'revive $c' says not built but exits $rc"
  fi
done
# A broken config file is named, with line and column, and stops the command.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '{"usb": ' > "$tmp/c.json"
out=$("$revive" --config "$tmp/c.json" version 2>&1); rc=$?
[ $rc -eq 1 ] || fail "broken config: exit $rc"
echo "$out" | grep -q "$tmp/c.json: line 1" || fail "broken config not named: $out"
# The man page lists every error name of errors.h.
for name in $(sed -n 's/.*X([A-Z_]*, *[0-9]*, *"\([a-z_]*\)".*/\1/p' "$src/sdk/include/revive/errors.h"); do
  grep -q "^\.B $name\$" "$src/docs/revive.1" || fail "revive.1 lacks error '$name'"
done
echo "ok: $(echo "$commands" | wc -w) commands checked"
