#!/usr/bin/env bash
# zlh-api benchmark (docs/design.md §14), two parts, measured in the same run on
# the same machine:
#
# (a) GET /api/servers for a user with BENCH_SERVERS (1,000) servers.
#     The store is filled before the API starts by zlh-api-bench-seed
#     (bench/api_seed.cpp: through the store module, the rows the API itself
#     writes: ready dev servers with ips, finished create jobs). Stand-in
#     agents (bench/fake_agents.py) answer GET /status at every server's
#     address, so the API's poller really polls 1,000 agents and writes 1,000
#     rows every 5 s during the measurement, as in production. wrk with
#     bench/wrk_latency.lua (exact percentiles) at 1 connection (the
#     latency goal: p99 ≤ 5 ms) and at BENCH_CONNECTIONS; peer: nginx serving
#     the very same JSON body as a static file, same wrk settings.
# (b) Provisioning time of a dev server on the local driver with a warm
#     cache: POST /api/servers until the job is done (server ready, agent
#     running), for the tiny "tool" runtime (platform overhead) and, when the
#     demo store exists (build/demo, made by `zlhctl demo-store`, as `make
#     test` does), real Node.js. The first create of a runtime is reported
#     apart; the goal (≤ 2 s) is on the median of the following creates.
#
# Prints Markdown tables and writes them, with the command, date and
# machine, to bench/results/api.md. Never prompts; cleans up every process
# it started on exit. Only a broken setup makes it exit non-zero; a figure
# over its goal is reported (MISS), not failed.
#
# Knobs (environment):
#   BENCH_SERVERS=1000  BENCH_DURATION=5s  BENCH_WARMUP=1s  BENCH_ROUNDS=3
#   BENCH_CONNECTIONS=16  BENCH_THREADS=2  BENCH_PROVISION_RUNS=5
#   BENCH_BIN=<repo>/build/bin  BENCH_DEMO_STORE=<repo>/build/demo
#   BENCH_KEEP_TMP=1 (keep logs)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

CMD="bench/api.sh"
for var in BENCH_SERVERS BENCH_DURATION BENCH_WARMUP BENCH_ROUNDS BENCH_CONNECTIONS BENCH_THREADS \
  BENCH_PROVISION_RUNS BENCH_BIN BENCH_DEMO_STORE; do
  if [ -n "${!var:-}" ]; then CMD="$var=${!var} $CMD"; fi
done

BIN="${BENCH_BIN:-$REPO/build/bin}"
SERVERS="${BENCH_SERVERS:-1000}"
DURATION="${BENCH_DURATION:-5s}"
WARMUP="${BENCH_WARMUP:-1s}"
ROUNDS="${BENCH_ROUNDS:-3}"
CONNS="${BENCH_CONNECTIONS:-16}"
THREADS="${BENCH_THREADS:-2}"
RUNS="${BENCH_PROVISION_RUNS:-5}"
DEMO="${BENCH_DEMO_STORE:-$REPO/build/demo}"
P99_GOAL_MS=5
PROVISION_GOAL_S=2
RESULTS="$REPO/bench/results/api.md"
LUA="$REPO/bench/wrk_latency.lua"

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

for tool in wrk nginx curl python3 awk tar gzip; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; run scripts/install-deps.sh (or make deps)"
done
for b in zlh-api zlh-agent zlh-shim zlhctl zlh-api-bench-seed; do
  [ -x "$BIN/$b" ] || die "$BIN/$b missing; build first (make build)"
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_PROVISION_RUNS must be a positive integer"
if ! [[ "$SERVERS" =~ ^[1-9][0-9]*$ ]] || [ "$SERVERS" -gt 3800 ]; then die "BENCH_SERVERS must be 1..3800"; fi
ulimit -n 8192 2>/dev/null || true # the stand-in agents hold one socket per server

TMP="$(mktemp -d "${TMPDIR:-/tmp}/zlh-bench-api.XXXXXX")"
API_PID=""
FAKE_PID=""
NGINX_PID=""

# Agents the part (b) API started (they outlive the API by design): found by
# their --root inside our temporary directory, so only ours are touched.
our_agents() {
  local p
  for p in $(pgrep -x zlh-agent 2>/dev/null || true); do
    if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "--root $TMP/"; then echo "$p"; fi
  done
}

cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  stop_pid "$API_PID"
  stop_pid "$FAKE_PID"
  stop_pid "$NGINX_PID"
  for p in $(our_agents); do kill -KILL "$p" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ]; then
    for f in "$TMP"/a/api.log "$TMP"/b/data/api.log; do
      if [ -s "$f" ]; then
        log "$f, request lines left out (last 15 lines):"
        grep -v '"msg":"request"' "$f" | tail -n 15 >&2 || true
      fi
    done
  fi
  if [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'log terminated; exit 143' TERM

proc_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "—"; else printf "%.2f", a / b }'; }
median() {
  local fmt="$1"
  shift
  printf '%s\n' "$@" | sort -g | awk -v fmt="$fmt" '{ a[NR] = $1 }
    END { printf fmt "\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
minmax() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }'; }

# vmids (hence loopback addresses) from 16000-19999, a range no test uses
# (api_stress_test 7000-15999, api_test/relay_test 20000-45599,
# local_driver_test 40000-64999, `make run` 6000-6999): part (a) gets a
# random window of $SERVERS, part (b) the 200 right after it.
VMID_LO="$(python3 -c 'import random, sys; print(16000 + random.randrange(0, (4000 - int(sys.argv[1]) - 200) // 100 + 1) * 100)' "$SERVERS")"
VMID_HI=$((VMID_LO + SERVERS - 1))
VMID_LO_B=$((VMID_HI + 1))

# Starts zlh-api with "$@"; sets API_PID and API_URL; waits for /healthz.
start_api() {
  local dir="$1" port
  shift
  port="$(free_port)"
  API_URL="http://127.0.0.1:$port"
  METRICS_URL="http://127.0.0.1:$(free_port)"
  ZLH_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$BIN/zlh-api" --listen "127.0.0.1:$port" --data "$dir" --driver local --insecure-local-driver \
    --metrics-listen "${METRICS_URL#http://}" "$@" \
    >"$dir/api.out" 2>"$dir/api.log" </dev/null &
  API_PID=$!
  wait_api "$API_PID" "$API_URL" "$dir/api.log"
}

login() { # identifier password → token
  curl -fsS -X POST "$API_URL/api/auth/login" -H 'Content-Type: application/json' -d "{\"identifier\":\"$1\",\"password\":\"$2\"}" | api_token
}

metric() { curl -fsS "$METRICS_URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }

# One wrk run (after a warm-up) with the latency script; stores its figures
# in W[<prefix>_<name>] (p50 p90 p99 p999 max mean in ms, rps, requests,
# errors, non2xx, bytes).
declare -A W
run_wrk() {
  local prefix="$1" conns="$2" threads="$3" url="$4" pid="$5" name="$6" out k v
  shift 6
  out="$TMP/wrk-$prefix.txt"
  if ! wrk -t"$threads" -c"$conns" -d"$WARMUP" "$@" "$url" >/dev/null ||
    ! wrk -t"$threads" -c"$conns" -d"$DURATION" -s "$LUA" "$@" "$url" >"$out"; then
    running "$pid" || die "$name died under load"
    die "wrk failed against $name at $url"
  fi
  running "$pid" || die "$name died under load"
  grep -q '^ZLH ' "$out" || die "wrk printed no figures for $name: $(cat "$out")"
  # shellcheck disable=SC2013 # one line of key=value words
  for kv in $(grep '^ZLH ' "$out" | cut -d' ' -f2-); do
    k="${kv%%=*}"
    v="${kv#*=}"
    case "$k" in
      p50 | p90 | p99 | p999 | max | mean) v="$(awk -v u="$v" 'BEGIN { printf "%.3f", u / 1000 }')" ;;
    esac
    W["${prefix}_$k"]="$v"
  done
  W["${prefix}_rps"]="$(awk -v n="${W[${prefix}_requests]}" -v d="${W[${prefix}_duration_us]}" 'BEGIN { printf "%.0f", n / (d / 1e6) }')"
}

# Medians over rounds of W[<p><round>_<k>] into W[<p>_<k>]; sums of errors.
summarize() {
  local p="$1" k r vals
  for k in p50 p90 p99 p999 max rps; do
    vals=()
    for r in $(seq "$ROUNDS"); do vals+=("${W[${p}${r}_$k]}"); done
    W["${p}_$k"]="$(median '%.3f' "${vals[@]}")"
    W["${p}_${k}_range"]="$(minmax "${vals[@]}")"
  done
  W["${p}_rps"]="$(printf '%.0f' "${W[${p}_rps]}")"
  for k in errors non2xx requests; do
    W["${p}_$k"]=0
    for r in $(seq "$ROUNDS"); do W["${p}_$k"]=$((W["${p}_$k"] + W["${p}${r}_$k"])); done
  done
}

ADMIN_PASSWORD="bench-admin-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"

# =============================================================================
# (a) GET /api/servers with $SERVERS servers
# =============================================================================
A="$TMP/a"
mkdir -p "$A"
USER_PASSWORD="bench-user-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
log "(a) seeding $SERVERS servers (vmids $VMID_LO-$VMID_HI) into $A/zlh.db"
t0="$(date +%s.%N)"
"$BIN/zlh-api-bench-seed" --db "$A/zlh.db" --servers "$SERVERS" --dev-vmid-lo "$VMID_LO" \
  --username bench --password "$USER_PASSWORD" >"$A/seed.out" || die "seeding failed"
SEED_S="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')"

python3 "$REPO/bench/fake_agents.py" --vmid-lo "$VMID_LO" --count "$SERVERS" >"$A/fake.out" 2>"$A/fake.log" </dev/null &
FAKE_PID=$!
deadline=$((SECONDS + 30))
until grep -q '^listening ' "$A/fake.out" 2>/dev/null; do
  running "$FAKE_PID" || die "stand-in agents exited: $(cat "$A/fake.log")"
  [ "$SECONDS" -lt "$deadline" ] || die "stand-in agents did not start"
  sleep 0.1
done
FAKE_LISTENING="$(awk '{ print $2 }' "$A/fake.out")"
log "(a) $FAKE_LISTENING stand-in agents listening"
# An address taken by something else would be polled as a failure, not as
# a stand-in: say so in the report rather than hide it.

API_A_START="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
start_api "$A" --dev-vmid-lo "$VMID_LO" --dev-vmid-hi "$VMID_HI"
API_A_PID="$API_PID"
TOKEN="$(login bench "$USER_PASSWORD")" || die "login failed"
AUTH="Authorization: Bearer $TOKEN"
# The poller has run a full cycle against the stand-ins before we measure.
deadline=$((SECONDS + 60))
until [ "$(metric zlh_poller_cycles_total)" -ge 2 ] 2>/dev/null; do
  [ "$SECONDS" -lt "$deadline" ] || die "the poller did not complete a cycle within 60 s"
  sleep 0.2
done

code="$(curl -s -o "$A/servers.json" -w '%{http_code}' -H "$AUTH" "$API_URL/api/servers")"
[ "$code" = 200 ] || die "GET /api/servers answered $code"
COUNT="$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["servers"]))' "$A/servers.json")"
[ "$COUNT" = "$SERVERS" ] || die "GET /api/servers listed $COUNT servers, expected $SERVERS"
BODY_BYTES="$(wc -c <"$A/servers.json")"
# Servers the poller has seen since the API started (the seed stamped them an hour ago).
SEEN_FRESH="$(python3 -c '
import json, sys
print(sum((s["agent_last_seen"] or "") >= sys.argv[2] and s["agent_state"] == "running"
          for s in json.load(open(sys.argv[1]))["servers"]))' "$A/servers.json" "$API_A_START")"

# --- nginx peer: the same body as a static file --------------------------------
NG="$TMP/nginx"
mkdir -p "$NG/root"
cp "$A/servers.json" "$NG/root/servers.json"
NGINX_PORT="$(free_port)"
USER_LINE=""
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
  types { application/json json; }
  client_body_temp_path $NG/client_body_temp;
  proxy_temp_path $NG/proxy_temp;
  fastcgi_temp_path $NG/fastcgi_temp;
  uwsgi_temp_path $NG/uwsgi_temp;
  scgi_temp_path $NG/scgi_temp;
  keepalive_requests 1000000;
  sendfile on;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $NG/root;
  }
}
NGINX_CONF
nginx -p "$NG/" -c "$NG/nginx.conf" -e "$NG/error.log" >"$NG/stdout" 2>&1 </dev/null &
NGINX_PID=$!
NGINX_URL="http://127.0.0.1:$NGINX_PORT/servers.json"
deadline=$((SECONDS + 10))
until curl -fsS --max-time 1 -o /dev/null "$NGINX_URL" 2>/dev/null; do
  running "$NGINX_PID" || die "nginx exited: $(cat "$NG/error.log")"
  [ "$SECONDS" -lt "$deadline" ] || die "nginx did not answer"
  sleep 0.05
done
cmp -s "$NG/root/servers.json" <(curl -fsS "$NGINX_URL") || die "nginx serves another body"

CYCLES_BEFORE="$(metric zlh_poller_cycles_total)"
LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
  log "(a) round $r/$ROUNDS: 1 connection, then $CONNS; zlh-api and nginx"
  run_wrk "AS1$r" 1 1 "$API_URL/api/servers" "$API_A_PID" zlh-api -H "$AUTH"
  run_wrk "NS1$r" 1 1 "$NGINX_URL" "$NGINX_PID" nginx
  run_wrk "ASN$r" "$CONNS" "$THREADS" "$API_URL/api/servers" "$API_A_PID" zlh-api -H "$AUTH"
  run_wrk "NSN$r" "$CONNS" "$THREADS" "$NGINX_URL" "$NGINX_PID" nginx
done
LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"
for p in AS1 NS1 ASN NSN; do summarize "$p"; done

CYCLES="$(($(metric zlh_poller_cycles_total) - CYCLES_BEFORE))"
POLL_SUM="$(metric zlh_poller_cycle_seconds_sum)"
POLL_COUNT="$(metric zlh_poller_cycle_seconds_count)"
POLL_MEAN_MS="$(awk -v s="$POLL_SUM" -v c="$POLL_COUNT" 'BEGIN { printf "%.0f", c ? s / c * 1000 : 0 }')"
POLL_FAILURES="$(metric zlh_poller_failures_total)"
POLL_TARGETS="$(metric zlh_poller_targets)"
API_RSS="$(proc_kib "$API_A_PID" VmRSS)"
API_HWM="$(proc_kib "$API_A_PID" VmHWM)"
stop_pid "$API_PID"
API_PID=""
stop_pid "$FAKE_PID"
FAKE_PID=""
stop_pid "$NGINX_PID"
NGINX_PID=""
API_LOG_NON200="$(grep '"msg":"request"' "$A/api.log" | grep '"route":"/api/servers"' | grep -vc '"status":200' || true)"

if awk -v p="${W[AS1_p99]}" -v g="$P99_GOAL_MS" 'BEGIN { exit !(p + 0 <= g) }'; then LIST_VERDICT=PASS; else LIST_VERDICT=MISS; fi

# =============================================================================
# (b) provisioning time, local driver, warm cache
# =============================================================================
B="$TMP/b"
mkdir -p "$B/data"
log "(b) artifact store in $B/store"
"$BIN/zlhctl" keygen --out "$B/keys" >/dev/null
"$BIN/zlhctl" catalog init --store "$B/store" >/dev/null
mkdir -p "$B/src/tool-1.0.0/bin"
printf '#!/bin/sh\necho "tool 1.0.0"\n' >"$B/src/tool-1.0.0/bin/tool"
chmod 755 "$B/src/tool-1.0.0/bin/tool"
tar -C "$B/src" -czf "$B/tool.tar.gz" tool-1.0.0
"$BIN/zlhctl" catalog add --store "$B/store" --kind runtime --id tool --version 1.0.0 --file "$B/tool.tar.gz" \
  --channel stable --strip 1 --bin bin --verify "bin/tool --version" --expect "tool 1.0.0" \
  >/dev/null 2>>"$B/zlhctl.log" || die "zlhctl catalog add tool: $(cat "$B/zlhctl.log")"
RUNTIMES=("tool 1.0.0")
NODE_NOTE="no demo store at $DEMO (run \`make test\` or \`zlhctl demo-store\` once): Node.js not measured"
if [ -f "$DEMO/artifacts/catalog.json" ]; then
  read -r NODE_VERSION NODE_REL < <(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
vs = [v for r in c["runtimes"] if r["id"] == "node" for v in r["versions"]]
v = next((v for v in vs if v.get("default")), vs[0] if vs else None)
print(v["version"], v["artifact"]) if v else print("", "")' "$DEMO/artifacts/catalog.json")
  if [ -n "$NODE_VERSION" ] && [ -f "$DEMO/artifacts/$NODE_REL" ]; then
    "$BIN/zlhctl" catalog add --store "$B/store" --kind runtime --id node --version "$NODE_VERSION" \
      --file "$DEMO/artifacts/$NODE_REL" --channel stable --strip 1 --bin bin \
      --verify "bin/node --version" --expect "v$NODE_VERSION" \
      >/dev/null 2>>"$B/zlhctl.log" || die "zlhctl catalog add node: $(cat "$B/zlhctl.log")"
    RUNTIMES+=("node $NODE_VERSION")
    NODE_NOTE="Node.js $NODE_VERSION: \`$(basename "$NODE_REL")\`, $(mib $(($(stat -c %s "$DEMO/artifacts/$NODE_REL") / 1024))) MiB, from the demo store"
  fi
fi
"$BIN/zlhctl" catalog sign --store "$B/store" --key "$B/keys/catalog.key" >/dev/null

start_api "$B/data" --artifacts "$B/store" --catalog-key "$B/keys/catalog.pub" \
  --dev-vmid-lo "$VMID_LO_B" --dev-vmid-hi $((VMID_LO_B + 199))
TOKEN_B="$(login admin "$ADMIN_PASSWORD")" || die "admin login failed"

# Creates one server and follows its job every 5 ms on one keep-alive
# connection; prints a JSON line {total_s, steps:{name: s since POST}} or fails.
provision() {
  python3 - "$API_URL" "$TOKEN_B" "$1" "$2" <<'PY'
import http.client, json, sys, time, urllib.parse
url, token, runtime, version = sys.argv[1:5]
u = urllib.parse.urlparse(url)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
body = json.dumps({"type": "dev", "runtime": runtime, "version": version})
t0 = time.monotonic()
c.request("POST", "/api/servers", body, h)
r = c.getresponse()
created = json.loads(r.read())
if r.status != 202:
    sys.exit("POST /api/servers answered %d: %s" % (r.status, created))
steps = {}
deadline = t0 + 600
while True:
    c.request("GET", "/api/jobs/%d" % created["job"], headers=h)
    job = json.loads(c.getresponse().read())
    now = time.monotonic() - t0
    for s in job["steps"]:
        if s["state"] == "done" and s["name"] not in steps:
            steps[s["name"]] = now
    if job["state"] == "done":
        break
    if job["state"] in ("failed", "compensating", "compensated"):
        sys.exit("provisioning failed: %s" % job.get("error"))
    if time.monotonic() > deadline:
        sys.exit("provisioning did not finish in 600 s")
    time.sleep(0.005)
c.request("GET", "/api/servers/%d" % created["id"], headers=h)
s = json.loads(c.getresponse().read())
if s["state"] != "ready" or s["agent_state"] != "running":
    sys.exit("job done but server %s / agent %s" % (s["state"], s["agent_state"]))
print(json.dumps({"id": created["id"], "vmid": s["vmid"], "total_s": now, "steps": steps}))
PY
}

declare -A FIRST MED RANGE STEPS_MED
for rt in "${RUNTIMES[@]}"; do
  read -r id version <<<"$rt"
  vals=()
  : >"$TMP/prov-$id.jsonl"
  for i in $(seq 0 "$RUNS"); do
    line="$(provision "$id" "$version")" || die "provisioning $id $version failed"
    echo "$line" >>"$TMP/prov-$id.jsonl"
    t="$(python3 -c 'import json, sys; print("%.3f" % json.loads(sys.argv[1])["total_s"])' "$line")"
    if [ "$i" = 0 ]; then
      FIRST[$id]="$t"
      log "(b) $id $version: first create $t s"
    else
      vals+=("$t")
      log "(b) $id $version: create $i/$RUNS $t s"
    fi
  done
  MED[$id]="$(median '%.3f' "${vals[@]}")"
  RANGE[$id]="$(minmax "${vals[@]}")"
  # Median time of each step (since the POST) over the warm creates.
  STEPS_MED[$id]="$(python3 - "$TMP/prov-$id.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])][1:]
names = list(rows[0]["steps"].keys())
prev = 0.0
out = []
for n in names:
    at = statistics.median(r["steps"][n] for r in rows if n in r["steps"])
    out.append("%s=%.3f/%.3f" % (n.replace(" ", "_"), at, max(0.0, at - prev)))
    prev = at
print(" ".join(out))
PY
)"
done

# Every server goes again: DELETE, then no agent of ours may remain.
log "(b) deleting the servers"
python3 - "$API_URL" "$TOKEN_B" <<'PY' || die "deleting the servers failed"
import http.client, json, sys, time, urllib.parse
url, token = sys.argv[1:3]
u = urllib.parse.urlparse(url)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
h = {"Authorization": "Bearer " + token}
c.request("GET", "/api/servers", headers=h)
for s in json.loads(c.getresponse().read())["servers"]:
    c.request("DELETE", "/api/servers/%d" % s["id"], headers=h)
    r = c.getresponse(); r.read()
    if r.status != 202:
        sys.exit("DELETE answered %d" % r.status)
deadline = time.monotonic() + 120
while True:
    c.request("GET", "/api/servers", headers=h)
    if not json.loads(c.getresponse().read())["servers"]:
        break
    if time.monotonic() > deadline:
        sys.exit("servers not deleted within 120 s")
    time.sleep(0.1)
PY
deadline=$((SECONDS + 30))
while [ -n "$(our_agents)" ]; do
  [ "$SECONDS" -lt "$deadline" ] || die "agents left after deleting every server: $(our_agents | tr '\n' ' ')"
  sleep 0.1
done
stop_pid "$API_PID"
API_PID=""

PROV_VERDICTS=""
for rt in "${RUNTIMES[@]}"; do
  read -r id version <<<"$rt"
  if awk -v m="${MED[$id]}" -v g="$PROVISION_GOAL_S" 'BEGIN { exit !(m + 0 <= g) }'; then v=PASS; else v=MISS; fi
  PROV_VERDICTS+="- Provisioning $id $version, median of $RUNS creates after the first ≤ $PROVISION_GOAL_S s — ${MED[$id]} s → **$v**"$'\n'
done

# =============================================================================
# report
# =============================================================================
row() { # label prefix-api prefix-nginx key
  printf '| %s | %s | %s | %s |\n' "$1" "${W[${2}_$4]}" "${W[${3}_$4]}" "$(ratio "${W[${2}_$4]}" "${W[${3}_$4]}")"
}
TABLE_A="$(
  echo "| GET /api/servers, $SERVERS servers ($BODY_BYTES bytes) | zlh-api | nginx, same body as a file | ratio (api/nginx) |"
  echo "|---|---:|---:|---:|"
  for c in 1 N; do
    if [ "$c" = 1 ]; then label="1 connection"; else label="$CONNS connections"; fi
    row "$label: p50 (ms)" "AS$c" "NS$c" p50
    row "$label: p90 (ms)" "AS$c" "NS$c" p90
    row "$label: **p99** (ms)" "AS$c" "NS$c" p99
    row "$label: p99.9 (ms)" "AS$c" "NS$c" p999
    row "$label: requests/s" "AS$c" "NS$c" rps
    printf '| %s | %s | %s | — |\n' "$label: p99 min–max over rounds (ms)" "${W[AS${c}_p99_range]}" "${W[NS${c}_p99_range]}"
  done
  printf '| %s | %s | %s | — |\n' "requests measured; socket errors; non-2xx" \
    "$((W[AS1_requests] + W[ASN_requests])); $((W[AS1_errors] + W[ASN_errors])); $((W[AS1_non2xx] + W[ASN_non2xx]))" \
    "$((W[NS1_requests] + W[NSN_requests])); $((W[NS1_errors] + W[NSN_errors])); $((W[NS1_non2xx] + W[NSN_non2xx]))"
)"
POLLER_LINE="poller during the measurement: $CYCLES cycles over $POLL_TARGETS agents (stand-ins listening: $FAKE_LISTENING; before the rounds, $SEEN_FRESH of $SERVERS servers showed agent_state running with an agent_last_seen stamped by this API), mean cycle $POLL_MEAN_MS ms (8 workers; the calls are spread over half the interval, docs/poller.md), $POLL_FAILURES failed calls in the whole run; zlh-api RSS $(mib "$API_RSS") MiB (peak $(mib "$API_HWM") MiB)"

TABLE_B="$(
  echo "| runtime | first create (s) | median of next $RUNS (s) | min–max (s) |"
  echo "|---|---:|---:|---:|"
  for rt in "${RUNTIMES[@]}"; do
    read -r id version <<<"$rt"
    echo "| $id $version | ${FIRST[$id]} | **${MED[$id]}** | ${RANGE[$id]} |"
  done
)"
STEPS_B="$(
  echo "| runtime | step | done at (s since POST, median) | step took (s) |"
  echo "|---|---|---:|---:|"
  for rt in "${RUNTIMES[@]}"; do
    read -r id version <<<"$rt"
    for kv in ${STEPS_MED[$id]}; do
      name="${kv%%=*}"
      v="${kv#*=}"
      echo "| $id | ${name//_/ } | ${v%%/*} | ${v#*/} |"
    done
  done
)"

GOALS="- GET /api/servers with $SERVERS servers, p99 at 1 connection ≤ $P99_GOAL_MS ms — ${W[AS1_p99]} ms → **$LIST_VERDICT**
$PROV_VERDICTS"

DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
COMMIT="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ "$COMMIT" != unknown ] && [ -n "$(git -C "$REPO" status --porcelain -- src 2>/dev/null)" ]; then
  COMMIT="$COMMIT, src/ modified"
fi
BUILT="$(date -u -r "$BIN/zlh-api" +%Y-%m-%dT%H:%M:%SZ)"

REPORT="$(
  cat <<REPORT_MD
# zlh-api benchmark

- Command: \`$CMD\` (what \`make bench\` runs after the other benchmarks)
- Date: $DATE
- Machine: nproc=$(nproc), ${CPU:-unknown CPU}, $(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r);
  load average $LOADAVG_START before part (a)'s rounds, $LOADAVG_END after
- Versions: zlh-api $("$BIN/zlh-api" --version) (binary built $BUILT; checkout at $COMMIT),
  $(nginx -v 2>&1 | sed 's/^nginx version: //'), wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }'), $(python3 --version)

## (a) GET /api/servers with $SERVERS servers of one user

- Store: \`zlh-api-bench-seed\` (bench/api_seed.cpp) wrote $SERVERS ready dev servers with finished
  create jobs through the store module in $SEED_S s, before zlh-api started on it.
- Agents: bench/fake_agents.py answers \`GET /status\` at each server's local-driver address
  (127.77.x.y:18888), so the API's poller (default: every 5 s, 8 workers) polls $SERVERS agents and
  writes $SERVERS rows per cycle during the measurement, as with live agents.
- Load: wrk, $DURATION per run after a $WARMUP warm-up, \`-s bench/wrk_latency.lua\` (exact
  percentiles from wrk's histogram), Bearer token of the user; 1 connection (1 thread): the
  latency goal; $CONNS connections ($THREADS threads). Peer: nginx (1 worker, sendfile) serving the
  body zlh-api answered, byte for byte, as a static file. $ROUNDS rounds, each loading zlh-api and
  nginx alike; medians over the rounds.
- zlh-api logs one JSON line per request to a file (as in production); $API_LOG_NON200 of its
  /api/servers requests were not 200.
- $POLLER_LINE.

$TABLE_A

## (b) Provisioning a dev server (local driver)

- Artifact store: a directory store made with \`zlhctl catalog init/add/sign\`; $NODE_NOTE;
  "tool" is a 1-file runtime, so its time is the platform's own overhead.
- Timed: \`POST /api/servers {"type":"dev","runtime":…,"version":…}\` until \`GET /api/jobs/{id}\`
  (polled every 5 ms on one keep-alive connection) says \`done\` — vmid allocated, container
  directory made, agent started and answering, payload sent, runtime downloaded (file://),
  sha256-checked, extracted and verified, agent \`running\`, server \`ready\` (checked after).
- "Warm cache": the creates after the first one of a runtime reuse what the first warmed —
  the artifact file in the page cache, the API's verified catalog. The local driver gives every
  container its own agent cache, so each create still copies, hashes and extracts the artifact.
- The servers are kept while the next ones are created ($(( (RUNS + 1) * ${#RUNTIMES[@]} )) containers at the end),
  then all deleted; no agent remained.

$TABLE_B

$STEPS_B

Job steps are observed by polling, so "done at" is late by up to 5 ms plus one request.
The job runner asks the agent for its state every 250 ms in "wait for running"
(\`JobRunnerConfig::poll_interval\`), so that step ends on a 250 ms grid: for "tool",
nearly all of its time is that wait, not work.

## Goals

$GOALS
REPORT_MD
)"

mkdir -p "$(dirname "$RESULTS")"
printf '%s\n' "$REPORT" >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"

printf '\n%s\n\n%s\n\n%s\n\n%s\n' "$TABLE_A" "$TABLE_B" "$STEPS_B" "$GOALS"
log "results written to ${RESULTS#"$REPO"/}"
