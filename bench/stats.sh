#!/usr/bin/env bash
# Live stats cost (docs/stats.md, issue 24): what zlh-api's ONE sampler and
# its stream viewers cost in CPU, measured in the same run on the same
# machine against zlh-api with the sampler off.
#
# zlh-api --driver proxmox against bench/stats_pve.py, a stand-in Proxmox
# API whose /cluster/resources lists BENCH_STATS_SERVERS (200) running
# containers (the proxmox driver samples them all with that one request);
# the store is seeded with as many ready servers owning those vmids
# (zlh-api-bench-seed). The status poller is parked (--poll-interval 3600)
# in every configuration, so only the sampler and the viewers differ:
#
#   off      --stats-interval 0: no sampler (the idle baseline)
#   sampler  --stats-interval 2, no viewer
#   viewers  --stats-interval 2, BENCH_STATS_VIEWERS (50) stream viewers
#            (bench/stats_viewers.py) spread over the servers
#
# Each runs BENCH_STATS_SECONDS (60) after a 6 s settle; zlh-api's CPU
# seconds come from utime+stime in /proc/<pid>/stat, the cycles from
# zlh_stats_driver_calls_total. Per cycle and per server are the
# difference to `off`, divided by the cycles (and the servers). The stand-in
# Proxmox's own CPU (Python building the JSON) is not zlh-api's and is not
# counted.
#
# Writes bench/results/stats.md with the command, date and machine. Never
# prompts; stops everything it started on exit. Knobs (environment):
#   BENCH_STATS_SERVERS=200 BENCH_STATS_VIEWERS=50 BENCH_STATS_SECONDS=60
#   BENCH_BIN=<repo>/build/bin BENCH_KEEP_TMP=1 (keep logs)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

CMD="bench/stats.sh"
for var in BENCH_STATS_SERVERS BENCH_STATS_VIEWERS BENCH_STATS_SECONDS BENCH_BIN; do
  if [ -n "${!var:-}" ]; then CMD="$var=${!var} $CMD"; fi
done

BIN="${BENCH_BIN:-$REPO/build/bin}"
SERVERS="${BENCH_STATS_SERVERS:-200}"
VIEWERS="${BENCH_STATS_VIEWERS:-50}"
SECS="${BENCH_STATS_SECONDS:-60}"
SETTLE=6
VMID_LO=40000
RESULTS="$REPO/bench/results/stats.md"

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

for tool in curl python3 awk getconf; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; run scripts/install-deps.sh (or make deps)"
done
for b in zlh-api zlh-api-bench-seed; do
  [ -x "$BIN/$b" ] || die "$BIN/$b missing; build first (make build)"
done
[[ "$SERVERS" =~ ^[1-9][0-9]*$ ]] && [ "$SERVERS" -le 999 ] || die "BENCH_STATS_SERVERS must be 1..999"
[[ "$VIEWERS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_STATS_VIEWERS must be a positive integer"
[[ "$SECS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_STATS_SECONDS must be a positive integer"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/zlh-bench-stats.XXXXXX")"
API_PID=""
PVE_PID=""
VIEW_PID=""
cleanup() {
  [ -n "$VIEW_PID" ] && kill "$VIEW_PID" 2>/dev/null || true
  stop_pid "$API_PID"
  stop_pid "$PVE_PID"
  if [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TCK="$(getconf CLK_TCK)"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
metric() { curl -fsS "$METRICS_URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }

python3 "$REPO/bench/stats_pve.py" --port-file "$TMP/pve.port" --vmid-lo "$VMID_LO" \
  --count "$SERVERS" >"$TMP/pve.out" 2>"$TMP/pve.log" &
PVE_PID=$!
for _ in $(seq 100); do [ -s "$TMP/pve.port" ] && break; sleep 0.1; done
[ -s "$TMP/pve.port" ] || die "the stand-in Proxmox did not start: $(tail -n 5 "$TMP/pve.log")"
echo 'zlh@pve!bench=bench-secret-0123456789' >"$TMP/pve.token"
printf 'url = "http://127.0.0.1:%s"\ntoken_file = "%s"\n[templates]\n"*" = 9000\n' "$(cat "$TMP/pve.port")" "$TMP/pve.token" \
  >"$TMP/proxmox.toml"

PASSWORD="bench-user-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
declare -A CPU CYCLES MSGS

# One configuration: name, --stats-interval, viewers.
measure() {
  local name="$1" interval="$2" viewers="$3" dir="$TMP/$1" port t0 t1 c0 c1 token ids
  mkdir -p "$dir"
  "$BIN/zlh-api-bench-seed" --db "$dir/zlh.db" --servers "$SERVERS" --dev-vmid-lo "$VMID_LO" \
    --username bench --password "$PASSWORD" >"$dir/seed.out" || die "seeding failed"
  port="$(free_port)"
  API_URL="http://127.0.0.1:$port"
  METRICS_URL="http://127.0.0.1:$(free_port)"
  ZLH_ADMIN_PASSWORD="bench-admin-password" "$BIN/zlh-api" --listen "127.0.0.1:$port" \
    --data "$dir" --driver proxmox --proxmox-config "$TMP/proxmox.toml" \
    --dev-vmid-lo "$VMID_LO" --dev-vmid-hi $((VMID_LO + 999)) --poll-interval 3600 \
    --stats-interval "$interval" --metrics-listen "${METRICS_URL#http://}" --log-level warn \
    >"$dir/api.out" 2>"$dir/api.log" </dev/null &
  API_PID=$!
  wait_api "$API_PID" "$API_URL" "$dir/api.log"
  if [ "$viewers" -gt 0 ]; then
    token="$(curl -fsS -X POST "$API_URL/api/auth/login" -H 'Content-Type: application/json' \
      -d "{\"identifier\":\"bench\",\"password\":\"$PASSWORD\"}" | api_token)" || die "login failed"
    ids="$(curl -fsS "$API_URL/api/servers" -H "Authorization: Bearer $token" |
      python3 -c 'import json, sys; print(",".join(str(s["id"]) for s in json.load(sys.stdin)["servers"]))')"
    mkfifo "$dir/viewers.in"
    (cd "$REPO/bench" && exec python3 stats_viewers.py "ws://127.0.0.1:$port" "$token" \
      --servers "$ids" --count "$viewers" <"$dir/viewers.in" >"$dir/viewers.out" 2>"$dir/viewers.log") &
    VIEW_PID=$!
    exec 7>"$dir/viewers.in"
    for _ in $(seq 600); do grep -q '^ready' "$dir/viewers.out" 2>/dev/null && break; sleep 0.1; done
    grep -q '^ready' "$dir/viewers.out" || die "viewers not ready: $(tail -n 3 "$dir/viewers.log")"
  fi
  sleep "$SETTLE"
  c0="$(metric zlh_stats_driver_calls_total)"
  t0="$(cpu_ticks "$API_PID")"
  sleep "$SECS"
  t1="$(cpu_ticks "$API_PID")"
  c1="$(metric zlh_stats_driver_calls_total)"
  running "$API_PID" || die "zlh-api died during $name: $(tail -n 5 "$dir/api.log")"
  CPU[$name]="$(awk -v a="$t0" -v b="$t1" -v t="$TCK" 'BEGIN { printf "%.3f", (b - a) / t }')"
  CYCLES[$name]=$((${c1%.*} - ${c0%.*}))
  MSGS[$name]=0
  if [ "$viewers" -gt 0 ]; then
    exec 7>&-
    wait "$VIEW_PID" || die "a viewer failed: $(tail -n 3 "$dir/viewers.log")"
    VIEW_PID=""
    MSGS[$name]="$(awk '/^messages/ { print $2 }' "$dir/viewers.out")"
  fi
  stop_pid "$API_PID"
  API_PID=""
  log "$name: cpu ${CPU[$name]} s over ${SECS} s, ${CYCLES[$name]} cycles, ${MSGS[$name]} viewer messages"
}

LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
measure off 0 0
measure sampler 2 0
measure viewers 2 "$VIEWERS"
LOAD1="$(cut -d' ' -f1-3 /proc/loadavg)"

# Figures: per cycle and per server are over `off`.
fig() { awk "BEGIN { printf \"$1\", $2 }"; }
N="${CYCLES[sampler]}"
NV="${CYCLES[viewers]}"
[ "$N" -gt 0 ] && [ "$NV" -gt 0 ] || die "no sampling cycles counted"
S_CYCLE_MS="$(fig %.2f "(${CPU[sampler]} - ${CPU[off]}) * 1000 / $N")"
S_SERVER_US="$(fig %.1f "(${CPU[sampler]} - ${CPU[off]}) * 1e6 / $N / $SERVERS")"
V_CYCLE_MS="$(fig %.2f "(${CPU[viewers]} - ${CPU[off]}) * 1000 / $NV")"
V_SERVER_US="$(fig %.1f "(${CPU[viewers]} - ${CPU[off]}) * 1e6 / $NV / $SERVERS")"
# One message per viewer per cycle in the window (the viewers' own count
# also spans the settle: a check that none was lost, not the divisor).
V_MSG_US="$(fig %.1f "(${CPU[viewers]} - ${CPU[sampler]}) * 1e6 / ($VIEWERS * $NV)")"
PCT() { fig %.2f "$1 * 100 / $SECS"; }

COMMIT="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
TABLE="| configuration | zlh-api CPU s in ${SECS} s | % of one core | cycles | CPU ms per cycle (over off) | CPU µs per server per cycle (over off) | messages viewers got (settle + window) |
|---|---:|---:|---:|---:|---:|---:|
| off (--stats-interval 0) | ${CPU[off]} | $(PCT "${CPU[off]}") | 0 | – | – | – |
| sampler, 0 viewers | ${CPU[sampler]} | $(PCT "${CPU[sampler]}") | $N | $S_CYCLE_MS | $S_SERVER_US | 0 |
| sampler, $VIEWERS viewers | ${CPU[viewers]} | $(PCT "${CPU[viewers]}") | $NV | $V_CYCLE_MS | $V_SERVER_US | ${MSGS[viewers]} |"
printf '%s\n\nper viewer message (viewers over sampler): %s µs of zlh-api CPU\n' "$TABLE" "$V_MSG_US"

mkdir -p "$(dirname "$RESULTS")"
cat >"$RESULTS" <<MD
# Live stats: sampler and stream cost (bench/stats.sh)

- Command: \`$CMD\`
- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ); checkout $COMMIT
- Machine: $(nproc) CPUs, $(uname -sr), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo);
  load average before/after: $LOAD0 / $LOAD1 (other work on the machine counts:
  compare the rows, measured one after the other in this run)
- Setup: zlh-api --driver proxmox against bench/stats_pve.py ($SERVERS running
  containers in /cluster/resources; one request per cycle), $SERVERS ready servers
  in the store, status poller parked (--poll-interval 3600: its calls are spread
  over the hour, a refused connect every ~9 s in every row), ${SECS} s per row
  after a ${SETTLE} s settle;
  CPU = utime+stime of zlh-api from /proc/<pid>/stat (${TCK} ticks/s).

$TABLE

Per viewer message (the viewers row over the sampler row, divided by
viewers × cycles, one message each per cycle): $V_MSG_US µs of zlh-api CPU.

Reading: the sampler's cost is one /cluster/resources request and $SERVERS
samples per cycle, whatever the number of viewers; a viewer adds one queued
text message per cycle for its server. The stand-in's own CPU (Python building
the JSON) is not counted.
MD
log "wrote $RESULTS"
