#!/usr/bin/env bash
# zlh backup benchmark (issue 23, docs/backups.md): the agent's archiver
# (files/tar_stream.hpp, the engine of GET /backups/archive: an fd-only walk,
# pax tar, libzstd level 3 with a checksum, pulled 64 KiB at a time) over a
# world-like tree, against `tar --format=pax -cf - . | zstd -3 --check` of
# the same tree in the same run. The tree: region-like files of random
# bytes (incompressible, like compressed chunks), many small text files and
# a few compressible logs. Reported: MB/s of input (10^6 bytes; median of
# rounds), output size, and the archiver's peak RSS. The page cache is warm
# for both sides (each side reads the tree once before the timed rounds).
#
# Writes bench/results/backup.md. Never prompts; removes its temporary
# directory on exit.
#
# Knobs: BENCH_BACKUP_MIB=512  BENCH_ROUNDS=3  BENCH_BIN=<repo>/build/bin  BENCH_KEEP_TMP=1
set -euo pipefail
export LC_ALL=C

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
CMD="bench/backup.sh"
for var in BENCH_BACKUP_MIB BENCH_ROUNDS BENCH_BIN; do
  if [ -n "${!var:-}" ]; then CMD="$var=${!var} $CMD"; fi
done
BIN="${BENCH_BIN:-$REPO/build/bin}"
MIB="${BENCH_BACKUP_MIB:-512}"
ROUNDS="${BENCH_ROUNDS:-3}"
RESULTS="$REPO/bench/results/backup.md"

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

for tool in tar zstd python3 awk; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; run scripts/install-deps.sh (or make deps)"
done
[ -x "$BIN/zlh-backup-bench" ] || die "$BIN/zlh-backup-bench missing; build first (make build)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/zlh-bench-backup.XXXXXX")"
cleanup() { if [ -n "${BENCH_KEEP_TMP:-}" ]; then log "kept $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT

TREE="$TMP/tree"
log "building a ${MIB} MiB tree in $TREE"
python3 - "$TREE" "$MIB" <<'PY'
import os, random, sys
root, mib = sys.argv[1], int(sys.argv[2])
rnd = random.Random(23)
os.makedirs(f"{root}/world/region")
os.makedirs(f"{root}/world/playerdata")
os.makedirs(f"{root}/logs")
region = mib * 1024 * 1024 * 85 // 100
n = max(1, region // (8 << 20))
for i in range(n):
    with open(f"{root}/world/region/r.{i}.0.mca", "wb") as f:
        f.write(os.urandom(region // n))
for i in range(2000):
    with open(f"{root}/world/playerdata/{i:08x}.dat", "w") as f:
        f.write(("player %d x=%d y=%d z=%d\n" % (i, rnd.randint(-1e4, 1e4), 64, i)) * 40)
logs = mib * 1024 * 1024 - region - 2000 * 1000
line = "[12:00:00] [Server thread/INFO]: Saving chunks for level 'ServerLevel[world]'/minecraft:overworld\n"
with open(f"{root}/logs/latest.log", "w") as f:
    f.write(line * max(1, logs // len(line)))
PY
INPUT="$(du -sb "$TREE" | awk '{ print $1 }')"

now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

"$BIN/zlh-backup-bench" "$TREE" "$INPUT" >/dev/null
tar -C "$TREE" --format=pax -cf - . | zstd -3 --check -q -c >/dev/null
peer_out="$(tar -C "$TREE" --format=pax -cf - . | zstd -3 --check -q -c | wc -c)"
rate() { awk -v b="$INPUT" -v a="$1" -v z="$2" 'BEGIN { printf "%.1f", b / (z - a) / 1e6 }'; }
json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
zlh_mbps=() peer_mbps=() zlh_out=0 zlh_rss=0
for r in $(seq "$ROUNDS"); do
  # Both sides timed the same way: wall clock around the whole command.
  t0="$(now)"
  j="$("$BIN/zlh-backup-bench" "$TREE" "$INPUT")"
  t1="$(now)"
  zlh_mbps+=("$(rate "$t0" "$t1")")
  zlh_out="$(json_field "$j" bytes_out)"
  zlh_rss="$(json_field "$j" max_rss_kib)"
  t0="$(now)"
  tar -C "$TREE" --format=pax -cf - . | zstd -3 --check -q -c >/dev/null
  t1="$(now)"
  peer_mbps+=("$(rate "$t0" "$t1")")
  log "round $r: zlh ${zlh_mbps[-1]} MB/s, tar | zstd ${peer_mbps[-1]} MB/s"
done
ZLH="$(median "${zlh_mbps[@]}")"
PEER="$(median "${peer_mbps[@]}")"
RATIO="$(awk -v a="$ZLH" -v b="$PEER" 'BEGIN { printf "%.2f", a / b }')"

{
  echo "# Backup archiver (issue 23)"
  echo
  echo "Command: \`$CMD\` — $(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -sr)."
  echo
  echo "Tree: $INPUT bytes (85 % random region files, 2000 small player files, one log)."
  echo "Median of $ROUNDS rounds, warm page cache, output discarded, wall clock"
  echo "around each whole command (process start included)."
  echo
  echo "| side | MB/s of input | output bytes |"
  echo "|---|---|---|"
  printf '| zlh TarStream (zstd -3, checksum, 64 KiB pulls) | %.1f | %s |\n' "$ZLH" "$zlh_out"
  printf '| tar --format=pax \\| zstd -3 --check | %.1f | %s |\n' "$PEER" "$peer_out"
  echo
  echo "zlh / peer: **$RATIO**. Archiver peak RSS: $(awk -v k="$zlh_rss" 'BEGIN { printf "%.1f", k / 1024 }') MiB"
  echo "(the whole process, for a tree of $((INPUT / 1048576)) MiB: memory does not grow with the tree)."
  echo
  echo "The peer runs tar and zstd as two processes (two cores when free); the"
  echo "archiver walks, tars and compresses on one thread, as the agent does for"
  echo "one download."
} >"$RESULTS"
log "wrote $RESULTS"
cat "$RESULTS"
