#!/bin/sh
# Each public header must compile alone, first in a translation unit, in strict C11 and C99
# with every warning an error: a vendor includes them in any order.
set -eu
inc=$1 cc=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
for h in "$inc"/revive/*.h; do
  name=$(basename "$h")
  for std in c11 c99; do
    printf '#include <revive/%s>\nint revive_header_check_%s(void);\nint revive_header_check_%s(void) { return 0; }\n' \
      "$name" "$std" "$std" > "$tmp/t.c"
    "$cc" -std=$std -Wall -Wextra -pedantic -Werror -Wstrict-prototypes -Wmissing-prototypes \
      -I"$inc" -c "$tmp/t.c" -o "$tmp/t.o" || { echo "FAIL: revive/$name does not compile alone ($std)"; exit 1; }
    n=$((n + 1))
  done
done
[ "$n" -ge 10 ] || { echo "FAIL: expected at least 5 headers, checked $((n / 2))"; exit 1; }
echo "ok: $n header compilations"
