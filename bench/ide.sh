#!/bin/bash
# IDE proxy benchmark (docs/design.md §10.4, §14), peers in the same run on the
# same upstream:
#   upstream  an nginx started as the container's IDE addon (the catalog's
#             "code-server" is a wrapper that runs nginx on {bind}): "/" is a
#             small body; /ws is proxied to a WebSocket echo (bench/node/ws_echo.js).
#   zlh-api   /dev/<vmid>/ide/ on the server's IDE origin with the zlh_ide
#             cookie (from a ticket): auth + ownership on every request,
#             upstream keep-alive pool.
#   nginx     proxy_pass to the same upstream, upstream keep-alive.
#   express   Node Express + http-proxy-middleware (ws: true, keep-alive agent),
#             the design zlh-api's proxy replaces.
# Figures: HTTP req/s and latency with wrk (bench/wrk_latency.lua), ROUNDS
# rounds each, medians; WebSocket echo round trip (bench/ws_bench.py rtt);
# IDLE (10,000) concurrent idle WebSockets through zlh-api with its memory
# per connection. Writes bench/results/ide.md. Never prompts; cleans up.
#
#   BENCH_BIN=<repo>/build/bin BENCH_IDE_ROUNDS=3 BENCH_IDE_DURATION=8
#   BENCH_IDE_CONNS=32 BENCH_IDE_IDLE=10000 BENCH_IDE_RESULTS=<file.md> bench/ide.sh
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
. "$REPO/bench/lib.sh"
BIN="${BENCH_BIN:-$REPO/build/bin}"
ROUNDS="${BENCH_IDE_ROUNDS:-3}"
DURATION="${BENCH_IDE_DURATION:-8}s"
WARMUP=2s
CONNS="${BENCH_IDE_CONNS:-32}"
IDLE="${BENCH_IDE_IDLE:-10000}"
RESULTS="${BENCH_IDE_RESULTS:-$REPO/bench/results/ide.md}"
LUA="$REPO/bench/wrk_latency.lua"
NODE_DIR="$REPO/bench/node"

for tool in wrk nginx node python3 curl; do command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh)"; done
for b in zlh-api zlh-agent zlh-shim zlhctl; do [ -x "$BIN/$b" ] || die "$BIN/$b is missing (make build)"; done
[ -d "$NODE_DIR/node_modules/http-proxy-middleware" ] || die "bench/node has no node_modules (scripts/install-deps.sh runs npm ci there)"
# Two descriptors per proxied WebSocket in zlh-api (and in nginx).
if [ "$(ulimit -Hn)" -lt $((IDLE * 2 + 1000)) ]; then ulimit -Hn $((IDLE * 3 + 1000)) 2>/dev/null || true; fi
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((IDLE * 2 + 1000)) ]; then
  IDLE=$(( ($(ulimit -n) - 1000) / 2 ))
  log "descriptor limit $(ulimit -n): idle WebSockets reduced to $IDLE"
fi

W="$(mktemp -d /tmp/zlh-bench-ide.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  if [ -d "$W/data" ]; then
    pkill -KILL -f -- "--root $W/data" 2>/dev/null || true
    pkill -KILL -f -- "$W/data/containers" 2>/dev/null || true
  fi
  [ -n "${BENCH_KEEP:-}" ] && log "kept $W" || rm -rf "$W"
}
trap cleanup EXIT

ECHO_PORT="$(free_port)"
node "$NODE_DIR/ws_echo.js" "127.0.0.1:$ECHO_PORT" >"$W/echo.log" 2>&1 &
PIDS+=($!)

# The store: a tiny runtime and the nginx-as-IDE addon.
"$BIN/zlhctl" keygen --out "$W/keys" >/dev/null
"$BIN/zlhctl" catalog init --store "$W/store" >/dev/null
mkdir -p "$W/tool/t/bin" "$W/ide/i/bin"
printf '#!/bin/sh\necho "tool 1.0.0"\n' >"$W/tool/t/bin/tool"
chmod 755 "$W/tool/t/bin/tool"
tar -C "$W/tool" -czf "$W/tool.tar.gz" t
cat >"$W/ide/i/bin/code-server" <<EOF
#!/bin/sh
# nginx playing code-server: --bind-addr HOST:PORT --user-data-dir DIR
while [ \$# -gt 0 ]; do
  case "\$1" in --bind-addr) bind="\$2"; shift ;; --user-data-dir) data="\$2"; shift ;; esac
  shift
done
mkdir -p "\$data/tmp"
cat >"\$data/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
pid \$data/nginx.pid;
error_log stderr warn;
worker_rlimit_nofile 65536;
events { worker_connections 40000; }
http {
  access_log off;
  client_body_temp_path \$data/tmp; proxy_temp_path \$data/tmp;
  fastcgi_temp_path \$data/tmp; uwsgi_temp_path \$data/tmp; scgi_temp_path \$data/tmp;
  upstream echo { server 127.0.0.1:$ECHO_PORT; }
  server {
    listen \$bind;
    keepalive_requests 1000000;
    location = /healthz { return 200 'ok'; }
    location /ws {
      proxy_pass http://echo;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \\\$http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 3600s;
    }
    location / { default_type text/html; return 200 '<!doctype html><title>ide</title><p>hello from the IDE</p>'; }
  }
}
CONF
exec nginx -e stderr -p "\$data" -c "\$data/nginx.conf"
EOF
chmod 755 "$W/ide/i/bin/code-server"
tar -C "$W/ide" -czf "$W/ide.tar.gz" i
"$BIN/zlhctl" catalog add --store "$W/store" --kind runtime --id tool --version 1.0.0 --file "$W/tool.tar.gz" \
  --channel stable --strip 1 --bin bin --verify "bin/tool --version" --expect "tool 1.0.0" >/dev/null 2>>"$W/ctl.log"
"$BIN/zlhctl" catalog add --store "$W/store" --kind addon --id code-server --version 4.96.4 --file "$W/ide.tar.gz" \
  --channel stable --strip 1 --port 6000 --health /healthz \
  --launch "bin/code-server --bind-addr {bind} --user-data-dir {data}" >/dev/null 2>>"$W/ctl.log"
"$BIN/zlhctl" catalog sign --store "$W/store" --key "$W/keys/catalog.key" >/dev/null 2>>"$W/ctl.log"

API_ADDR=127.0.0.1
API_PORT="$(free_port)"
API_URL="http://$API_ADDR:$API_PORT"
# The IDE origin (docs/ide.md): its own listener, one origin per server.
IDE_PORT="$(free_port)"
ZLH_ADMIN_PASSWORD=admin-password-1 "$BIN/zlh-api" --listen "$API_ADDR:$API_PORT" --data "$W/data" \
  --artifacts "$W/store" --catalog-key "$W/keys/catalog.pub" --public-url "$API_URL" \
  --ide-listen "127.0.0.1:$IDE_PORT" --ide-origin "http://{vmid}.localhost:$IDE_PORT" \
  --dev-vmid-lo 4500 --dev-vmid-hi 4599 --driver local --insecure-local-driver >"$W/api.out" 2>"$W/api.log" &
API_PID=$!
PIDS+=("$API_PID")
wait_api "$API_PID" "$API_URL" "$W/api.log"
TOKEN="$(curl -sf -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.com","username":"bench","password":"bench-password-1"}' \
  "$API_URL/api/auth/register" | api_token)"
CREATED="$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"type":"dev","runtime":"tool","version":"1.0.0","enable_code_server":true}' "$API_URL/api/servers")"
SID="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$CREATED")"
VMID="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["server"]["vmid"])' "$CREATED")"
deadline=$((SECONDS + 120))
while :; do
  STATE="$(curl -sf -H "Authorization: Bearer $TOKEN" "$API_URL/api/servers/$SID" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')"
  [ "$STATE" = ready ] && break
  [ "$STATE" != error ] || die "the dev server failed: $(tail -n 5 "$W/api.log")"
  [ "$SECONDS" -lt "$deadline" ] || die "the dev server did not become ready"
  sleep 0.2
done
IP="127.77.$((VMID / 256)).$((VMID % 256))"
UP="http://$IP:6000"
curl -sf "$UP/" | grep -q 'hello from the IDE' || die "the IDE addon (nginx) does not answer at $UP"
log "dev server $SID (vmid $VMID) ready; IDE addon nginx at $UP"

# Peer 1: nginx proxy_pass, one worker per zlh-api io thread (2).
NGX_PORT="$(free_port)"
mkdir -p "$W/ngx/tmp"
cat >"$W/ngx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $W/ngx/nginx.pid;
error_log stderr warn;
worker_rlimit_nofile 65536;
events { worker_connections 40000; }
http {
  access_log off;
  client_body_temp_path $W/ngx/tmp; proxy_temp_path $W/ngx/tmp;
  fastcgi_temp_path $W/ngx/tmp; uwsgi_temp_path $W/ngx/tmp; scgi_temp_path $W/ngx/tmp;
  upstream ide { server $IP:6000; keepalive 64; }
  map \$http_upgrade \$conn { default upgrade; '' ''; }
  server {
    listen 127.0.0.1:$NGX_PORT;
    keepalive_requests 1000000;
    location /dev/$VMID/ide/ {
      proxy_pass http://ide/;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$conn;
      proxy_read_timeout 3600s;
    }
  }
}
EOF
nginx -e stderr -p "$W/ngx" -c "$W/ngx/nginx.conf" 2>"$W/ngx.log" &
NGX_PID=$!
PIDS+=("$NGX_PID")
# Peer 2: Express + http-proxy-middleware.
EXP_PORT="$(free_port)"
node "$NODE_DIR/express_proxy.js" "127.0.0.1:$EXP_PORT" "$UP" >"$W/express.log" 2>&1 &
EXP_PID=$!
PIDS+=("$EXP_PID")
for u in "http://127.0.0.1:$NGX_PORT" "http://127.0.0.1:$EXP_PORT"; do
  deadline=$((SECONDS + 10))
  until curl -sf "$u/dev/$VMID/ide/" | grep -q 'hello from the IDE'; do
    [ "$SECONDS" -lt "$deadline" ] || die "peer at $u does not proxy"
    sleep 0.1
  done
done
# The browser's way in: a ticket, traded on the server's IDE origin for the
# zlh_ide cookie; requests then carry that cookie and the origin's Host.
TICKET_URL="$(curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{}' \
  "$API_URL/api/servers/$SID/ide-ticket" | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')"
IDE_ORIGIN="http://$VMID.localhost:$IDE_PORT"
HOSTH="Host: $VMID.localhost:$IDE_PORT"
IDE_COOKIE="$(curl -s -o /dev/null -D - -H "$HOSTH" "http://127.0.0.1:$IDE_PORT${TICKET_URL#"$IDE_ORIGIN"}" |
  sed -n 's/^[Ss]et-[Cc]ookie: zlh_ide=\([^;]*\).*/\1/p' | tr -d '\r')"
[ -n "$IDE_COOKIE" ] || die "no zlh_ide cookie for the ticket $TICKET_URL"
COOKIE="Cookie: zlh_ide=$IDE_COOKIE"
curl -sf -H "$COOKIE" -H "$HOSTH" "http://127.0.0.1:$IDE_PORT/dev/$VMID/ide/" | grep -q 'hello from the IDE' ||
  die "zlh-api does not proxy"

# The processes of each proxy, for their CPU time (and syscalls): zlh-api;
# nginx's workers; the Express node process.
NGX_WORKERS="$(pgrep -P "$NGX_PID" | tr '\n' ' ')"
[ -n "$NGX_WORKERS" ] || die "the nginx peer has no workers"
declare -A PROCS=([api]="$API_PID" [ngx]="$NGX_WORKERS" [exp]="$EXP_PID")
declare -A URLS=([api]="http://127.0.0.1:$IDE_PORT/dev/$VMID/ide/" [ngx]="http://127.0.0.1:$NGX_PORT/dev/$VMID/ide/"
  [exp]="http://127.0.0.1:$EXP_PORT/dev/$VMID/ide/")
# CPU ticks (user, system) of the processes given, all their threads.
cpu_ticks() {
  local p u=0 s=0 a b
  for p in "$@"; do
    read -r a b < <(awk '{ print $14, $15 }' "/proc/$p/stat")
    u=$((u + a))
    s=$((s + b))
  done
  echo "$u $s"
}

declare -A FIG
# run_wrk KEY URL [wrk args...]: figures into FIG[KEY.*], with the proxy's
# CPU time over the measured run (KEY without its round number names it).
run_wrk() {
  local key="$1" url="$2" out u0 s0 u1 s1
  shift 2
  out="$W/wrk-$key.txt"
  wrk -t2 -c"$CONNS" -d"$WARMUP" "$@" "$url" >/dev/null
  # shellcheck disable=SC2086
  read -r u0 s0 < <(cpu_ticks ${PROCS[${key%%[0-9]*}]})
  wrk -t2 -c"$CONNS" -d"$DURATION" -s "$LUA" "$@" "$url" >"$out"
  # shellcheck disable=SC2086
  read -r u1 s1 < <(cpu_ticks ${PROCS[${key%%[0-9]*}]})
  FIG["$key.user_ticks"]=$((u1 - u0))
  FIG["$key.sys_ticks"]=$((s1 - s0))
  local line
  line="$(grep '^ZLH ' "$out")" || die "wrk printed no figures for $key: $(cat "$out")"
  for kv in $line; do
    case "$kv" in *=*) FIG["$key.${kv%%=*}"]="${kv#*=}" ;; esac
  done
}
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for r in $(seq "$ROUNDS"); do
  log "HTTP round $r/$ROUNDS: zlh-api, nginx, express ($CONNS connections, $DURATION)"
  run_wrk "api$r" "${URLS[api]}" -H "$COOKIE" -H "$HOSTH"
  run_wrk "ngx$r" "${URLS[ngx]}"
  run_wrk "exp$r" "${URLS[exp]}"
done
declare -A RPS P50 P90 P99 P999 ERR ALL_RPS USER_US SYS_US
TICK_US=$((1000000 / $(getconf CLK_TCK)))
for side in api ngx exp; do
  rps=() p50=() p90=() p99=() p999=() err=0 ut=0 st=0 reqs=0
  for r in $(seq "$ROUNDS"); do
    rps+=("$(awk -v n="${FIG[$side$r.requests]}" -v d="${FIG[$side$r.duration_us]}" 'BEGIN { printf "%.0f", n / (d / 1e6) }')")
    p50+=("${FIG[$side$r.p50]}")
    p90+=("${FIG[$side$r.p90]}")
    p99+=("${FIG[$side$r.p99]}")
    p999+=("${FIG[$side$r.p999]}")
    err=$((err + FIG[$side$r.errors] + FIG[$side$r.non2xx]))
    ut=$((ut + FIG[$side$r.user_ticks]))
    st=$((st + FIG[$side$r.sys_ticks]))
    reqs=$((reqs + FIG[$side$r.requests]))
  done
  RPS[$side]="$(median "${rps[@]}")"
  P50[$side]="$(median "${p50[@]}")"
  P90[$side]="$(median "${p90[@]}")"
  P99[$side]="$(median "${p99[@]}")"
  P999[$side]="$(median "${p999[@]}")"
  ERR[$side]="$err"
  ALL_RPS[$side]="${rps[*]}"
  USER_US[$side]="$(awk -v t="$ut" -v k="$TICK_US" -v n="$reqs" 'BEGIN { printf "%.1f", t * k / n }')"
  SYS_US[$side]="$(awk -v t="$st" -v k="$TICK_US" -v n="$reqs" 'BEGIN { printf "%.1f", t * k / n }')"
done

# Syscalls per request (perf's raw_syscalls tracepoint, where the kernel
# lets us count it): a figure that does not depend on how busy the machine
# is, unlike requests/s. Counted in a run of its own, so the counting does
# not slow the rounds above. EAGAIN: reads that found nothing.
declare -A SYSCALLS EAGAIN
if perf stat -e raw_syscalls:sys_enter -o /dev/null true 2>/dev/null; then
  log "syscalls per request (perf stat, $DURATION each)"
  for side in api ngx exp; do
    url="${URLS[$side]}"
    hdr=()
    [ "$side" != api ] || hdr=(-H "$COOKIE" -H "$HOSTH")
    wrk -t2 -c"$CONNS" -d"$WARMUP" "${hdr[@]}" "$url" >/dev/null
    pids="$(echo ${PROCS[$side]} | tr ' ' ',')"
    perf stat -x, -e raw_syscalls:sys_enter -e syscalls:sys_exit_recvfrom --filter 'ret == -11' \
      -p "$pids" -o "$W/perf-$side.csv" -- sleep 1000 2>/dev/null &
    PERF_PID=$!
    wrk -t2 -c"$CONNS" -d"$DURATION" -s "$LUA" "${hdr[@]}" "$url" >"$W/wrk-perf-$side.txt"
    pkill -P "$PERF_PID" sleep 2>/dev/null || true  # perf stops when its workload ends
    wait "$PERF_PID" 2>/dev/null || true
    n="$(grep '^ZLH ' "$W/wrk-perf-$side.txt" | tr ' ' '\n' | awk -F= '$1 == "requests" { print $2 }')"
    SYSCALLS[$side]="$(awk -F, -v n="$n" '$3 == "raw_syscalls:sys_enter" { printf "%.2f", $1 / n }' "$W/perf-$side.csv")"
    EAGAIN[$side]="$(awk -F, -v n="$n" '$3 == "syscalls:sys_exit_recvfrom" { printf "%.2f", $1 / n }' "$W/perf-$side.csv")"
  done
fi

# WebSocket echo round trips (32-byte text), 2,000 after 200 warm-up, per path.
declare -A RTT50 RTT99
ws_rtt() {
  local key="$1" url="$2" out
  shift 2
  out="$(python3 "$REPO/bench/ws_bench.py" rtt "$url" "$@")" || die "ws rtt through $key failed"
  RTT50[$key]="$(awk '$1 == "p50_us" { print $2 }' <<<"$out")"
  RTT99[$key]="$(awk '$1 == "p99_us" { print $2 }' <<<"$out")"
}
log "WebSocket echo round trips"
ws_rtt direct "ws://$IP:6000/ws"
ws_rtt api "ws://127.0.0.1:$IDE_PORT/dev/$VMID/ide/ws" --header "$COOKIE" --header "$HOSTH" --header "Origin: $IDE_ORIGIN"
ws_rtt ngx "ws://127.0.0.1:$NGX_PORT/dev/$VMID/ide/ws"
ws_rtt exp "ws://127.0.0.1:$EXP_PORT/dev/$VMID/ide/ws"

# Idle WebSockets through zlh-api: memory per connection.
log "$IDLE idle WebSockets through zlh-api"
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }
RSS0="$(rss_kib "$API_PID")"
FIFO="$W/idle.in"
mkfifo "$FIFO"
python3 "$REPO/bench/ws_bench.py" idle "ws://127.0.0.1:$IDE_PORT/dev/$VMID/ide/ws" --count "$IDLE" \
  --header "$COOKIE" --header "$HOSTH" --header "Origin: $IDE_ORIGIN" <"$FIFO" >"$W/idle.out" 2>"$W/idle.err" &
IDLE_PID=$!
PIDS+=("$IDLE_PID")
exec 9>"$FIFO"
deadline=$((SECONDS + 300))
until grep -q '^ready' "$W/idle.out"; do
  running "$IDLE_PID" || die "idle client failed: $(cat "$W/idle.err")"
  [ "$SECONDS" -lt "$deadline" ] || die "idle WebSockets not established in 300 s"
  sleep 0.5
done
sleep 2
RSS1="$(rss_kib "$API_PID")"
FDS="$(ls "/proc/$API_PID/fd" | wc -l)"
ESTABLISHED="$(awk '$1 == "established" { print $2 }' "$W/idle.out")"
SETUP_S="$(awk '$1 == "seconds" { print $2 }' "$W/idle.out")"
PER_CONN="$(awk -v a="$RSS0" -v b="$RSS1" -v n="$ESTABLISHED" 'BEGIN { printf "%.2f", (b - a) / n }')"
echo >&9
exec 9>&-
wait "$IDLE_PID" 2>/dev/null || true

verdict() { awk -v a="$1" -v b="$2" -v op="$3" 'BEGIN { if (op == "ge" ? a >= b : a <= b) print "PASS"; else print "MISS" }'; }
RATIO="$(awk -v a="${RPS[api]}" -v b="${RPS[ngx]}" 'BEGIN { printf "%.2f", a / b }')"
{
  echo "# IDE proxy benchmark"
  echo
  echo "- Command: \`bench/ide.sh\` (in \`make bench\`)"
  echo "- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- Machine: nproc=$(nproc), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- Versions: zlh-api $("$BIN/zlh-api" --version 2>/dev/null | head -1), $(nginx -v 2>&1), node $(node --version), wrk $(wrk -v 2>&1 | head -1 | awk '{ print $2 }')"
  echo "- Upstream: nginx started by the agent as the container's code-server addon at $UP (1 worker): \`/\` returns a 61-byte page; \`/ws\` goes to a Node WebSocket echo."
  echo "- zlh-api: \`/dev/$VMID/ide/\` on the server's IDE origin (\`--ide-listen\`, Host \`$VMID.localhost\`) with the \`zlh_ide\` cookie from a ticket (cookie + ownership checked on every request, from its short cache), 2 io threads, JSON access log to a file."
  echo "- nginx peer: \`proxy_pass\`, 2 workers, upstream \`keepalive 64\`, no auth. Express peer: Express 4 + http-proxy-middleware 3 (\`ws: true\`, keep-alive agent), no auth."
  echo "- wrk: 2 threads, $CONNS connections, $DURATION after a $WARMUP warm-up, $ROUNDS rounds in turn; medians. Latency from bench/wrk_latency.lua (µs)."
  echo "- CPU per request: the proxy's own processes (zlh-api; nginx's workers; Express's node) from /proc/<pid>/stat over the measured runs of all rounds, divided by the requests. wrk and the upstream share the same 2 cores, so requests/s follows the total CPU per request; this figure is the proxy's part of it and moves much less with the machine's load."
  echo
  echo "| $CONNS connections | zlh-api | nginx | express + http-proxy-middleware |"
  echo "|---|---:|---:|---:|"
  echo "| requests/s (median) | ${RPS[api]} | ${RPS[ngx]} | ${RPS[exp]} |"
  echo "| requests/s per round | ${ALL_RPS[api]} | ${ALL_RPS[ngx]} | ${ALL_RPS[exp]} |"
  ms() { awk -v v="$1" 'BEGIN { printf "%.3f", v / 1000 }'; }
  echo "| p50 (ms) | $(ms "${P50[api]}") | $(ms "${P50[ngx]}") | $(ms "${P50[exp]}") |"
  echo "| p90 (ms) | $(ms "${P90[api]}") | $(ms "${P90[ngx]}") | $(ms "${P90[exp]}") |"
  echo "| p99 (ms) | $(ms "${P99[api]}") | $(ms "${P99[ngx]}") | $(ms "${P99[exp]}") |"
  echo "| p99.9 (ms) | $(ms "${P999[api]}") | $(ms "${P999[ngx]}") | $(ms "${P999[exp]}") |"
  echo "| errors + non-2xx | ${ERR[api]} | ${ERR[ngx]} | ${ERR[exp]} |"
  echo "| CPU per request, user (µs) | ${USER_US[api]} | ${USER_US[ngx]} | ${USER_US[exp]} |"
  echo "| CPU per request, system (µs) | ${SYS_US[api]} | ${SYS_US[ngx]} | ${SYS_US[exp]} |"
  if [ -n "${SYSCALLS[api]:-}" ]; then
    echo "| syscalls per request (separate run) | ${SYSCALLS[api]} | ${SYSCALLS[ngx]} | ${SYSCALLS[exp]} |"
    echo "| of them reads that found nothing (EAGAIN) | ${EAGAIN[api]} | ${EAGAIN[ngx]} | ${EAGAIN[exp]} |"
  fi
  echo
  echo "- Goal ≥ 1.0× nginx requests/s: zlh-api/nginx = **$RATIO** ($(verdict "$RATIO" 1.0 ge)); p99 no worse than nginx: $(verdict "${P99[api]}" "${P99[ngx]}" le)."
  echo
  echo "## WebSocket echo round trip (32-byte text message, 2,000 after 200 warm-up, one connection)"
  echo
  echo "| path | p50 (µs) | p99 (µs) |"
  echo "|---|---:|---:|"
  echo "| direct to the upstream nginx | ${RTT50[direct]} | ${RTT99[direct]} |"
  echo "| through zlh-api | ${RTT50[api]} | **${RTT99[api]}** |"
  echo "| through nginx | ${RTT50[ngx]} | ${RTT99[ngx]} |"
  echo "| through express | ${RTT50[exp]} | ${RTT99[exp]} |"
  echo
  echo "## Idle WebSockets through zlh-api"
  echo
  echo "- $ESTABLISHED connections established (each checked with one echo) in $SETUP_S s; zlh-api then held $FDS descriptors."
  echo "- zlh-api VmRSS: $RSS0 KiB before, $RSS1 KiB with all of them open: **$PER_CONN KiB per connection** (goal ≤ 16 KiB: $(verdict "$PER_CONN" 16 le)). Kernel socket buffers are not in this figure."
} >"$RESULTS"
cat "$RESULTS"
