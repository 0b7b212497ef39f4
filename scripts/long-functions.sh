#!/usr/bin/env bash
# Lists the functions in src/ (tests left out) longer than LIMIT lines
# (default 80), longest first, with pmccabe (Debian's pmccabe package).
#
#   scripts/long-functions.sh [LIMIT]      e.g. scripts/long-functions.sh 60
#
# pmccabe does not parse C++17 nested namespace openings (`namespace a::b {`)
# nor digit separators (1'000): they are rewritten on a scratch copy first,
# keeping every line where it was, so the line numbers printed are the
# tree's. Output: lines, file:line, function.
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${1:-80}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
git ls-files 'src/*.cpp' 'src/*.hpp' | grep -v '_test\.cpp$' >"$tmp/files"
while read -r f; do
  mkdir -p "$tmp/tree/$(dirname "$f")"
  perl -pe 's/^(\s*(?:inline\s+)?namespace\s+)([A-Za-z_0-9]+(?:::[A-Za-z_0-9]+)+)(\s*\{)/my ($a,$b,$c)=($1,$2,$3); $b =~ s#::#__#g; "$a$b$c"/e; s/(\d)\x27(?=\d)/$1/g' \
    "$f" >"$tmp/tree/$f"
done <"$tmp/files"
cd "$tmp/tree"
pmccabe -v $(cat "$tmp/files") 2>/dev/null |
  awk -F'\t' -v lim="$limit" 'NF >= 6 && $5 > lim { print $5 "\t" $6 }' | sort -t$'\t' -k1,1nr |
  sed -E 's/\(([0-9]+)\):/:\1/'
