#!/usr/bin/env bash
# zlh-agent benchmark (docs/design.md §14): idle RSS, GET /health and authenticated
# GET /status throughput/latency with wrk, compared against nginx serving the
# same /health body, measured in the same run on the same machine.
#
# Prints a Markdown table and writes it, with the command, date and machine,
# to bench/results/agent.md. Never prompts; cleans up every process it started
# on exit, success or failure. Benchmarks are not tests: only a broken setup
# (missing tool, agent or nginx not coming up or dying under load) makes it
# exit non-zero; a figure over its goal is reported, not failed.
#
# Knobs (environment):
#   BENCH_DURATION=5s  BENCH_THREADS=2  BENCH_CONNECTIONS=32  BENCH_WARMUP=1s
#   BENCH_ROUNDS=3     each target is loaded once per round; medians reported
#   BENCH_BIN=<repo>/build/bin   IDLE_RSS_GOAL_MIB=8   BENCH_KEEP_TMP=1 (keep logs)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# The command line as given, with the knobs set in the environment.
CMD="bench/run.sh"
for var in BENCH_DURATION BENCH_THREADS BENCH_CONNECTIONS BENCH_WARMUP BENCH_ROUNDS BENCH_BIN IDLE_RSS_GOAL_MIB; do
  if [ -n "${!var:-}" ]; then CMD="$var=${!var} $CMD"; fi
done

BIN="${BENCH_BIN:-$REPO/build/bin}"
DURATION="${BENCH_DURATION:-5s}"
THREADS="${BENCH_THREADS:-2}"
CONNS="${BENCH_CONNECTIONS:-32}"
WARMUP="${BENCH_WARMUP:-1s}"
# Agent tokens minted per /status run (one per request, M5); a run that needs
# more shows non-2xx answers in the report.
STATUS_TOKENS="${BENCH_STATUS_TOKENS:-200000}"
ROUNDS="${BENCH_ROUNDS:-3}"
IDLE_RSS_GOAL_MIB="${IDLE_RSS_GOAL_MIB:-8}"
RESULTS="$REPO/bench/results/agent.md"
HEALTH_BODY='{"ok":true,"version":"0.1.0"}'
VMID=6001

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

for tool in wrk nginx curl python3 awk pgrep; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "'$tool' not found; run scripts/install-deps.sh (or make deps)"
done
for b in zlh-agent zlhctl; do
  [ -x "$BIN/$b" ] || die "$BIN/$b missing; build first (make build)"
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/zlh-bench.XXXXXX")"
AGENT_PID=""
NGINX_PID=""

# True while PID runs (an exited child stays a zombie until we wait for it,
# and kill -0 still succeeds on a zombie).
# Stops one process we started: TERM, wait up to 5 s, then KILL. Our child
# is not reaped before the kill, so its pid cannot have been reused.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$AGENT_PID"
  stop_pid "$NGINX_PID" # nginx master; its fast shutdown also ends the worker
  if [ "$rc" -ne 0 ]; then
    if [ -s "$TMP/agent.log" ]; then
      log "agent log, request lines left out (last 20 lines):"
      grep -v '"msg":"request"' "$TMP/agent.log" | tail -n 20 >&2 || true
    fi
    if [ -s "$TMP/nginx/error.log" ]; then
      log "nginx error log (last 20 lines):"
      tail -n 20 "$TMP/nginx/error.log" >&2
    fi
  fi
  if [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'log terminated; exit 143' TERM

# Two distinct free loopback ports, chosen by the kernel.
free_ports() {
  python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))'
}

# Waits until URL answers 200 with the expected body, or fails after a
# deadline; gives up at once if the server process died.
wait_health() {
  local url="$1" pid="$2" name="$3" deadline=$((SECONDS + 15)) body
  while :; do
    running "$pid" || die "$name exited before answering $url"
    if body="$(curl -fsS --max-time 1 "$url" 2>/dev/null)"; then
      [ "$body" = "$HEALTH_BODY" ] || die "$name $url answered '$body', expected '$HEALTH_BODY'"
      return 0
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "$name did not answer $url within 15 s"
    sleep 0.05
  done
}

# Prints the value (kB) of a /proc/<pid>/status field, e.g. VmRSS.
proc_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.2f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "—"; else printf "%.2f", a / b }'; }

# Runs a warm-up, then the measured wrk run against NAME (process PID) at
# URL; OUT gets the raw report. Extra arguments (headers) go before the URL.
run_wrk() {
  local out="$1" url="$2" pid="$3" name="$4"
  shift 4
  if ! wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "$@" "$url" >/dev/null ||
    ! wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "$url" >"$out"; then
    running "$pid" || die "$name died under load"
    die "wrk failed against $name at $url"
  fi
  running "$pid" || die "$name died under load"
}

# Stores figures from wrk report FILE into W[PREFIX_name] for name in rps,
# lat_avg, lat_p50, lat_p99 (ms), non2xx, sockerr, requests.
declare -A W
parse_wrk() {
  local prefix="$1" file="$2" k v
  while read -r k v; do W["${prefix}_$k"]="$v"; done < <(awk '
    function ms(v) {
      if (v ~ /us$/) return v / 1000
      if (v ~ /ms$/) return v + 0
      if (v ~ /m$/)  return v * 60000
      if (v ~ /s$/)  return v * 1000
      return v + 0
    }
    $1 == "Latency" && avg == "" { avg = ms($2) }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    $1 == "Requests/sec:" { rps = $2 }
    $2 == "requests" && $3 == "in" { requests = $1 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(",", ""); sockerr = $4 + $6 + $8 + $10 }
    END {
      printf "rps %.0f\nlat_avg %.3f\nlat_p50 %.3f\nlat_p99 %.3f\n", rps, avg, p50, p99
      printf "non2xx %d\nsockerr %d\nrequests %d\n", non2xx, sockerr, requests
    }' "$file")
}

# Median of the numbers after FORMAT (printf format of the result).
median() {
  local fmt="$1"
  shift
  printf '%s\n' "$@" | sort -g | awk -v fmt="$fmt" '{ a[NR] = $1 }
    END { printf fmt "\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Folds rounds PREFIX1..PREFIXn into W[PREFIX_*]: the median of rates and
# latencies, the sum of requests and errors, the min and max of rps.
summarize() {
  local p="$1" k r vals fmt
  for k in rps lat_avg lat_p50 lat_p99; do
    vals=()
    for r in $(seq "$ROUNDS"); do vals+=("${W[${p}${r}_$k]}"); done
    if [ "$k" = rps ]; then fmt=%.0f; else fmt=%.3f; fi
    W["${p}_$k"]="$(median "$fmt" "${vals[@]}")"
  done
  for k in non2xx sockerr requests; do
    W["${p}_$k"]=0
    for r in $(seq "$ROUNDS"); do W["${p}_$k"]=$((W["${p}_$k"] + W["${p}${r}_$k"])); done
  done
  vals=()
  for r in $(seq "$ROUNDS"); do vals+=("${W[${p}${r}_rps]}"); done
  W["${p}_rps_min"]="$(printf '%s\n' "${vals[@]}" | sort -g | head -n 1)"
  W["${p}_rps_max"]="$(printf '%s\n' "${vals[@]}" | sort -g | tail -n 1)"
}

read -r AGENT_PORT NGINX_PORT <<<"$(free_ports)"

# --- zlh-agent --------------------------------------------------------------
log "keys and agent in $TMP"
"$BIN/zlhctl" keygen --out "$TMP/keys" >/dev/null
mkdir -p "$TMP/root"
"$BIN/zlh-agent" --root "$TMP/root" --listen "127.0.0.1:$AGENT_PORT" --vmid "$VMID" \
  --api-key "$TMP/keys/api.pub" --dev-user - >"$TMP/agent.stdout" 2>"$TMP/agent.log" </dev/null &
AGENT_PID=$!
AGENT_URL="http://127.0.0.1:$AGENT_PORT"
wait_health "$AGENT_URL/health" "$AGENT_PID" zlh-agent

# Idle figures: the agent has answered one /health and then sits for 1 s.
sleep 1
AGENT_IDLE_RSS="$(proc_kib "$AGENT_PID" VmRSS)"
AGENT_IDLE_HWM="$(proc_kib "$AGENT_PID" VmHWM)"
AGENT_THREADS="$(proc_kib "$AGENT_PID" Threads)"

# Agent tokens are good for one request (M5): mint_token [COUNT] for GET /status.
mint_token() { "$BIN/zlhctl" token --key "$TMP/keys/api.key" --vmid "$VMID" --ttl 300 --target /status --count "${1:-1}"; }
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(mint_token)" "$AGENT_URL/status")"
[ "$code" = 200 ] || die "authenticated GET /status answered $code, expected 200"

# --- nginx peer -------------------------------------------------------------
NG="$TMP/nginx"
mkdir -p "$NG"
USER_LINE=""
# As root, nginx workers would switch to "nobody" and lose access to $TMP;
# keep them as the current user, as in a non-root run.
if [ "$(id -u)" -eq 0 ]; then USER_LINE="user $(id -un) $(id -gn);"; fi
cat >"$NG/nginx.conf" <<NGINX_CONF
$USER_LINE
worker_processes 1;
daemon off;
master_process on;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $NG/client_body_temp;
  proxy_temp_path $NG/proxy_temp;
  fastcgi_temp_path $NG/fastcgi_temp;
  uwsgi_temp_path $NG/uwsgi_temp;
  scgi_temp_path $NG/scgi_temp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location = /health {
      default_type application/json;
      return 200 '$HEALTH_BODY';
    }
  }
}
NGINX_CONF
log "nginx on 127.0.0.1:$NGINX_PORT"
nginx -p "$NG/" -c "$NG/nginx.conf" -e "$NG/error.log" >"$NG/stdout" 2>&1 </dev/null &
NGINX_PID=$!
NGINX_URL="http://127.0.0.1:$NGINX_PORT"
wait_health "$NGINX_URL/health" "$NGINX_PID" nginx
NGINX_WORKER=""
deadline=$((SECONDS + 5))
until NGINX_WORKER="$(pgrep -P "$NGINX_PID" | head -n 1)" && [ -n "$NGINX_WORKER" ]; do
  [ "$SECONDS" -lt "$deadline" ] || die "nginx worker not found"
  sleep 0.05
done
sleep 1
NGINX_IDLE_RSS="$(proc_kib "$NGINX_WORKER" VmRSS)"
NGINX_IDLE_HWM="$(proc_kib "$NGINX_WORKER" VmHWM)"
NGINX_MASTER_RSS="$(proc_kib "$NGINX_PID" VmRSS)"

# --- load: each round loads every target once, so drift hits all alike ------
for r in $(seq "$ROUNDS"); do
  log "round $r/$ROUNDS: agent /health, nginx /health, agent /status"
  run_wrk "$TMP/wrk-agent-health-$r.txt" "$AGENT_URL/health" "$AGENT_PID" zlh-agent
  parse_wrk "AH$r" "$TMP/wrk-agent-health-$r.txt"
  run_wrk "$TMP/wrk-nginx-health-$r.txt" "$NGINX_URL/health" "$NGINX_PID" nginx
  parse_wrk "NH$r" "$TMP/wrk-nginx-health-$r.txt"
  # One token per request (M5): minted before the run, outside the timing.
  mint_token "$STATUS_TOKENS" >"$TMP/tokens-warm.txt"
  mint_token "$STATUS_TOKENS" >"$TMP/tokens.txt"
  ZLH_THREADS="$THREADS" ZLH_TOKENS="$TMP/tokens-warm.txt" \
    wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$REPO/bench/wrk_tokens.lua" "$AGENT_URL/status" >/dev/null ||
    die "wrk failed against zlh-agent /status"
  ZLH_THREADS="$THREADS" ZLH_TOKENS="$TMP/tokens.txt" \
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$REPO/bench/wrk_tokens.lua" "$AGENT_URL/status" \
    >"$TMP/wrk-agent-status-$r.txt" || die "wrk failed against zlh-agent /status"
  running "$AGENT_PID" || die "zlh-agent died under load"
  parse_wrk "AS$r" "$TMP/wrk-agent-status-$r.txt"
done
summarize AH
summarize NH
summarize AS

AGENT_LOAD_RSS="$(proc_kib "$AGENT_PID" VmRSS)"
AGENT_LOAD_HWM="$(proc_kib "$AGENT_PID" VmHWM)"
NGINX_LOAD_RSS="$(proc_kib "$NGINX_WORKER" VmRSS)"
NGINX_LOAD_HWM="$(proc_kib "$NGINX_WORKER" VmHWM)"
wait_health "$AGENT_URL/health" "$AGENT_PID" zlh-agent
stop_pid "$AGENT_PID"
AGENT_PID=""
stop_pid "$NGINX_PID"
NGINX_PID=""

# What the agent logged: lines not at INFO (grouped without their time,
# request id and duration), request lines with a status other than 200.
AGENT_LOG_LINES="$(wc -l <"$TMP/agent.log")"
AGENT_LOG_KIB="$(($(wc -c <"$TMP/agent.log") / 1024))"
AGENT_LOG_NOTINFO="$(grep -vc '"level":"INFO"' "$TMP/agent.log" || true)"
AGENT_LOG_NON200="$(grep '"msg":"request"' "$TMP/agent.log" | grep -vc '"status":200' || true)"
AGENT_LOG_SAMPLE="$(grep -v '"level":"INFO"' "$TMP/agent.log" |
  sed -e 's/"time":"[^"]*",//' -e 's/"request_id":"[^"]*",\{0,1\}//' \
    -e 's/"duration_ms":[0-9.]*,\{0,1\}//' |
  sort | uniq -c | sort -rn | head -n 5 || true)"
NGINX_ERRLOG_LINES="$(wc -l <"$NG/error.log")"

# --- report -----------------------------------------------------------------
if awk -v k="$AGENT_IDLE_RSS" -v g="$IDLE_RSS_GOAL_MIB" 'BEGIN { exit !(k / 1024 <= g) }'; then
  VERDICT=PASS
else
  VERDICT=OVER
fi
ERR_NOTE=""
for v in AH AS NH; do
  if [ "${W[${v}_non2xx]}" -ne 0 ] || [ "${W[${v}_sockerr]}" -ne 0 ]; then ERR_NOTE=yes; fi
done

TABLE="$(
  cat <<TABLE_MD
| metric | zlh-agent | nginx | ratio (agent/nginx) |
|---|---:|---:|---:|
| GET /health requests/s (median) | ${W[AH_rps]} | ${W[NH_rps]} | $(ratio "${W[AH_rps]}" "${W[NH_rps]}") |
| GET /health requests/s (min–max) | ${W[AH_rps_min]}–${W[AH_rps_max]} | ${W[NH_rps_min]}–${W[NH_rps_max]} | — |
| GET /health latency avg (ms) | ${W[AH_lat_avg]} | ${W[NH_lat_avg]} | $(ratio "${W[AH_lat_avg]}" "${W[NH_lat_avg]}") |
| GET /health latency p50 (ms) | ${W[AH_lat_p50]} | ${W[NH_lat_p50]} | $(ratio "${W[AH_lat_p50]}" "${W[NH_lat_p50]}") |
| GET /health latency p99 (ms) | ${W[AH_lat_p99]} | ${W[NH_lat_p99]} | $(ratio "${W[AH_lat_p99]}" "${W[NH_lat_p99]}") |
| GET /status + Bearer requests/s (median) | ${W[AS_rps]} | — | — |
| GET /status + Bearer requests/s (min–max) | ${W[AS_rps_min]}–${W[AS_rps_max]} | — | — |
| GET /status + Bearer latency avg (ms) | ${W[AS_lat_avg]} | — | — |
| GET /status + Bearer latency p99 (ms) | ${W[AS_lat_p99]} | — | — |
| requests measured (/health; /status) | ${W[AH_requests]}; ${W[AS_requests]} | ${W[NH_requests]} | — |
| non-2xx / socket errors (/health; /status) | ${W[AH_non2xx]}/${W[AH_sockerr]}; ${W[AS_non2xx]}/${W[AS_sockerr]} | ${W[NH_non2xx]}/${W[NH_sockerr]} | — |
| idle RSS (MiB) | $(mib "$AGENT_IDLE_RSS") | $(mib "$NGINX_IDLE_RSS") | $(ratio "$AGENT_IDLE_RSS" "$NGINX_IDLE_RSS") |
| idle VmHWM (MiB) | $(mib "$AGENT_IDLE_HWM") | $(mib "$NGINX_IDLE_HWM") | $(ratio "$AGENT_IDLE_HWM" "$NGINX_IDLE_HWM") |
| RSS after load (MiB) | $(mib "$AGENT_LOAD_RSS") | $(mib "$NGINX_LOAD_RSS") | $(ratio "$AGENT_LOAD_RSS" "$NGINX_LOAD_RSS") |
| VmHWM after load (MiB) | $(mib "$AGENT_LOAD_HWM") | $(mib "$NGINX_LOAD_HWM") | $(ratio "$AGENT_LOAD_HWM" "$NGINX_LOAD_HWM") |
TABLE_MD
)"

DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
COMMIT="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ "$COMMIT" != unknown ] && [ -n "$(git -C "$REPO" status --porcelain -- src 2>/dev/null)" ]; then
  COMMIT="$COMMIT, src/ modified"
fi
BUILT="$(date -u -r "$BIN/zlh-agent" +%Y-%m-%dT%H:%M:%SZ)"

REPORT="$(
  cat <<REPORT_MD
# zlh-agent benchmark

- Command: \`$CMD\` (what \`make bench\` runs after building)
- Date: $DATE
- Machine: nproc=$(nproc), ${CPU:-unknown CPU}, Linux $(uname -r)
- Versions: zlh-agent $("$BIN/zlh-agent" --version) (binary built $BUILT; checkout at $COMMIT), $(nginx -v 2>&1 | sed 's/^nginx version: //'), wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')
- Load: $ROUNDS rounds; each round runs \`wrk -t$THREADS -c$CONNS -d$DURATION --latency URL\`
  after a $WARMUP warm-up against agent /health, nginx /health, agent /status in turn.
  Rates and latencies are medians over the rounds. wrk and the servers share
  the same $(nproc) CPUs, so the ratio matters more than the absolute figures.
- zlh-agent: \`--vmid $VMID --dev-user -\`, default JSON request log (one line per
  request) written to a file; $AGENT_THREADS threads at idle.
- nginx: 1 worker, \`access_log off\`, \`return 200 '$HEALTH_BODY'\` (the agent's body).
- /status carries \`Authorization: Bearer <token>\`, one token per request (each is good once, issue 21 M5), minted by \`zlhctl token --count\` before the run;
  nginx has no equivalent (signature check + state JSON), so there is no ratio.
- RSS is VmRSS from /proc/<pid>/status; nginx figures are its worker's (the master
  holds another $(mib "$NGINX_MASTER_RSS") MiB).

$TABLE

Idle RSS goal: ≤ $IDLE_RSS_GOAL_MIB MiB — zlh-agent $(mib "$AGENT_IDLE_RSS") MiB → **$VERDICT**

Agent log over the run: $AGENT_LOG_LINES lines ($(mib "$AGENT_LOG_KIB") MiB), $AGENT_LOG_NOTINFO not at INFO
level, $AGENT_LOG_NON200 request lines with a status other than 200. nginx error log: $NGINX_ERRLOG_LINES lines.
REPORT_MD
)"
if [ -n "$AGENT_LOG_SAMPLE" ]; then
  REPORT+=$'\n\nMost frequent non-INFO agent log lines (count, line):\n\n```\n'"$AGENT_LOG_SAMPLE"$'\n```'
fi
if [ -n "$ERR_NOTE" ]; then
  REPORT+=$'\n\n**Warning:** wrk saw non-2xx responses or socket errors; see the raw reports.'
fi
REPORT+=$'\n\n<details><summary>Raw wrk reports</summary>\n'
for r in $(seq "$ROUNDS"); do
  for f in agent-health nginx-health agent-status; do
    REPORT+=$'\n'"round $r, $f:"$'\n\n```\n'"$(cat "$TMP/wrk-$f-$r.txt")"$'\n```\n'
  done
done
REPORT+=$'\n</details>'

mkdir -p "$(dirname "$RESULTS")"
printf '%s\n' "$REPORT" >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"

printf '\n%s\n\n' "$TABLE"
printf 'idle RSS goal <= %s MiB: zlh-agent %s MiB -> %s\n' \
  "$IDLE_RSS_GOAL_MIB" "$(mib "$AGENT_IDLE_RSS")" "$VERDICT"
printf 'agent log: %s lines, %s not INFO, %s non-200 requests\n' \
  "$AGENT_LOG_LINES" "$AGENT_LOG_NOTINFO" "$AGENT_LOG_NON200"
if [ -n "$ERR_NOTE" ]; then
  log "warning: wrk saw non-2xx responses or socket errors (see ${RESULTS#"$REPO"/})"
fi
log "results written to ${RESULTS#"$REPO"/}"
