#!/usr/bin/env bash
# Checks that C++ sources are clang-format clean (.clang-format, Debian 12's
# clang-format 14, installed by scripts/install-deps.sh).
#
#   scripts/check-format.sh            every tracked .cpp/.hpp (what make test runs)
#   scripts/check-format.sh BASE       only the files changed since git rev BASE
#                                      (committed or not), e.g. origin/main
#
# Exits 1 naming the files that differ; `make format` rewrites them.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT="${CLANG_FORMAT:-clang-format-14}"
if [ $# -gt 0 ]; then
  mapfile -t files < <(git diff --name-only --diff-filter=ACMR "$1" -- '*.cpp' '*.hpp')
else
  mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
fi
[ ${#files[@]} -eq 0 ] && exit 0
# --dry-run -Werror prints "<file>:<line>:<col>: error: code should be
# clang-formatted" for each difference.
rc=0
out=$(printf '%s\0' "${files[@]}" | xargs -0 -P 2 -n 32 "$CLANG_FORMAT" --dry-run -Werror 2>&1) || rc=$?
mapfile -t bad < <(grep -oE '^[^:]+:[0-9]+:[0-9]+: error' <<<"$out" | cut -d: -f1 | sort -u)
if [ "$rc" -ne 0 ] && [ ${#bad[@]} -eq 0 ]; then
  echo "check-format: $CLANG_FORMAT failed:" >&2
  echo "$out" >&2
  exit 1
fi
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: not clang-format clean (run make format):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files clean"
