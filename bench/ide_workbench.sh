#!/usr/bin/env bash
# Time to workbench of the real code-server (docs/design.md §10.4, §14; docs/ide.md):
# a dev server with code-server from the demo store on the lxc driver, opened
# in a cold Chromium context (bench/ide_workbench.mjs) through three paths,
# interleaved round by round in a rotated order:
#   zlh     the real flow: POST /api/servers/{id}/ide-ticket, then the URL it
#           returns on zlh-api's IDE origin (302 with the zlh_ide cookie to
#           http://<vmid>.localhost:<port>/dev/<vmid>/ide/)
#   direct  code-server itself at http://<container ip>:6000/
#   nginx   Debian's nginx, proxy_pass to the same code-server under
#           /dev/<vmid>/ide/ (2 workers, upstream keep-alive, as bench/ide.sh)
# Time to workbench: page.goto() until .monaco-workbench is attached and
# .explorer-folders-view is visible. Beside it, the proxy's CPU time per
# load (zlh-api; nginx's workers) from /proc/<pid>/stat over the same window.
# Root only (the lxc driver; skipped otherwise). Writes
# bench/results/ide-workbench.md. Never prompts; on exit, also on failure or
# Ctrl-C, stops zlh-api, removes its containers, bridges and nftables table
# with zlh-lxc-cleanup, stops nginx and removes the temporary directory.
#
# Knobs: BENCH_WB_ROUNDS=7 BENCH_WB_WARMUPS=2 BENCH_BIN=<repo>/build/bin
#        BENCH_DEMO_STORE=<repo>/build/demo (its Node.js runtimes are reused)
#        BENCH_KEEP_TMP=1 (keep the logs)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$REPO/bench/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
  log "ide_workbench: skipped (the lxc driver needs root)"
  exit 0
fi

CMD="bench/ide_workbench.sh"
for var in BENCH_WB_ROUNDS BENCH_WB_WARMUPS BENCH_BIN BENCH_DEMO_STORE; do
  if [ -n "${!var:-}" ]; then CMD="$var=${!var} $CMD"; fi
done
BIN="${BENCH_BIN:-$REPO/build/bin}"
DEMO="${BENCH_DEMO_STORE:-$REPO/build/demo}"
ROUNDS="${BENCH_WB_ROUNDS:-7}"
WARMUPS="${BENCH_WB_WARMUPS:-2}"
RESULTS="$REPO/bench/results/ide-workbench.md"
CHROMIUM=/usr/bin/chromium

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_WB_ROUNDS must be a positive integer"
[[ "$WARMUPS" =~ ^[0-9]+$ ]] || die "BENCH_WB_WARMUPS must be a non-negative integer"
for tool in nginx node curl python3 ip nft findmnt; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh)"
done
[ -x "$CHROMIUM" ] || die "chromium is missing (scripts/install-deps.sh)"
[ -d "$REPO/tests/e2e/node_modules/playwright-core" ] || die "tests/e2e has no node_modules (scripts/install-deps.sh)"
for b in zlh-api zlhctl zlh-lxc-cleanup zlh-lxc-helper; do [ -x "$BIN/$b" ] || die "$BIN/$b is missing (make build)"; done

START=$SECONDS
W="$(mktemp -d /tmp/zlh-bench-wb.XXXXXX)"
chmod 711 "$W" # the containers' ids reach their files below it
PIDS=()        # stopped in reverse order: the helper, nginx, zlh-api
API_PID=""
LXC_ARGS=()    # zlh-lxc-cleanup DATA TAG BRIDGE_DEV SUBNET_DEV BRIDGE_GAME SUBNET_GAME ID_BASE SLOTS

# Processes whose command line names the temporary directory (an lxc
# monitor, an agent left behind), by pid.
pids_under() {
  local d cmd
  for d in /proc/[0-9]*; do
    cmd="$(tr '\0' ' ' 2>/dev/null <"$d/cmdline")" || continue
    case "$cmd" in *"$W/"*) echo "${d#/proc/}" ;; esac
  done
}

cleanup() {
  local rc=$? i p
  trap - EXIT INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [ "${#LXC_ARGS[@]}" -gt 0 ]; then
    "$BIN/zlh-lxc-cleanup" "${LXC_ARGS[@]}" >"$W/lxc-cleanup.log" 2>&1 ||
      log "zlh-lxc-cleanup failed: $(tail -n 5 "$W/lxc-cleanup.log")"
  fi
  for p in $(pids_under); do kill -KILL "$p" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ] && [ -s "$W/api.log" ]; then
    log "zlh-api log, request lines left out (last 20 lines):"
    grep -v '"msg":"request"' "$W/api.log" | tail -n 20 >&2 || true
  fi
  if findmnt -rn -o TARGET | grep -q "^$W/"; then
    log "file systems still mounted under $W; kept it: $(findmnt -rn -o TARGET | grep "^$W/" | tr '\n' ' ')"
  elif [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then
    log "kept $W"
  else
    rm -rf "$W"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'log terminated; exit 143' TERM

# --- the store: the demo store's Node.js runtimes and the cached code-server --
mkdir -p "$W/artifacts"
if [ -f "$DEMO/artifacts/catalog.json" ]; then
  cp -a "$DEMO/artifacts/." "$W/artifacts/"
fi
log "store with code-server in $W/artifacts (zlhctl demo-store; reuses ~/.cache/zlh)"
"$BIN/zlhctl" demo-store --out "$W/artifacts" --keys "$W/keys" --no-java >"$W/demo-store.log" 2>&1 ||
  die "zlhctl demo-store failed: $(tail -n 5 "$W/demo-store.log")"

# --- zlh-api with the lxc driver on bridges, subnets and ids of its own -------
# As tests/e2e/lib.mjs: a random tag and /24 pair (here in 10.240-250, clear
# of the routes this host has), and host ids of 4 slots no other suite uses:
# root's range (scripts/install-deps.sh) has 1000 slots of 65536 ids; the C++
# suites take blocks 1-60 of 16 slots, the browser tests block 61 (976-991),
# bench/lxc.sh slots 900-995; this takes 996-999.
read -r TAG SUB_DEV SUB_GAME <<<"$(python3 -c '
import ipaddress, secrets, subprocess
routes = [ipaddress.ip_network(l.split()[0], strict=False)
          for l in subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True,
                                  text=True).stdout.splitlines()
          if l and l.split()[0][0].isdigit()]
for _ in range(100):
    a, b = 240 + secrets.randbelow(11), secrets.randbelow(127) * 2
    nets = [ipaddress.ip_network(f"10.{a}.{b + i}.0/24") for i in (0, 1)]
    if not any(n.overlaps(r) for n in nets for r in routes if r.prefixlen > 0):
        print("w" + secrets.token_hex(2), nets[0], nets[1])
        break
')"
[ -n "${SUB_GAME:-}" ] || die "no free 10.240-250 subnet pair"
LXC_ARGS=("$W/data" "$TAG" "z${TAG}d" "$SUB_DEV" "z${TAG}g" "$SUB_GAME" "$((1000000 + 65536 * 996))" 4)
API_PORT="$(free_port)"
IDE_PORT="$(free_port)"
[ "$IDE_PORT" != "$API_PORT" ] || IDE_PORT="$(free_port)"
API_URL="http://127.0.0.1:$API_PORT"
ADMIN_PASSWORD="admin-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
log "zlh-api on $API_URL, IDE origin http://{vmid}.localhost:$IDE_PORT, lxc tag $TAG, $SUB_DEV + $SUB_GAME"
env -i PATH=/usr/bin:/bin ZLH_TEST_FAST_HASH=1 ZLH_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  "$BIN/zlh-api" --listen "127.0.0.1:$API_PORT" --data "$W/data" \
  --artifacts "$W/artifacts" --catalog-key "$W/keys/catalog.pub" --public-url "$API_URL" \
  --ide-listen "127.0.0.1:$IDE_PORT" --ide-origin "http://{vmid}.localhost:$IDE_PORT" \
  --driver lxc --lxc-tag "$TAG" --lxc-bridge-dev "z${TAG}d" --lxc-subnet-dev "$SUB_DEV" \
  --lxc-bridge-game "z${TAG}g" --lxc-subnet-game "$SUB_GAME" --lxc-id-base "${LXC_ARGS[6]}" \
  --lxc-slots "${LXC_ARGS[7]}" --lxc-disk-gb-default 2 >"$W/api.log" 2>&1 </dev/null &
API_PID=$!
PIDS+=("$API_PID")
wait_api "$API_PID" "$API_URL" "$W/api.log"

# JSON field PATH (a.b) of the JSON on stdin.
jfield() { python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."): v = v[k]
print(v)' "$1"; }
TOKEN="$(curl -sf -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.com","username":"bench","password":"bench-password-1"}' \
  "$API_URL/api/auth/register" | api_token)" || die "register failed"
AUTH="Authorization: Bearer $TOKEN"
CATALOG="$(curl -sf -H "$AUTH" "$API_URL/api/catalog/dev")" || die "GET /api/catalog/dev failed"
read -r NODE_VERSION CS_VERSION <<<"$(python3 -c '
import json, sys
c = json.loads(sys.argv[1])
vs = next(r for r in c["runtimes"] if r["id"] == "node")["versions"]
cs = [a for a in c.get("addons") or [] if a["id"] == "code-server"]
print(next((v for v in vs if v.get("default")), vs[0])["version"], cs[0]["versions"][0]["version"] if cs else "-")
' "$CATALOG")"
if [ -z "${CS_VERSION:-}" ] || [ "$CS_VERSION" = - ]; then die "the store offers no code-server addon"; fi
# The Node code-server runs on: demo-store's cache names its artifacts
# code-server-<version>-node-<node>-linux-x64.tar.gz; the one of the
# store's size.
CS_NODE=unknown
CS_SIZE="$(python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
print(next(v for a in c["addons"] if a["id"] == "code-server" for v in a["versions"] if v["version"] == sys.argv[2])["size"])
' "$W/artifacts/catalog.json" "$CS_VERSION")" || die "no code-server $CS_VERSION in $W/artifacts/catalog.json"
for f in "${XDG_CACHE_HOME:-$HOME/.cache}/zlh/code-server-$CS_VERSION-node-"*-linux-x64.tar.gz; do
  if [ -f "$f" ] && [ "$(stat -c %s "$f")" = "$CS_SIZE" ]; then
    CS_NODE="${f##*-node-}"
    CS_NODE="${CS_NODE%-linux-x64.tar.gz}"
  fi
done

log "creating a dev server (node $NODE_VERSION, code-server $CS_VERSION; installing takes 1-3 minutes)"
T_CREATE=$SECONDS
SID="$(curl -sf -H "$AUTH" -H 'Content-Type: application/json' \
  -d "{\"type\":\"dev\",\"name\":\"wb\",\"runtime\":\"node\",\"version\":\"$NODE_VERSION\",\"enable_code_server\":true}" \
  "$API_URL/api/servers" | jfield id)" || die "create refused"
deadline=$((SECONDS + 600))
while :; do
  SERVER="$(curl -sf -H "$AUTH" "$API_URL/api/servers/$SID")" || die "GET /api/servers/$SID failed"
  STATE="$(jfield state <<<"$SERVER")"
  [ "$STATE" = ready ] && break
  [ "$STATE" != error ] || die "the dev server failed: $(jfield error <<<"$SERVER")"
  running "$API_PID" || die "zlh-api exited"
  [ "$SECONDS" -lt "$deadline" ] || die "the dev server was not ready within 600 s (state $STATE)"
  sleep 1
done
VMID="$(jfield vmid <<<"$SERVER")"
IP="$(jfield ip <<<"$SERVER")"
DIRECT="http://$IP:6000"
deadline=$((SECONDS + 180))
until curl -sf --max-time 2 -o /dev/null "$DIRECT/healthz"; do
  [ "$SECONDS" -lt "$deadline" ] || die "code-server did not answer $DIRECT/healthz within 180 s of ready"
  sleep 0.5
done
READY_S=$((SECONDS - T_CREATE))
log "dev server $SID (vmid $VMID) ready, code-server at $DIRECT answers, ${READY_S} s after the create"

# The same workspace settings for every load: no welcome page, no tips.
curl -sf -o /dev/null -H "$AUTH" -H 'Content-Type: application/json' -d '{"path":".vscode"}' \
  "$API_URL/api/servers/$SID/files/mkdir" || die "mkdir .vscode failed"
curl -sf -o /dev/null -X PUT -H "$AUTH" -H 'Content-Type: application/json' \
  --data-binary '{"workbench.startupEditor":"none","workbench.tips.enabled":false}' \
  "$API_URL/api/servers/$SID/files/write?path=.vscode/settings.json" || die "writing .vscode/settings.json failed"

# --- the nginx peer -------------------------------------------------------------
# Host and X-Forwarded-* as zlh-api sends them: code-server accepts a
# WebSocket only when the Origin's host:port equals X-Forwarded-Host (else
# Host), and $host has no port.
NGX_PORT="$(free_port)"
NG="$W/nginx"
mkdir -p "$NG/tmp"
cat >"$NG/nginx.conf" <<EOF
user $(id -un) $(id -gn);
worker_processes 2;
daemon off;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $NG/tmp; proxy_temp_path $NG/tmp;
  fastcgi_temp_path $NG/tmp; uwsgi_temp_path $NG/tmp; scgi_temp_path $NG/tmp;
  upstream ide { server $IP:6000; keepalive 64; }
  map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }
  server {
    listen 127.0.0.1:$NGX_PORT;
    location /dev/$VMID/ide/ {
      proxy_pass http://ide/;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-Host \$http_host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Prefix /dev/$VMID/ide;
      proxy_read_timeout 3600s;
    }
  }
}
EOF
nginx -p "$NG/" -c "$NG/nginx.conf" -e "$NG/error.log" >"$NG/stdout" 2>&1 </dev/null &
NGX_PID=$!
PIDS+=("$NGX_PID")
NGINX_URL="http://127.0.0.1:$NGX_PORT/dev/$VMID/ide/"
deadline=$((SECONDS + 10))
until curl -sf -o /dev/null "${NGINX_URL}healthz"; do
  running "$NGX_PID" || die "nginx exited: $(tail -n 5 "$NG/error.log")"
  [ "$SECONDS" -lt "$deadline" ] || die "nginx does not proxy ${NGINX_URL}healthz"
  sleep 0.1
done
NGX_WORKERS="$(pgrep -P "$NGX_PID" | paste -sd, -)"
[ -n "$NGX_WORKERS" ] || die "nginx has no workers"

# --- the loads ------------------------------------------------------------------
python3 -c '
import json, sys, os
a = sys.argv
print(json.dumps({"api": a[1], "token": a[2], "server": int(a[3]), "direct": a[4] + "/", "nginx": a[5],
                  "rounds": int(a[6]), "warmups": int(a[7]), "clk_tck": os.sysconf("SC_CLK_TCK"),
                  "api_pid": int(a[8]), "nginx_pids": [int(p) for p in a[9].split(",")]}))
' "$API_URL" "$TOKEN" "$SID" "$DIRECT" "$NGINX_URL" "$ROUNDS" "$WARMUPS" "$API_PID" "$NGX_WORKERS" >"$W/loads.json"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
log "$WARMUPS warm-up and $ROUNDS measured rounds of zlh, direct, nginx (rotated), a new browser context each"
T_LOADS=$SECONDS
node "$REPO/bench/ide_workbench.mjs" "$W/loads.json" >"$W/loads.out" 2>"$W/loads.err" </dev/null &
LOADS_PID=$!
PIDS+=("$LOADS_PID")
tail -n +1 -f "$W/loads.out" --pid "$LOADS_PID" | sed -u 's/^/bench: /' >&2 &
wait "$LOADS_PID" || die "the loads failed: $(tail -n 20 "$W/loads.err")"
LOADS_S=$((SECONDS - T_LOADS))
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
running "$API_PID" || die "zlh-api exited during the loads"
running "$NGX_PID" || die "nginx exited during the loads"
NGX_ERRORS="$(wc -l <"$NG/error.log")"

# The container after the loads: its limits and the extension hosts still
# there (code-server keeps one whose window went without a goodbye).
CT="lxc.payload.$TAG-$VMID"
CT_MEM=unknown CT_CPU=unknown
if [ -r "/sys/fs/cgroup/memory/$CT/memory.limit_in_bytes" ]; then # cgroup v1
  CT_MEM="$(cat "/sys/fs/cgroup/memory/$CT/memory.limit_in_bytes")"
  CT_CPU="$(cat "/sys/fs/cgroup/cpu/$CT/cpu.cfs_quota_us" "/sys/fs/cgroup/cpu/$CT/cpu.cfs_period_us" 2>/dev/null |
    paste -sd' ' - | awk '{ print ($1 > 0) ? $1 / $2 : "max" }')" || CT_CPU=unknown
elif [ -r "/sys/fs/cgroup/$CT/memory.max" ]; then # cgroup v2
  CT_MEM="$(cat "/sys/fs/cgroup/$CT/memory.max")"
  CT_CPU="$(awk '{ print ($1 == "max") ? "max" : $1 / $2 }' "/sys/fs/cgroup/$CT/cpu.max" 2>/dev/null)" || CT_CPU=unknown
fi
CT_EXTHOSTS=0
for d in /proc/[0-9]*; do
  grep -qE ":/$CT(/|\$)" "$d/cgroup" 2>/dev/null || continue
  case "$(tr '\0' ' ' 2>/dev/null <"$d/cmdline")" in *--type=extensionHost*) CT_EXTHOSTS=$((CT_EXTHOSTS + 1)) ;; esac
done

# --- report -----------------------------------------------------------------------
COMMIT="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ "$COMMIT" != unknown ] && [ -n "$(git -C "$REPO" status --porcelain -- src 2>/dev/null)" ]; then
  COMMIT="$COMMIT, src/ modified"
fi
WB_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
WB_CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
WB_API_VERSION="$("$BIN/zlh-api" --version 2>/dev/null | head -n 1)"
WB_BUILT="$(date -u -r "$BIN/zlh-api" +%Y-%m-%dT%H:%M:%SZ)"
WB_CHROMIUM="$("$CHROMIUM" --version 2>/dev/null | tail -n 1)"
WB_NGINX="$(nginx -v 2>&1 | sed 's/^nginx version: //')"
WB_BENCH_NODE="$(node --version)"
export WB_DATE WB_CPU WB_API_VERSION WB_BUILT WB_CHROMIUM WB_NGINX WB_BENCH_NODE
export WB_CMD="$CMD" WB_ROUNDS="$ROUNDS" WB_WARMUPS="$WARMUPS" WB_LOAD_BEFORE="$LOAD_BEFORE" WB_LOAD_AFTER="$LOAD_AFTER" WB_COMMIT="$COMMIT"
export WB_CS_VERSION="$CS_VERSION" WB_CS_NODE="${CS_NODE:-unknown}" WB_NODE_VERSION="$NODE_VERSION"
export WB_VMID="$VMID" WB_IDE_PORT="$IDE_PORT" WB_NGX_ERRORS="$NGX_ERRORS" WB_READY_S="$READY_S"
export WB_LOADS_S="$LOADS_S" WB_TOTAL_S="$((SECONDS - START))"
export WB_CT_MEM="${CT_MEM:-unknown}" WB_CT_CPU="${CT_CPU:-unknown}" WB_CT_EXTHOSTS="$CT_EXTHOSTS"
python3 - "$W/loads.out" "$W/loads.err" "$RESULTS" <<'PY'
import os, statistics, sys

e = os.environ
runs, warm = [], []
for line in open(sys.argv[1]):
    f = line.split()
    rec = {"round": int(f[1]), "path": f[2]}
    rec.update({f[i]: float(f[i + 1]) for i in range(3, len(f) - 1, 2)})
    (runs if f[0] == "run" else warm).append(rec)
paths = ["zlh", "direct", "nginx"]
by = {p: [r for r in runs if r["path"] == p] for p in paths}
med = {p: statistics.median(r["ms"] for r in by[p]) for p in paths}
per_round = {p: statistics.median(
    next(r for r in by[p] if r["round"] == k)["ms"] / next(r for r in by["direct"] if r["round"] == k)["ms"]
    for k in sorted({r["round"] for r in runs})) for p in paths}
cpu = lambda p, key: sum(r[key] for r in by[p]) / len(by[p])
name = {"zlh": "zlh (ticket → IDE origin)", "direct": "direct (container :6000)", "nginx": "nginx proxy_pass"}
proxy_cpu = {"zlh": f"{cpu('zlh', 'api_cpu_ms'):.0f} (zlh-api)", "direct": "—",
             "nginx": f"{cpu('nginx', 'nginx_cpu_ms'):.0f} (nginx workers)"}
reqs = {p: statistics.median(r["requests"] for r in by[p]) for p in paths}
commit = {p: statistics.median(r["commit_ms"] for r in by[p]) for p in paths}
failed = {p: sum(r["failed"] for r in by[p]) / len(by[p]) for p in paths}
# What failed before the criterion (stderr of the helper: "<path>: <why> <url>"),
# by the last part of the URL, over all loads.
why = {}
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) == 3 and f[0].rstrip(":") in paths:
        k = f"{f[1]} …/{f[2].split('?')[0].rsplit('/', 1)[-1]}"
        why.setdefault(k, set()).add(f[0].rstrip(":"))
mem = e["WB_CT_MEM"]
mem = f"{int(mem) / 2**30:.1f} GiB" if mem.isdigit() else mem
ratio = med["zlh"] / med["direct"]
lines = [
    "# IDE time to workbench: the real code-server through zlh-api, direct and nginx",
    "",
    f"- Command: `{e['WB_CMD']}` (in `make bench`)",
    f"- Date: {e['WB_DATE']}; the run took {int(e['WB_TOTAL_S']) // 60} min {int(e['WB_TOTAL_S']) % 60} s "
    f"(dev server ready and code-server answering {e['WB_READY_S']} s after the create; loads {e['WB_LOADS_S']} s)",
    f"- Machine: nproc={os.cpu_count()}, {e['WB_CPU'] or 'unknown CPU'}, Linux {os.uname().release}, "
    f"load average before the loads {e['WB_LOAD_BEFORE']}, after {e['WB_LOAD_AFTER']}",
    f"- Versions: code-server {e['WB_CS_VERSION']} (on Node {e['WB_CS_NODE']}, from `zlhctl demo-store`), "
    f"dev runtime node {e['WB_NODE_VERSION']}, zlh-api {e['WB_API_VERSION']} (binary built {e['WB_BUILT']}; "
    f"checkout at {e['WB_COMMIT']}), {e['WB_NGINX']}, {e['WB_CHROMIUM']} headless via playwright-core, "
    f"bench node {e['WB_BENCH_NODE']}",
    f"- Rounds: {e['WB_ROUNDS']} (after {e['WB_WARMUPS']} warm-up loads per path, not reported); each round "
    "loads zlh, direct and nginx in an order rotated by one every round. Every load is a new browser context "
    "(no cache, cookies or storage) in one shared browser, 1280×800.",
    "- Time to workbench: from `page.goto(url)` until `.monaco-workbench` is in the DOM and "
    "`.explorer-folders-view` is visible (checked every animation frame), the same for all three.",
    f"- zlh: a ticket from `POST /api/servers/{{id}}/ide-ticket` (bearer token, before the clock starts), then "
    f"its URL on `http://{e['WB_VMID']}.localhost:{e['WB_IDE_PORT']}`: 302 with the `zlh_ide` cookie to "
    f"`/dev/{e['WB_VMID']}/ide/`, then proxied by zlh-api (ownership checked per request). "
    "direct: `http://<container ip>:6000/`. nginx: 2 workers, `proxy_pass` to the same code-server with "
    "upstream `keepalive 64`, the WebSocket upgrade map, Host and X-Forwarded-* as zlh-api sends them, "
    "`access_log off`, no auth. code-server itself redirects `/` to `./?folder=<workspace>` on every path.",
    "- CPU per load: utime + stime from `/proc/<pid>/stat` of zlh-api (all threads) or of nginx's workers, "
    "read right before `goto` and right after the criterion, summed over the path's measured loads and divided "
    "by their number (10 ms ticks). The ticket request is outside that window. The container (code-server, "
    f"its extension host; limited to {e['WB_CT_CPU']} CPU and {mem}) and Chromium share the same cores.",
    "- Page committed: from `goto` until the workbench's HTML page commits (after the redirects; the rest "
    "is loading and running the workbench's scripts and the remote connection).",
    "- Requests per load: those Chromium sent until the criterion held (redirects count apart; the zlh "
    "path has one more, its ticket's 302). Failed: no answer or a status ≥ 400 before the criterion.",
    "",
    "| path | median (ms) | min (ms) | max (ms) | median / direct median | median of per-round ratios to direct "
    "| proxy CPU per load (ms) | page committed, median (ms) | requests per load | failed or ≥ 400 per load |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for p in paths:
    ms = [r["ms"] for r in by[p]]
    bold = "**" if p == "zlh" else ""
    lines.append(f"| {name[p]} | {bold}{med[p]:.0f}{bold} | {min(ms):.0f} | {max(ms):.0f} | "
                 f"{bold}{med[p] / med['direct']:.3f}{bold} | {per_round[p]:.3f} | {proxy_cpu[p]} | "
                 f"{commit[p]:.0f} | {reqs[p]:.0f} | {failed[p]:.1f} |")
lines += [
    "",
    f"- Goal: zlh within 5 % of direct: zlh/direct = **{ratio:.3f}** ({'PASS' if ratio <= 1.05 else 'MISS'}); "
    f"nginx/direct = {med['nginx'] / med['direct']:.3f}.",
    f"- Background, over the direct loads (no proxy in the path): zlh-api {cpu('direct', 'api_cpu_ms'):.0f} ms "
    f"and nginx's workers {cpu('direct', 'nginx_cpu_ms'):.0f} ms per load. nginx error log: {e['WB_NGX_ERRORS']} lines.",
    "- Failed before the criterion, over all loads: "
    + ("; ".join(f"`{k}` ({', '.join(p for p in paths if p in v)})" for k, v in sorted(why.items())) or "none")
    + ". Extension hosts left in the container after the last load: " + e["WB_CT_EXTHOSTS"] + ".",
    "",
    "Per load (ms to workbench; ms to the page's commit; CPU ms of zlh-api and of nginx's workers over the "
    "same window):",
    "",
    "```",
]
lines += [f"warmup {r['round']} {r['path']:6} {r['ms']:7.0f} commit {r['commit_ms']:5.0f} zlh-api {r['api_cpu_ms']:4.0f} nginx {r['nginx_cpu_ms']:4.0f} "
          f"requests {r['requests']:.0f}" for r in warm]
lines += [f"round  {r['round']} {r['path']:6} {r['ms']:7.0f} commit {r['commit_ms']:5.0f} zlh-api {r['api_cpu_ms']:4.0f} nginx {r['nginx_cpu_ms']:4.0f} "
          f"requests {r['requests']:.0f}" for r in runs]
lines += ["```", ""]
text = "\n".join(lines)
open(sys.argv[3] + ".tmp", "w").write(text)
os.replace(sys.argv[3] + ".tmp", sys.argv[3])
print(text)
PY
log "results written to ${RESULTS#"$REPO"/}"
