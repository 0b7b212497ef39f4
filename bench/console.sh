#!/usr/bin/env bash
# zlh console benchmark (docs/design.md §7, §14): a dev container's console through
# the agent's /console WebSocket (client → zlh-agent → zlh-shim → PTY → login
# shell), compared with the same login shell on a PTY the client opens itself
# (no WebSocket, no agent, no shim), measured in the same run on the same
# machine:
#   - keystroke echo round trip: p50/p90/p99/max of BENCH_SAMPLES single
#     keystrokes, each sent alone and timed until its echo comes back;
#   - bulk output: `head -c BENCH_BULK_BYTES /dev/zero | tr '\0' x` in the
#     shell, MB/s until an end marker printed after it;
#   - RSS (VmRSS) of the zlh-shim holding the console session: idle, right
#     after each bulk run, and its peak (VmHWM). Goal (from the issue): shim
#     RSS per service ≤ 2 MiB, printed as PASS or MISS.
#
# Prints a Markdown table and writes it, with the command, date and machine,
# to bench/results/console.md. Never prompts. On exit, success or failure, it
# stops everything it started (the agent, the console shim and its shell) and
# removes its temporary directory. A missed goal never makes it fail; only a
# broken setup does (a missing tool or binary, an agent that does not start or
# provision, a console that does not answer).
#
# Knobs (environment):
#   BENCH_ROUNDS=3               rounds; each runs rtt and bulk on both sides; medians
#   BENCH_SAMPLES=2000           timed keystrokes per rtt run (after 200 warm-up ones)
#   BENCH_BULK_BYTES=200000000   bytes of output per bulk run
#   BENCH_BIN=<repo>/build/bin   SHIM_RSS_GOAL_MIB=2   BENCH_KEEP_TMP=1 (keep logs)
set -euo pipefail
export LC_ALL=C

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

CMD="bench/console.sh"
for var in BENCH_ROUNDS BENCH_SAMPLES BENCH_BULK_BYTES BENCH_BIN SHIM_RSS_GOAL_MIB; do
  if [ -n "${!var:-}" ]; then CMD="$var=${!var} $CMD"; fi
done

BIN="${BENCH_BIN:-$REPO/build/bin}"
ROUNDS="${BENCH_ROUNDS:-3}"
SAMPLES="${BENCH_SAMPLES:-2000}"
BULK_BYTES="${BENCH_BULK_BYTES:-200000000}"
SHIM_RSS_GOAL_MIB="${SHIM_RSS_GOAL_MIB:-2}"
RESULTS="$REPO/bench/results/console.md"
HEALTH_BODY='{"ok":true,"version":"0.1.0"}'
VMID=6001

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

for tool in curl python3 tar gzip awk; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "'$tool' not found; run scripts/install-deps.sh (or make deps)"
done
for b in zlh-agent zlh-shim zlhctl zlh-console-bench; do
  [ -x "$BIN/$b" ] || die "$BIN/$b missing; build first (make build)"
done
for v in ROUNDS SAMPLES BULK_BYTES; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer"
done

TMP="$(mktemp -d "${TMPDIR:-/tmp}/zlh-bench-console.XXXXXX")"
ROOT="$TMP/root"
AGENT_PID=""
CTL="$BIN/zlhctl"
CLIENT="$BIN/zlh-console-bench"

# "<key> <value>" from a console service's run state file (pid, shim_pid).
state_field() {
  python3 - "$1" "$2" <<'PY' 2>/dev/null || true
import json, sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
if isinstance(v, int) and v > 1:
    print(v)
PY
}

# Console shims outlive the agent by design (docs/design.md §6): stop the ones this
# run created, found through the agent root's run state files. A pid is only
# signalled while /proc says it is still the same program.
stop_consoles() {
  local f spid pid _
  for f in "$ROOT"/run/zlh/console-*.json; do
    [ -e "$f" ] || continue
    spid="$(state_field "$f" shim_pid)"
    pid="$(state_field "$f" pid)"
    if [ -n "$spid" ] && [ "$(cat "/proc/$spid/comm" 2>/dev/null)" = zlh-shim ]; then
      kill -TERM "$spid" 2>/dev/null || true # HUPs the shell, then lingers; TERM ends that too
      for _ in $(seq 50); do
        [ "$(cat "/proc/$spid/comm" 2>/dev/null)" = zlh-shim ] || break
        sleep 0.1
      done
      if [ "$(cat "/proc/$spid/comm" 2>/dev/null)" = zlh-shim ]; then
        kill -TERM "$spid" 2>/dev/null || true
        sleep 0.5
        [ "$(cat "/proc/$spid/comm" 2>/dev/null)" = zlh-shim ] && kill -KILL "$spid" 2>/dev/null || true
      fi
    fi
    if [ -n "$pid" ] && [ -r "/proc/$pid/environ" ] && tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -q "^HOME=$ROOT"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "${SAMPLER_PID:-}" ] && { kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; }
  stop_pid "$AGENT_PID"
  stop_consoles
  if [ "$rc" -ne 0 ] && [ -s "$TMP/agent.log" ]; then
    log "agent log, request lines left out (last 20 lines):"
    grep -v '"msg":"request"' "$TMP/agent.log" | tail -n 20 >&2 || true
  fi
  if [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'log terminated; exit 143' TERM

proc_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# PSS and USS (Private_Clean + Private_Dirty) in kB from smaps_rollup: shared
# library pages count in full in VmRSS, but only once for all shims.
pss_kib() { awk '$1 == "Pss:" { print $2 }' "/proc/$1/smaps_rollup"; }
uss_kib() { awk '$1 ~ /^Private_(Clean|Dirty):$/ { s += $2 } END { print s + 0 }' "/proc/$1/smaps_rollup"; }
# Connected unix sockets of a shim (all but its listening one).
shim_conns() { find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null | awk 'END { print (NR > 0) ? NR - 1 : 0 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.2f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "—"; else printf "%.2f", a / b }'; }
median() {
  local fmt="$1"
  shift
  printf '%s\n' "$@" | sort -g | awk -v fmt="$fmt" '{ a[NR] = $1 }
    END { printf fmt "\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
minmax() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }

# --- store with a tiny runtime, keys, agent ----------------------------------
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
  --artifacts "file://$TMP/store" --dev-user - >"$TMP/agent.stdout" 2>"$TMP/agent.log" </dev/null &
AGENT_PID=$!
AGENT_URL="http://127.0.0.1:$PORT"
WS_URL="ws://127.0.0.1:$PORT/console"

deadline=$((SECONDS + 15))
until body="$(curl -fsS --max-time 1 "$AGENT_URL/health" 2>/dev/null)"; do
  running "$AGENT_PID" || die "zlh-agent exited before answering /health"
  [ "$SECONDS" -lt "$deadline" ] || die "zlh-agent did not answer /health within 15 s"
  sleep 0.05
done
[ "$body" = "$HEALTH_BODY" ] || die "/health answered '$body'"

# A token for one request (M5): token METHOD TARGET.
token() { "$CTL" token --key "$TMP/keys/api.key" --vmid "$VMID" --ttl 300 --method "$1" --target "$2"; }

code="$(curl -s -o "$TMP/config.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $(token POST /config)" \
  -H 'Content-Type: application/json' \
  -d "{\"vmid\":$VMID,\"container_type\":\"dev\",\"runtime\":\"tool\",\"version\":\"1.0.0\"}" "$AGENT_URL/config")"
[ "$code" = 202 ] || die "POST /config answered $code: $(head -c 400 "$TMP/config.json")"
deadline=$((SECONDS + 60))
while :; do
  state="$(curl -fsS -H "Authorization: Bearer $(token GET /status)" "$AGENT_URL/status" 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin).get("state", ""))' 2>/dev/null || true)"
  [ "$state" = running ] && break
  [ "$state" = failed ] && die "provisioning failed: $(curl -fsS -H "Authorization: Bearer $(token GET /status)" "$AGENT_URL/status")"
  running "$AGENT_PID" || die "zlh-agent died while provisioning"
  [ "$SECONDS" -lt "$deadline" ] || die "the dev container is not running after 60 s (state '$state')"
  sleep 0.1
done
log "dev container running"

# --- the console session -------------------------------------------------------
# One session for the whole run: `hello` creates it, later runs reattach with
# ?session=<id> (each reattach first drains the scrollback).
client() { # URL MODE [args…] → key value lines on stdout
  local url="$1" mode="$2"
  shift 2
  "$CLIENT" "$url" "$(token GET "/${url#*://*/}")" "$mode" "$@"
}
kv() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

client "$WS_URL" hello >"$TMP/hello.txt" || die "the console did not answer"
SESSION="$(kv "$TMP/hello.txt" session)"
[ -n "$SESSION" ] || die "the console sent no session id"
STATE_FILE="$ROOT/run/zlh/console-$SESSION.json"
[ -f "$STATE_FILE" ] || die "no run state file $STATE_FILE"
SHIM_PID="$(state_field "$STATE_FILE" shim_pid)"
SHELL_PID="$(state_field "$STATE_FILE" pid)"
[ -n "$SHIM_PID" ] && [ "$(cat "/proc/$SHIM_PID/comm" 2>/dev/null)" = zlh-shim ] ||
  die "shim_pid '$SHIM_PID' in $STATE_FILE is not a running zlh-shim"
SESSION_URL="$WS_URL?session=$SESSION"
log "console session $SESSION: zlh-shim pid $SHIM_PID, shell pid ${SHELL_PID:-?}"

sleep 1 # idle: the session exists, no client attached
SHIM_IDLE_RSS="$(proc_kib "$SHIM_PID" VmRSS)"
SHIM_IDLE_ANON="$(proc_kib "$SHIM_PID" RssAnon)"
SHIM_IDLE_FILE="$(proc_kib "$SHIM_PID" RssFile)"
SHIM_THREADS="$(proc_kib "$SHIM_PID" Threads)"
SHIM_IDLE_PSS="$(pss_kib "$SHIM_PID")"
SHIM_IDLE_USS="$(uss_kib "$SHIM_PID")"
SHIM_IDLE_CONNS="$(shim_conns "$SHIM_PID")"
AGENT_IDLE_RSS="$(proc_kib "$AGENT_PID" VmRSS)"

check_alive() {
  running "$AGENT_PID" || die "zlh-agent died during the $1 run"
  [ "$(cat "/proc/$SHIM_PID/comm" 2>/dev/null)" = zlh-shim ] || die "the console's zlh-shim died during the $1 run"
}

declare -A F
# Runs one measurement: SIDE (agent|peer) MODE ROUND; F[SIDE_MODE_ROUND_key] = value.
measure() {
  local side="$1" mode="$2" r="$3" out="$TMP/$1-$2-$3.txt" args=() k v
  if [ "$mode" = rtt ]; then args=(--samples "$SAMPLES"); else args=(--bytes "$BULK_BYTES"); fi
  if [ "$side" = agent ]; then
    client "$SESSION_URL" "$mode" "${args[@]}" >"$out" || die "agent $mode run $r failed"
    check_alive "$mode"
  else
    (cd "$TMP" && "$CLIENT" pty: - "$mode" "${args[@]}") >"$out" || die "peer $mode run $r failed"
  fi
  while read -r k v; do F["${side}_${mode}_${r}_$k"]="$v"; done <"$out"
}

declare -a SHIM_BULK_RSS SHIM_BULK_MAX
for r in $(seq "$ROUNDS"); do
  # Alternate who goes first, so that drift on the machine hits both alike.
  if [ $((r % 2)) = 1 ]; then sides=(agent peer); else sides=(peer agent); fi
  log "round $r/$ROUNDS: keystroke echo (${sides[*]})"
  for s in "${sides[@]}"; do measure "$s" rtt "$r"; done
  log "round $r/$ROUNDS: bulk output (${sides[*]})"
  for s in "${sides[@]}"; do
    if [ "$s" = agent ]; then
      # Samples the shim's VmRSS every 10 ms while the bulk output flows.
      (while :; do proc_kib "$SHIM_PID" VmRSS 2>/dev/null || exit 0; sleep 0.01; done) >"$TMP/shim-rss-$r.txt" &
      SAMPLER_PID=$!
      measure agent bulk "$r"
      SHIM_BULK_RSS[r]="$(proc_kib "$SHIM_PID" VmRSS)" # right after the client saw the end marker
      kill "$SAMPLER_PID" 2>/dev/null || true
      wait "$SAMPLER_PID" 2>/dev/null || true
      SAMPLER_PID=""
      SHIM_BULK_MAX[r]="$(sort -n "$TMP/shim-rss-$r.txt" | tail -n 1)"
    else
      measure peer bulk "$r"
    fi
  done
  log "round $r: rtt p50 agent ${F[agent_rtt_${r}_rtt_p50_us]} µs, peer ${F[peer_rtt_${r}_rtt_p50_us]} µs;" \
    "bulk agent ${F[agent_bulk_${r}_bulk_mb_per_s]} MB/s, peer ${F[peer_bulk_${r}_bulk_mb_per_s]} MB/s;" \
    "shim RSS after bulk $(mib "${SHIM_BULK_RSS[r]}") MiB"
done

sleep 1
SHIM_END_RSS="$(proc_kib "$SHIM_PID" VmRSS)"
SHIM_END_ANON="$(proc_kib "$SHIM_PID" RssAnon)"
SHIM_END_FILE="$(proc_kib "$SHIM_PID" RssFile)"
SHIM_HWM="$(proc_kib "$SHIM_PID" VmHWM)"
SHIM_END_PSS="$(pss_kib "$SHIM_PID")"
SHIM_END_USS="$(uss_kib "$SHIM_PID")"
SHIM_LOG="$ROOT/run/zlh/console-$SESSION.log"
SHIM_DROPPED="$(grep '"msg":"client dropped output"' "$SHIM_LOG" 2>/dev/null |
  sed -n 's/.*"bytes":\([0-9]*\).*"client":\([0-9]*\).*/client \2: \1 bytes/p' | paste -sd ';' - | sed 's/;/; /g' || true)"
AGENT_END_RSS="$(proc_kib "$AGENT_PID" VmRSS)"
AGENT_HWM="$(proc_kib "$AGENT_PID" VmHWM)"
SHELL_RSS=""
[ -n "$SHELL_PID" ] && SHELL_RSS="$(proc_kib "$SHELL_PID" VmRSS 2>/dev/null || true)"

# --- figures ---------------------------------------------------------------------
med() { # SIDE MODE KEY FMT → median over the rounds
  local vals=() r
  for r in $(seq "$ROUNDS"); do vals+=("${F[${1}_${2}_${r}_$3]}"); done
  median "$4" "${vals[@]}"
}
rng() {
  local vals=() r
  for r in $(seq "$ROUNDS"); do vals+=("${F[${1}_${2}_${r}_$3]}"); done
  minmax "${vals[@]}"
}
for k in rtt_p50_us rtt_p90_us rtt_p99_us rtt_max_us rtt_mean_us; do
  F["agent_$k"]="$(med agent rtt "$k" %.0f)"
  F["peer_$k"]="$(med peer rtt "$k" %.0f)"
done
for k in bulk_mb_per_s bulk_seconds; do
  F["agent_$k"]="$(med agent bulk "$k" %.2f)"
  F["peer_$k"]="$(med peer bulk "$k" %.2f)"
done
# Output the client never got: the 'x's short of BULK_BYTES (the typed command
# line holds one 'x' of its own, so a full delivery counts BULK_BYTES + 1).
for side in agent peer; do
  for r in $(seq "$ROUNDS"); do
    got="${F[${side}_bulk_${r}_bulk_x_received]}"
    F["${side}_bulk_${r}_lost"]="$(awk -v g="$got" -v b="$BULK_BYTES" 'BEGIN { l = b - g; if (l < 0) l = 0; printf "%.1f", 100 * l / b }')"
  done
  F["${side}_lost_pct"]="$(med "$side" bulk lost %.1f)"
done
AGENT_MSGS="$(med agent bulk bulk_messages %.0f)"
PEER_MSGS="$(med peer bulk bulk_messages %.0f)"
SHIM_BULK_RSS_MAX="$(maxof "${SHIM_BULK_RSS[@]}")"
SHIM_SAMPLED_MAX="$(maxof "${SHIM_BULK_MAX[@]}")"
# The kernel updates VmHWM from per-thread counters it syncs lazily, so a
# 10 ms sample can read a little higher: the peak is the larger of the two.
SHIM_PEAK="$(maxof "$SHIM_HWM" "$SHIM_SAMPLED_MAX")"

verdict() { awk -v k="$1" -v g="$SHIM_RSS_GOAL_MIB" 'BEGIN { print (k / 1024 <= g) ? "PASS" : "MISS" }'; }

TABLE="$(
  cat <<TABLE_MD
| metric | zlh-agent /console | peer: direct PTY | ratio (agent/peer) |
|---|---:|---:|---:|
| keystroke echo p50 (µs) | ${F[agent_rtt_p50_us]} | ${F[peer_rtt_p50_us]} | $(ratio "${F[agent_rtt_p50_us]}" "${F[peer_rtt_p50_us]}") |
| keystroke echo p90 (µs) | ${F[agent_rtt_p90_us]} | ${F[peer_rtt_p90_us]} | $(ratio "${F[agent_rtt_p90_us]}" "${F[peer_rtt_p90_us]}") |
| keystroke echo p99 (µs) | ${F[agent_rtt_p99_us]} | ${F[peer_rtt_p99_us]} | $(ratio "${F[agent_rtt_p99_us]}" "${F[peer_rtt_p99_us]}") |
| keystroke echo max (µs) | ${F[agent_rtt_max_us]} | ${F[peer_rtt_max_us]} | — |
| keystroke echo p50, min–max over rounds (µs) | $(rng agent rtt rtt_p50_us) | $(rng peer rtt rtt_p50_us) | — |
| keystroke echo p99, min–max over rounds (µs) | $(rng agent rtt rtt_p99_us) | $(rng peer rtt rtt_p99_us) | — |
| bulk output delivered to the client (MB/s, median) | ${F[agent_bulk_mb_per_s]} | ${F[peer_bulk_mb_per_s]} | $(ratio "${F[agent_bulk_mb_per_s]}" "${F[peer_bulk_mb_per_s]}") |
| bulk output, min–max over rounds (MB/s) | $(rng agent bulk bulk_mb_per_s) | $(rng peer bulk bulk_mb_per_s) | — |
| bulk output chunks received per run (median) | $AGENT_MSGS WebSocket messages | $PEER_MSGS read(2)s | — |
| bulk output lost on the way, % of $BULK_BYTES bytes (median; min–max) | ${F[agent_lost_pct]}; $(rng agent bulk lost) | ${F[peer_lost_pct]}; $(rng peer bulk lost) | — |
| bulk: command sent → end marker received (s, median) | ${F[agent_bulk_seconds]} | ${F[peer_bulk_seconds]} | $(ratio "${F[agent_bulk_seconds]}" "${F[peer_bulk_seconds]}") |
| zlh-shim VmRSS idle, no client (MiB) | $(mib "$SHIM_IDLE_RSS") | — | — |
| zlh-shim VmRSS right after bulk, max over rounds (MiB) | $(mib "$SHIM_BULK_RSS_MAX") | — | — |
| zlh-shim VmRSS during bulk, max of 10 ms samples (MiB) | $(mib "$SHIM_SAMPLED_MAX") | — | — |
| zlh-shim VmRSS at the end, 1 s after the last run (MiB) | $(mib "$SHIM_END_RSS") | — | — |
| zlh-shim VmHWM at the end (MiB) | $(mib "$SHIM_HWM") | — | — |
| zlh-shim PSS / USS idle → end (MiB) | $(mib "$SHIM_IDLE_PSS") / $(mib "$SHIM_IDLE_USS") → $(mib "$SHIM_END_PSS") / $(mib "$SHIM_END_USS") | — | — |
| zlh-shim RssAnon / RssFile idle → end (MiB) | $(mib "$SHIM_IDLE_ANON") / $(mib "$SHIM_IDLE_FILE") → $(mib "$SHIM_END_ANON") / $(mib "$SHIM_END_FILE") | — | — |
| zlh-agent VmRSS idle → end, VmHWM (MiB) | $(mib "$AGENT_IDLE_RSS") → $(mib "$AGENT_END_RSS"), $(mib "$AGENT_HWM") | — | — |
TABLE_MD
)"

GOALS="$(
  cat <<GOALS_MD
- Shim RSS per service ≤ $SHIM_RSS_GOAL_MIB MiB, idle: $(mib "$SHIM_IDLE_RSS") MiB → **$(verdict "$SHIM_IDLE_RSS")**
- Shim RSS per service ≤ $SHIM_RSS_GOAL_MIB MiB, right after bulk output (max over rounds): $(mib "$SHIM_BULK_RSS_MAX") MiB → **$(verdict "$SHIM_BULK_RSS_MAX")**
- Shim RSS per service ≤ $SHIM_RSS_GOAL_MIB MiB, peak (VmHWM or the highest 10 ms sample): $(mib "$SHIM_PEAK") MiB → **$(verdict "$SHIM_PEAK")**
GOALS_MD
)"

DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
COMMIT="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ "$COMMIT" != unknown ] && [ -n "$(git -C "$REPO" status --porcelain -- src 2>/dev/null)" ]; then
  COMMIT="$COMMIT, src/ modified"
fi
BUILT="$(date -u -r "$BIN/zlh-agent" +%Y-%m-%dT%H:%M:%SZ)"
LOGIN_SHELL="$(getent passwd "$(id -u)" | cut -d: -f7)"

REPORT="$(
  cat <<REPORT_MD
# zlh console benchmark

- Command: \`$CMD\` (what \`make bench\` runs after bench/install.sh)
- Date: $DATE
- Machine: nproc=$(nproc), ${CPU:-unknown CPU}, Linux $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg) at the end
- Versions: zlh-agent $("$BIN/zlh-agent" --version) (binary built $BUILT; checkout at $COMMIT); login shell ${LOGIN_SHELL:-?} ($(bash --version | awk 'NR == 1 { print $4 }'))
- Setup: \`zlh-agent --dev-user -\` on 127.0.0.1 with a store made by \`zlhctl catalog init/add/sign\`
  (one tiny runtime); \`POST /config\` with a dev payload, then \`GET /status\` until \`running\`.
  One console session (\`zlh-shim\` + PTY + the user's login shell \`-l\`) for the whole run: the
  first client creates it, every later run reattaches with \`?session=<id>\`
  (and first drains the scrollback and the prompt).
- Client: \`zlh-console-bench\` (bench/console_bench.cpp) over \`zlh::http::WsClient\`, with a fresh
  \`zlhctl token\` per run.
  - Keystroke echo: $SAMPLES single keystrokes ('a'..'z' in turn) after 200 warm-up ones, each
    sent as its own binary frame and timed until that byte comes back as output (the shell's line
    editor echoes it). Ctrl-U clears the line every 40 keystrokes (not timed).
  - Bulk: \`head -c $BULK_BYTES /dev/zero | tr '\\0' x; printf '\\nZLHEND%s\\n' <token>\` typed
    into the shell, timed from sending the line to receiving the end marker; MB = 10^6 bytes.
- Peer: the same client code with the same login shell (\`-l\`, TERM=xterm-256color, 120x40) on a
  PTY it opens itself (\`posix_openpt\`), reading and writing the PTY master directly: no
  WebSocket, no agent, no shim. The ratio is the cost of the agent + shim path. The peer's shell
  starts in the temporary directory with the user's own environment, the agent's in the dev
  workspace with the dev environment; neither matters for echo or for \`tr\`.
- $ROUNDS rounds; odd rounds run the agent first, even rounds the peer first. Figures are
  medians over the rounds (each round's p50/p99 is over its $SAMPLES keystrokes).
- RSS: VmRSS from /proc/<pid>/status of the \`zlh-shim\` serving the session (\`shim_pid\` in
  the agent root's \`run/zlh/console-<id>.json\`; $SHIM_THREADS thread(s)). Idle is 1 s after the first
  client left. The shell itself (${SHELL_RSS:+$(mib "$SHELL_RSS") MiB at the end}) is not counted.

$TABLE

Goals:

$GOALS

Notes on this run:

- Bulk output is not flow-controlled end to end: the shim reads the PTY as fast as the shell
  writes, and a client that falls more than its queue bound (1 MiB + the 256 KiB scrollback)
  behind loses its oldest output (docs/design.md §7). The client here reads as fast as it can, yet
  the agent path still lost the share shown above; the shim logged
  "client dropped output": ${SHIM_DROPPED:-none}. "Delivered MB/s" counts only what arrived;
  the time to the end marker is how long the whole burst took.
- With no console client attached, the shim had $SHIM_IDLE_CONNS connected client(s): the agent's
  supervisor stays attached to every shim (ATTACH without scrollback) to learn about the exit,
  so it also receives, and drops when behind, all output.
- VmRSS counts shared-library pages (libstdc++, libcrypto, libsodium, libc) in full; PSS
  splits them among the processes mapping them and USS counts only private pages, which is
  closer to what one more service costs. The goal verdicts use VmRSS.
REPORT_MD
)"

REPORT+=$'\n\n'"## Raw numbers"$'\n\n'
REPORT+="| round | agent p50/p90/p99/max (µs) | peer p50/p90/p99/max (µs) | agent MB/s (s) | peer MB/s (s) | agent bytes received | shim VmRSS after bulk (MiB) |"$'\n'
REPORT+="|---:|---:|---:|---:|---:|---:|---:|"$'\n'
for r in $(seq "$ROUNDS"); do
  a="agent_rtt_${r}_" p="peer_rtt_${r}_" ab="agent_bulk_${r}_" pb="peer_bulk_${r}_"
  REPORT+="| $r | ${F[${a}rtt_p50_us]}/${F[${a}rtt_p90_us]}/${F[${a}rtt_p99_us]}/${F[${a}rtt_max_us]}"
  REPORT+=" | ${F[${p}rtt_p50_us]}/${F[${p}rtt_p90_us]}/${F[${p}rtt_p99_us]}/${F[${p}rtt_max_us]}"
  REPORT+=" | ${F[${ab}bulk_mb_per_s]} (${F[${ab}bulk_seconds]}) | ${F[${pb}bulk_mb_per_s]} (${F[${pb}bulk_seconds]})"
  REPORT+=" | ${F[${ab}bulk_bytes_received]} | $(mib "${SHIM_BULK_RSS[r]}") |"$'\n'
done

mkdir -p "$(dirname "$RESULTS")"
printf '%s\n' "$REPORT" >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"

printf '\n%s\n\n%s\n' "$TABLE" "$GOALS"
log "results written to ${RESULTS#"$REPO"/}"
