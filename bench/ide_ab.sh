#!/bin/bash
# Before/after comparison of zlh-api's IDE proxy hot path in one run: two
# builds' binaries (A = before, B = after) through bench/ide.sh, in turn
# A B A B …, each run with its nginx peer on the same upstream, so the
# machine's drift hits both sides alike. The figure that matters is CPU per
# proxied request (user + system µs), which moves far less with the load
# of these shared 2-core machines than requests/s does.
#
#   BENCH_A_BIN=<dir with zlh-api, zlh-agent, zlh-shim, zlhctl> \
#   BENCH_B_BIN=<dir …> BENCH_AB_PAIRS=2 BENCH_AB_LABEL="session split" bench/ide_ab.sh
#
# Writes bench/results/ide_ab.md (each run's rows, then the medians).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
A="${BENCH_A_BIN:?BENCH_A_BIN: the bin dir of the build before}"
B="${BENCH_B_BIN:?BENCH_B_BIN: the bin dir of the build after}"
PAIRS="${BENCH_AB_PAIRS:-2}"
LABEL="${BENCH_AB_LABEL:-A = before, B = after}"
OUT="$REPO/bench/results/ide_ab.md"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# One ide.sh result file → "rps user sys ngx_user ngx_sys".
figures() {
  awk -F'|' '
    /^\| requests\/s \(median\)/ { rps = $3 + 0 }
    /^\| CPU per request, user/ { u = $3 + 0; nu = $4 + 0 }
    /^\| CPU per request, system/ { s = $3 + 0; ns = $4 + 0 }
    END { printf "%s %s %s %s %s\n", rps, u, s, nu, ns }' "$1"
}

rows=()
declare -A TOT
for ((i = 1; i <= PAIRS; i++)); do
  for side in A B; do
    dir=$A
    [ "$side" = B ] && dir=$B
    echo "ide_ab: run $i, $side ($dir)" >&2
    BENCH_BIN="$dir" BENCH_IDE_IDLE="${BENCH_IDE_IDLE:-200}" BENCH_IDE_ROUNDS="${BENCH_IDE_ROUNDS:-2}" \
      BENCH_IDE_RESULTS="$TMP/$side$i.md" "$REPO/bench/ide.sh" >&2
    read -r rps u s nu ns < <(figures "$TMP/$side$i.md")
    rows+=("| $i | $side | $rps | $u | $s | $(awk -v a="$u" -v b="$s" 'BEGIN { printf "%.1f", a + b }') | $nu | $ns |")
    TOT[$side]+="$(awk -v a="$u" -v b="$s" 'BEGIN { printf "%.1f", a + b }') "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
MA="$(echo "${TOT[A]}" | median)"
MB="$(echo "${TOT[B]}" | median)"
{
  echo "# IDE proxy before/after ($LABEL)"
  echo
  echo "- Command: \`BENCH_A_BIN=… BENCH_B_BIN=… BENCH_AB_PAIRS=$PAIRS bench/ide_ab.sh\`, $(date -u +%Y-%m-%dT%H:%MZ), nproc=$(nproc)."
  echo "- Each run is bench/ide.sh (BENCH_IDE_ROUNDS=${BENCH_IDE_ROUNDS:-2}, idle WebSockets ${BENCH_IDE_IDLE:-200}) with the given binaries; runs alternate A, B."
  echo "- CPU per request: zlh-api's user and system time over the measured wrk runs divided by the requests (bench/ide.sh). nginx's own figures in the same run are the control."
  echo
  echo "| run | build | zlh-api req/s | user µs/req | system µs/req | total µs/req | nginx user µs/req | nginx system µs/req |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Median total CPU per request: A $MA µs, B $MB µs ($(awk -v a="$MA" -v b="$MB" 'BEGIN { printf "%+.1f %%", (b - a) * 100 / a }'))."
} >"$OUT"
cat "$OUT"
