#!/usr/bin/env bash
# zlh backup benchmark (issue 23, docs/backups.md): backup throughput and CPU
# of the agent's archiver against `tar --format=pax -cf - . | zstd -3 --check`
# of the same tree, in the same run. Three sides:
#   - agent: the real zlh-agent (a dev container, --dev-user -) answering
#     GET /backups/archive, read by curl into /dev/null. Its files root, the
#     dev user's workspace ($ROOT/home/dev/workspace), holds the tree;
#   - bench: zlh-backup-bench, the same archiver (files/tar_stream.hpp: an
#     fd-only walk, pax tar, libzstd level 3 with a checksum, pulled 64 KiB at
#     a time) in a process of its own, without HTTP;
#   - peer: tar | zstd -3 --check.
# The tree: region-like files of random bytes (incompressible, like compressed
# chunks), many small text files and a few compressible logs.
#
# Reported per side: MB/s of input (10^6 bytes; median of rounds) and CPU
# (user + system) per MiB of input (median of rounds): for the agent, the
# agent process's utime+stime from /proc/<pid>/stat across the request (curl's
# own CPU is listed apart); for bench and peer, the child processes' CPU
# (cutime+cstime of a subshell that ran them). Throughput on a shared 2-core
# machine swings by 20-30 % with other load; CPU per MiB is the comparable
# figure. Also the output size and the agent's VmHWM (peak RSS) before and
# after the archives. The page cache is warm (every side reads the tree once
# before the timed rounds); the order of the sides rotates every round.
#
# Writes bench/results/backup.md. Never prompts; stops everything it started
# and removes its temporary directory on exit, also on failure or Ctrl-C.
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
VMID=6001

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

for tool in tar zstd python3 awk curl getconf; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; run scripts/install-deps.sh (or make deps)"
done
for b in zlh-backup-bench zlh-agent zlh-shim zlhctl; do
  [ -x "$BIN/$b" ] || die "$BIN/$b missing; build first (make build)"
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer"
[[ "$MIB" =~ ^[1-9][0-9]*$ ]] || die "BENCH_BACKUP_MIB must be a positive integer"
HZ="$(getconf CLK_TCK)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/zlh-bench-backup.XXXXXX")"
ROOT="$TMP/root"
CTL="$BIN/zlhctl"
AGENT_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$AGENT_PID"
  if [ "$rc" -ne 0 ] && [ -s "$TMP/agent.log" ]; then
    log "agent log, request lines left out (last 20 lines):"
    grep -v '"msg":"request"' "$TMP/agent.log" | tail -n 20 >&2 || true
  fi
  if [ -n "${BENCH_KEEP_TMP:-}" ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'log terminated; exit 143' TERM

now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "—"; else printf "%.2f", a / b }'; }
rate() { awk -v b="$INPUT" -v a="$1" -v z="$2" 'BEGIN { printf "%.1f", b / (z - a) / 1e6 }'; }
# CPU ms per MiB of input for a number of clock ticks.
ms_per_mib() { awk -v t="$1" -v hz="$HZ" -v b="$INPUT" 'BEGIN { printf "%.2f", t * 1000 / hz / (b / 1048576) }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
proc_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# "utime stime" of process $1 in clock ticks (all its threads), from
# /proc/<pid>/stat: fields 14 and 15, counted after the "(comm)" field.
proc_ticks() {
  local s f
  s="$(<"/proc/$1/stat")"
  s="${s##*) }"
  read -r -a f <<<"$s"
  echo "${f[11]} ${f[12]}"
}
# Runs "$@" in a subshell and writes "user system" ticks of everything it ran
# (the subshell's cutime and cstime, fields 16 and 17 of its stat, read with
# builtins so nothing else is counted) to the file $CPU_OUT.
CPU_OUT="$TMP/cpu"
child_cpu() {
  (
    "$@"
    read -r s <"/proc/$BASHPID/stat"
    s="${s##*) }"
    read -r -a f <<<"$s"
    echo "${f[13]} ${f[14]}" >"$CPU_OUT"
  )
}

# --- agent with a dev container (as bench/upload.sh) -------------------------------
log "keys, store and agent in $TMP"
"$CTL" keygen --out "$TMP/keys" >/dev/null
"$CTL" catalog init --store "$TMP/store" >/dev/null
mkdir -p "$TMP/rt/tool-1.0.0/bin"
printf '#!/bin/sh\necho "tool 1.0.0"\n' >"$TMP/rt/tool-1.0.0/bin/tool"
chmod 755 "$TMP/rt/tool-1.0.0/bin/tool"
tar -czf "$TMP/tool-1.0.0.tar.gz" -C "$TMP/rt" tool-1.0.0
"$CTL" catalog add --store "$TMP/store" --kind runtime --id tool --version 1.0.0 \
  --file "$TMP/tool-1.0.0.tar.gz" --channel stable --strip 1 --bin bin \
  --verify "bin/tool --version" --expect "tool 1.0.0" >/dev/null
"$CTL" catalog sign --store "$TMP/store" --key "$TMP/keys/catalog.key" >/dev/null
mkdir -p "$ROOT"
PORT="$(free_port)"
"$BIN/zlh-agent" --root "$ROOT" --listen "127.0.0.1:$PORT" --vmid "$VMID" \
  --api-key "$TMP/keys/api.pub" --catalog-key "$TMP/keys/catalog.pub" \
  --artifacts "file://$TMP/store" --dev-user - \
  >"$TMP/agent.stdout" 2>"$TMP/agent.log" </dev/null &
AGENT_PID=$!
AGENT_URL="http://127.0.0.1:$PORT"
deadline=$((SECONDS + 15))
until curl -fsS --max-time 1 "$AGENT_URL/health" >/dev/null 2>&1; do
  running "$AGENT_PID" || die "zlh-agent exited before answering /health"
  [ "$SECONDS" -lt "$deadline" ] || die "zlh-agent did not answer /health within 15 s"
  sleep 0.05
done
# A token for one request (M5): token METHOD TARGET.
token() { "$CTL" token --key "$TMP/keys/api.key" --vmid "$VMID" --ttl 300 --method "$1" --target "$2"; }
code="$(curl -s -o "$TMP/config.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $(token POST /config)" \
  -H 'Content-Type: application/json' \
  -d "{\"vmid\":$VMID,\"container_type\":\"dev\",\"runtime\":\"tool\",\"version\":\"1.0.0\"}" "$AGENT_URL/config")"
[ "$code" = 202 ] || die "POST /config answered $code"
deadline=$((SECONDS + 60))
until curl -fsS -H "Authorization: Bearer $(token GET /status)" "$AGENT_URL/status" | grep -q '"state":"running"'; do
  running "$AGENT_PID" || die "zlh-agent died while provisioning"
  [ "$SECONDS" -lt "$deadline" ] || die "the dev container is not running after 60 s"
  sleep 0.1
done

# --- the tree, in the agent's files root (a dev container: the workspace) ----------
TREE="$ROOT/home/dev/workspace"
[ -d "$TREE" ] || die "no workspace at $TREE after provisioning"
[ -z "$(find "$TREE" -mindepth 1 -print -quit)" ] ||
  die "the workspace is not empty after provisioning: $(find "$TREE" -mindepth 1 | head -n 5 | tr '\n' ' ')"
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
RSS_IDLE="$(proc_kib "$AGENT_PID" VmRSS)"
HWM_BEFORE="$(proc_kib "$AGENT_PID" VmHWM)"

# --- the sides: each runs once, fills LAST_MBPS, LAST_TICKS, LAST_OUT -----------------
peer_pipe() { tar -C "$TREE" --format=pax -cf - . | zstd -3 --check -q -c; }
side_bench() {
  local t0 t1
  t0="$(now)"
  child_cpu "$BIN/zlh-backup-bench" "$TREE" "$INPUT" >"$TMP/bench.json"
  t1="$(now)"
  LAST_MBPS="$(rate "$t0" "$t1")"
  read -r LAST_USER LAST_SYS <"$CPU_OUT"
  LAST_OUT="$(json_field "$(<"$TMP/bench.json")" bytes_out)"
  BENCH_RSS="$(json_field "$(<"$TMP/bench.json")" max_rss_kib)"
}
side_peer() {
  local t0 t1
  t0="$(now)"
  child_cpu peer_pipe >/dev/null
  t1="$(now)"
  LAST_MBPS="$(rate "$t0" "$t1")"
  read -r LAST_USER LAST_SYS <"$CPU_OUT"
  LAST_OUT="$PEER_OUT"
}
# GET /backups/archive into $1 (default /dev/null); the token is minted before
# the clock starts. Checks the status, curl's exit (a cut-short chunked body
# fails it) and the size against the bench's output of the same tree.
side_agent() {
  local dest="${1:-/dev/null}" auth u0 s0 u1 s1 t0 t1 code bytes cu cs
  auth="Authorization: Bearer $(token GET /backups/archive)"
  read -r u0 s0 <<<"$(proc_ticks "$AGENT_PID")"
  t0="$(now)"
  child_cpu curl -sS -o "$dest" -w '%{http_code} %{size_download}\n' -H "$auth" \
    "$AGENT_URL/backups/archive" >"$TMP/curl.out" || die "curl GET /backups/archive failed: $(cat "$TMP/curl.out")"
  t1="$(now)"
  read -r u1 s1 <<<"$(proc_ticks "$AGENT_PID")"
  running "$AGENT_PID" || die "zlh-agent died during GET /backups/archive"
  read -r code bytes <"$TMP/curl.out"
  [ "$code" = 200 ] || die "GET /backups/archive answered $code"
  awk -v b="$bytes" -v r="$REF_OUT" 'BEGIN { exit !(b > 0.99 * r && b < 1.01 * r) }' ||
    die "GET /backups/archive gave $bytes bytes; the archiver alone gave $REF_OUT for the same tree"
  LAST_MBPS="$(rate "$t0" "$t1")"
  LAST_USER=$((u1 - u0))
  LAST_SYS=$((s1 - s0))
  LAST_OUT="$bytes"
  read -r cu cs <"$CPU_OUT"
  CURL_TICKS=$((cu + cs))
}

# --- warm-up: every side reads the tree once; the agent's archive is checked -----
log "warm-up (input $INPUT bytes)"
"$BIN/zlh-backup-bench" "$TREE" "$INPUT" >"$TMP/bench.json"
REF_OUT="$(json_field "$(<"$TMP/bench.json")" bytes_out)"
PEER_OUT="$(peer_pipe | wc -c)"
side_agent "$TMP/archive.tar.zst"
zstd -t -q "$TMP/archive.tar.zst" || die "the agent's archive does not pass zstd -t"
entries="$(zstd -dc "$TMP/archive.tar.zst" | tar -tvf - | grep -c '^-')"
files="$(find "$TREE" -type f | wc -l)"
[ "$entries" = "$files" ] || die "the agent's archive lists $entries files; the tree has $files"
rm -f "$TMP/archive.tar.zst"
log "the agent's archive: $LAST_OUT bytes, zstd -t passes, $entries files as in the tree"
# The agent's own background CPU over an idle second, for scale.
read -r u0 s0 <<<"$(proc_ticks "$AGENT_PID")"
sleep 2
read -r u1 s1 <<<"$(proc_ticks "$AGENT_PID")"
IDLE_TICKS_2S=$((u1 + s1 - u0 - s0))

# --- rounds ----------------------------------------------------------------------------
declare -A MBPS TICKS SYS OUT
SIDES=(agent bench peer)
CURL_ALL=()
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
  line="round $r/$ROUNDS:"
  for k in 0 1 2; do
    s="${SIDES[$(((k + r - 1) % 3))]}"
    "side_$s"
    MBPS[$s]+="$LAST_MBPS "
    TICKS[$s]+="$((LAST_USER + LAST_SYS)) "
    SYS[$s]+="$LAST_SYS "
    OUT[$s]="$LAST_OUT"
    if [ "$s" = agent ]; then CURL_ALL+=("$CURL_TICKS"); fi
    line+=" $s $LAST_MBPS MB/s $(ms_per_mib "$((LAST_USER + LAST_SYS))") ms/MiB,"
  done
  log "${line%,}"
done
HWM_AFTER="$(proc_kib "$AGENT_PID" VmHWM)"
RSS_AFTER="$(proc_kib "$AGENT_PID" VmRSS)"
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

declare -A M C CS
for s in "${SIDES[@]}"; do
  # shellcheck disable=SC2086 # the lists are space-separated numbers
  M[$s]="$(printf '%.1f' "$(median ${MBPS[$s]})")"
  # shellcheck disable=SC2086
  C[$s]="$(ms_per_mib "$(median ${TICKS[$s]})")"
  # shellcheck disable=SC2086
  CS[$s]="$(ms_per_mib "$(median ${SYS[$s]})")"
done
CURL_MS="$(ms_per_mib "$(median "${CURL_ALL[@]}")")"
IDLE_MS_PER_S="$(awk -v t="$IDLE_TICKS_2S" -v hz="$HZ" 'BEGIN { printf "%.1f", t * 1000 / hz / 2 }')"
cpu_model="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
ms_list() {
  local t out=""
  for t in $1; do out+="$(ms_per_mib "$t") "; done
  echo "${out% }"
}

row() { echo "| $2 | ${M[$1]} | ${MBPS[$1]% } | ${C[$1]} | $(ms_list "${TICKS[$1]}") | ${CS[$1]} | ${OUT[$1]} |"; }
table="| side | MB/s of input (median of $ROUNDS) | runs | CPU ms per MiB, user + sys (median) | runs | of which sys (median) | output bytes |
|---|---:|---|---:|---|---:|---:|
$(row agent 'zlh-agent GET /backups/archive (HTTP, curl to /dev/null)')
$(row bench 'zlh-backup-bench (TarStream alone, 64 KiB pulls)')
$(row peer 'tar --format=pax \| zstd -3 --check')"
printf '%s\n' "$table"
mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Backup throughput and CPU (issue 23)"
  echo
  echo "- Command: \`$CMD\` (part of \`make bench\`)"
  echo "- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- Machine: nproc=$(nproc), ${cpu_model:-unknown CPU}, $(uname -sr); load average $LOAD_BEFORE before the rounds, $LOAD_AFTER after"
  echo "- Tools: $(zstd --version | sed 's/^\*\*\* //; s/ \*\*\*$//; s/, by .*//'), $(tar --version | head -n 1), curl $(curl --version | awk 'NR == 1 { print $2 }')"
  echo "- Tree: $INPUT bytes in the dev container's workspace (85 % random region files,"
  echo "  2000 small player files, one log); all three sides archive that directory."
  echo "- Median of $ROUNDS rounds, warm page cache, output discarded, order of the sides"
  echo "  rotated every round. MB/s: input bytes / wall clock around the whole command"
  echo "  (process start, and for the agent the HTTP request, included). CPU: user + system"
  echo "  ($HZ ticks/s): the agent process across the request (its threads; not curl), the"
  echo "  child processes for zlh-backup-bench and for tar and zstd together."
  echo
  echo "$table"
  echo
  echo "CPU per MiB, agent / peer: **$(ratio "${C[agent]}" "${C[peer]}")**; archiver alone / peer:"
  echo "**$(ratio "${C[bench]}" "${C[peer]}")**. Throughput, agent / peer: $(ratio "${M[agent]}" "${M[peer]}");"
  echo "archiver alone / peer: $(ratio "${M[bench]}" "${M[peer]}")."
  echo
  echo "| memory | MiB |"
  echo "|---|---:|"
  echo "| agent VmRSS before the archives | $(mib "$RSS_IDLE") |"
  echo "| agent VmHWM before the archives (provisioning included) | $(mib "$HWM_BEFORE") |"
  echo "| agent VmHWM after $((ROUNDS + 1)) archives of $((INPUT / 1048576)) MiB | $(mib "$HWM_AFTER") |"
  echo "| agent VmRSS after the archives | $(mib "$RSS_AFTER") |"
  echo "| zlh-backup-bench peak RSS (whole process) | $(mib "$BENCH_RSS") |"
  echo
  echo "Also measured: curl's own CPU for the agent side, $CURL_MS ms per MiB of input"
  echo "(reading the chunked body); the idle agent's background CPU, $IDLE_MS_PER_S ms per second"
  echo "(counted in its figure for as long as a request lasts). The agent's archive was"
  echo "checked once: HTTP 200, \`zstd -t\` passes, as many files as the tree; every timed"
  echo "answer was 200 with a size within 1 % of zlh-backup-bench's output."
  echo
  echo "## Reading"
  echo
  echo "- The peer is two processes, tar and zstd, which run on two cores when they are"
  echo "  free; the agent walks, tars and compresses one download on one thread (plus curl"
  echo "  in its own process). On a shared 2-core machine throughput moves by 20-30 % with"
  echo "  the other load (see the load average above and the per-round runs), so compare"
  echo "  the CPU per MiB: it is the cost of a backup whatever the machine is doing."
  echo "- Part of the peer's extra CPU is system time (the sys column): the tar stream"
  echo "  crosses a pipe (tar writes every byte into it, zstd reads it back), while the"
  echo "  archiver reads the files into libarchive and libzstd in one process. The peer's"
  echo "  user time is higher too. The agent's figure includes sending the archive over"
  echo "  loopback TCP (the peer's output goes to /dev/null for free); curl's receiving"
  echo "  is listed apart."
  echo "- 85 % of the tree is random and does not compress: for both compressors most of"
  echo "  the work is detecting that and copying the blocks, so the figures measure the"
  echo "  walk, the tar framing, the copies and the checksum more than compression."
  echo "- Flat memory: the agent's VmHWM after the archives against before them shows"
  echo "  whether an archive of the whole tree grew the process."
} >"$RESULTS"
log "wrote $RESULTS"
cat "$RESULTS"
