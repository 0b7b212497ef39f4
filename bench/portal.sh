#!/usr/bin/env bash
# Portal benchmark (issue 8, docs/design.md §11, §14):
#  (a) bundle size: every built asset of portal/dist gzipped (-9), the app
#      without the xterm chunk against the goal (≤ 250 KiB gzip);
#  (b) time to interactive of the server list with BENCH_PORTAL_SERVERS
#      (200) servers: zlh-api on a store seeded by zlh-api-bench-seed, the
#      stand-in agents of bench/fake_agents.py answering its poller, Debian's
#      Chromium (bench/portal_tti.mjs), BENCH_PORTAL_RUNS (5) cold loads,
#      medians. No peer runs the same app; the figures stand against the goal
#      and the API's own answer time for the same list (curl, same run).
# Writes bench/results/portal.md. Never prompts; cleans up on exit.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$REPO/bench/lib.sh"
BIN="${BENCH_BIN:-$REPO/build/bin}"
SERVERS="${BENCH_PORTAL_SERVERS:-200}"
RUNS="${BENCH_PORTAL_RUNS:-5}"
DIST="$REPO/portal/dist"
RESULTS="$REPO/bench/results/portal.md"
VMID_LO=16000
VMID_HI=$((VMID_LO + SERVERS - 1))

[ -f "$DIST/index.html" ] || die "portal/dist is missing (make build)"
[ -x /usr/bin/chromium ] || die "chromium is missing (scripts/install-deps.sh)"
[ -d "$REPO/tests/e2e/node_modules/playwright-core" ] || die "tests/e2e has no node_modules (scripts/install-deps.sh)"
for b in zlh-api zlh-api-bench-seed; do [ -x "$BIN/$b" ] || die "$BIN/$b is missing (make build)"; done

W="$(mktemp -d /tmp/zlh-bench-portal.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  rm -rf "$W"
}
trap cleanup EXIT

# (a) Bundle.
declare -A GZ
total=0 app=0 xterm=0
rows=""
for f in "$DIST"/index.html "$DIST"/assets/*; do
  raw=$(wc -c <"$f")
  gz=$(gzip -9 -c "$f" | wc -c)
  name="${f#"$DIST"/}"
  total=$((total + gz))
  case "$name" in assets/xterm-*) xterm=$((xterm + gz)) ;; *) app=$((app + gz)) ;; esac
  rows+="| \`$name\` | $raw | $gz |"$'\n'
done
kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }
log "bundle: app $(kib "$app") KiB gzip without xterm, xterm $(kib "$xterm") KiB"

# (b) Time to interactive of the list.
USER_PASSWORD="bench-user-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
mkdir -p "$W/data"
"$BIN/zlh-api-bench-seed" --db "$W/data/zlh.db" --servers "$SERVERS" --dev-vmid-lo "$VMID_LO" \
  --username bench --password "$USER_PASSWORD" >"$W/seed.out" || die "seeding failed"
python3 "$REPO/bench/fake_agents.py" --vmid-lo "$VMID_LO" --count "$SERVERS" >"$W/fake.out" 2>"$W/fake.log" </dev/null &
PIDS+=($!)
deadline=$((SECONDS + 30))
until grep -q '^listening ' "$W/fake.out" 2>/dev/null; do
  [ "$SECONDS" -lt "$deadline" ] || die "stand-in agents did not start"
  sleep 0.1
done
PORT="$(free_port)"
API_URL="http://127.0.0.1:$PORT"
"$BIN/zlhctl" keygen --out "$W/keys" >/dev/null
"$BIN/zlhctl" catalog init --store "$W/store" >/dev/null
"$BIN/zlhctl" catalog sign --store "$W/store" --key "$W/keys/catalog.key" >/dev/null 2>&1
ZLH_ADMIN_PASSWORD=admin-password-1 "$BIN/zlh-api" --listen "127.0.0.1:$PORT" --data "$W/data" \
  --artifacts "$W/store" --catalog-key "$W/keys/catalog.pub" --portal "$DIST" --public-url "$API_URL" \
  --dev-vmid-lo "$VMID_LO" --dev-vmid-hi "$VMID_HI" --driver local --insecure-local-driver >"$W/api.out" 2>"$W/api.log" &
API_PID=$!
PIDS+=("$API_PID")
wait_api "$API_PID" "$API_URL" "$W/api.log"
TOKEN="$(curl -sf -H 'Content-Type: application/json' -d "{\"identifier\":\"bench\",\"password\":\"$USER_PASSWORD\"}" \
  "$API_URL/api/auth/login" | api_token)"
COUNT="$(curl -sf -H "Authorization: Bearer $TOKEN" "$API_URL/api/servers" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["servers"]))')"
[ "$COUNT" = "$SERVERS" ] || die "the list has $COUNT servers, expected $SERVERS"
API_MS="$(for _ in $(seq 20); do curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" "$API_URL/api/servers"; done |
  sort -n | awk '{ a[NR] = $1 * 1000 } END { printf "%.2f", a[int((NR + 1) / 2)] }')"
log "time to interactive of the list with $SERVERS servers ($RUNS cold loads)"
node "$REPO/bench/portal_tti.mjs" "$API_URL" "$TOKEN" "$SERVERS" "$RUNS" >"$W/tti.out" || die "portal_tti failed"
med() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$W/tti.out" | sort -n |
  awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ROWS_MS="$(med rows_ms)" TTI_MS="$(med tti_ms)" FCP_MS="$(med fcp_ms)"
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? "PASS" : "MISS" }'; }
{
  echo "# Portal benchmark"
  echo
  echo "- Command: \`bench/portal.sh\` (in \`make bench\`)"
  echo "- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- Machine: nproc=$(nproc), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- Versions: $(/usr/bin/chromium --version 2>/dev/null | tail -1), node $(node --version)"
  echo
  echo "## Bundle (portal/dist, gzip -9)"
  echo
  echo "| asset | bytes | gzip bytes |"
  echo "|---|---:|---:|"
  printf '%s' "$rows"
  echo
  echo "- App without xterm: **$(kib "$app") KiB gzip** (goal ≤ 250 KiB: $(verdict "$app" $((250 * 1024))))."
  echo "- xterm chunk (loaded by the console tab only): $(kib "$xterm") KiB gzip. Everything: $(kib "$total") KiB gzip."
  echo
  echo "## Server list with $SERVERS servers, time to interactive"
  echo
  echo "zlh-api on 127.0.0.1 with a store seeded by zlh-api-bench-seed ($SERVERS ready dev servers) and stand-in agents answering its poller; Debian's Chromium headless at 1280×800, $RUNS cold loads (new context, no cache) with the session cookie; medians. TTI = the later of \"all $SERVERS rows rendered\" and the end of the last long task within 1 s after."
  echo
  echo "| figure | ms |"
  echo "|---|---:|"
  echo "| first contentful paint | $FCP_MS |"
  echo "| $SERVERS rows rendered | $ROWS_MS |"
  echo "| time to interactive | **$TTI_MS** |"
  echo "| for reference: \`GET /api/servers\` alone (curl, median of 20) | $API_MS |"
  echo
  echo "Per run:"
  echo
  echo '```'
  cat "$W/tti.out"
  echo '```'
} >"$RESULTS"
cat "$RESULTS"
