#!/usr/bin/env bash
# zlh upload benchmark (docs/design.md §8, §14): one large file uploaded to a dev
# container's workspace through the agent's POST /files/upload (multipart,
# streamed to disk, atomic), compared in the same run on the same machine with
#   - nginx receiving the same body with a WebDAV PUT into a file (temp file,
#     then rename: the same atomic-write shape),
#   - the disk itself: dd of the same size with conv=fsync (the ceiling).
# nginx does not fsync; the agent does (docs/design.md §8 atomic writes), so the
# ratio includes the cost of durability. Reported: MB/s (10^6 bytes) per side (median of rounds), and the agent's
# resident memory during the upload (VmRSS sampled every 0.1 s, and VmHWM,
# the peak). Goal (issue 5): agent RSS < 64 MiB during a 2 GiB upload.
#
# Writes bench/results/upload.md. Never prompts; stops everything it started
# and removes its temporary directory on exit.
#
# Knobs: BENCH_UPLOAD_BYTES=2147483648  BENCH_ROUNDS=3  BENCH_BIN=<repo>/build/bin
#        BENCH_KEEP_TMP=1
set -euo pipefail
export LC_ALL=C

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
CMD="bench/upload.sh"
for var in BENCH_UPLOAD_BYTES BENCH_ROUNDS BENCH_BIN; do
  if [ -n "${!var:-}" ]; then CMD="$var=${!var} $CMD"; fi
done
BIN="${BENCH_BIN:-$REPO/build/bin}"
SIZE="${BENCH_UPLOAD_BYTES:-2147483648}"
ROUNDS="${BENCH_ROUNDS:-3}"
RESULTS="$REPO/bench/results/upload.md"
VMID=6001
RSS_GOAL_MIB=64

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

for tool in curl python3 tar nginx dd awk; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; run scripts/install-deps.sh (or make deps)"
done
for b in zlh-agent zlh-shim zlhctl; do
  [ -x "$BIN/$b" ] || die "$BIN/$b missing; build first (make build)"
done

TMP="$(mktemp -d "${TMPDIR:-/tmp}/zlh-bench-upload.XXXXXX")"
ROOT="$TMP/root"
AGENT_PID=""
NGINX_PID=""
SAMPLER_PID=""
CTL="$BIN/zlhctl"
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  stop_pid "$AGENT_PID"
  stop_pid "$NGINX_PID"
  if [ -n "${BENCH_KEEP_TMP:-}" ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "—"; else printf "%.2f", a / b }'; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# --- the payload: a sparse file (reading it costs the sender no disk) ---------
truncate -s "$SIZE" "$TMP/payload.bin"

# --- agent with a dev container ------------------------------------------------
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
  --artifacts "file://$TMP/store" --dev-user - --max-upload-bytes $((SIZE * 2)) \
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
RSS_IDLE="$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$AGENT_PID/status")"

# --- nginx: PUT body written to a file ----------------------------------------
NPORT="$(free_port)"
mkdir -p "$TMP/nginx/body" "$TMP/nginx/logs" "$TMP/nginx/www"
# As root, nginx workers would switch to "nobody" and lose access to $TMP.
USER_LINE=""
if [ "$(id -u)" -eq 0 ]; then USER_LINE="user $(id -un) $(id -gn);"; fi
cat >"$TMP/nginx/nginx.conf" <<CONF
$USER_LINE
daemon off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  server {
    listen 127.0.0.1:$NPORT;
    client_max_body_size 0;
    client_body_buffer_size 256k;
    root $TMP/nginx/www;
    location /upload/ { dav_methods PUT; create_full_put_path on; }
    location /ok { return 200 "ok\n"; }
  }
}
CONF
nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" -e "$TMP/nginx/logs/error.log" </dev/null &
NGINX_PID=$!
deadline=$((SECONDS + 10))
until curl -fsS --max-time 1 "http://127.0.0.1:$NPORT/ok" >/dev/null 2>&1; do
  running "$NGINX_PID" || die "nginx exited"
  [ "$SECONDS" -lt "$deadline" ] || die "nginx did not start"
  sleep 0.05
done

# --- rounds --------------------------------------------------------------------
declare -a A_MBPS N_MBPS D_MBPS
RSS_PEAK=0
for r in $(seq "$ROUNDS"); do
  log "round $r/$ROUNDS: agent upload of $SIZE bytes"
  rm -f "$ROOT/home/dev/workspace/up/payload.bin"
  (
    while :; do
      awk '$1 == "VmRSS:" { print $2 }' "/proc/$AGENT_PID/status" 2>/dev/null || exit 0
      sleep 0.1
    done
  ) >"$TMP/rss.$r" &
  SAMPLER_PID=$!
  t0="$(now)"
  code="$(curl -s -o "$TMP/up.json" -w '%{http_code}' -H "Authorization: Bearer $(token POST '/files/upload?path=up')" \
    -F "file=@$TMP/payload.bin;filename=payload.bin" "$AGENT_URL/files/upload?path=up")"
  t1="$(now)"
  kill "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
  [ "$code" = 200 ] || die "upload answered $code: $(head -c 300 "$TMP/up.json")"
  [ "$(stat -c %s "$ROOT/home/dev/workspace/up/payload.bin")" = "$SIZE" ] || die "uploaded file has the wrong size"
  A_MBPS+=("$(mbps "$SIZE" "$(elapsed "$t0" "$t1")")")
  peak="$(sort -n "$TMP/rss.$r" | tail -n 1)"
  [ "${peak:-0}" -gt "$RSS_PEAK" ] && RSS_PEAK="$peak"
  rm -f "$ROOT/home/dev/workspace/up/payload.bin"

  log "round $r/$ROUNDS: nginx PUT of $SIZE bytes"
  t0="$(now)"
  code="$(curl -s -o /dev/null -w '%{http_code}' -T "$TMP/payload.bin" "http://127.0.0.1:$NPORT/upload/payload.bin")"
  t1="$(now)"
  [ "$code" = 201 ] || [ "$code" = 204 ] || die "nginx answered $code"
  rm -f "$TMP/nginx/www/upload/payload.bin"
  N_MBPS+=("$(mbps "$SIZE" "$(elapsed "$t0" "$t1")")")

  log "round $r/$ROUNDS: dd of $SIZE bytes with fsync"
  t0="$(now)"
  dd if="$TMP/payload.bin" of="$TMP/dd.bin" bs=1M conv=fsync status=none
  t1="$(now)"
  rm -f "$TMP/dd.bin"
  D_MBPS+=("$(mbps "$SIZE" "$(elapsed "$t0" "$t1")")")
done
HWM="$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$AGENT_PID/status")"
AM="$(median "${A_MBPS[@]}")"
NM="$(median "${N_MBPS[@]}")"
DM="$(median "${D_MBPS[@]}")"
verdict=MISS
[ "$HWM" -lt $((RSS_GOAL_MIB * 1024)) ] && verdict=PASS

table="| side | MB/s (median of $ROUNDS) | runs | vs agent |
|---|---:|---|---:|
| zlh-agent POST /files/upload (multipart, atomic, fsync) | $AM | ${A_MBPS[*]} | 1.00 |
| nginx WebDAV PUT (temp file + rename) | $NM | ${N_MBPS[*]} | $(ratio "$NM" "$AM") |
| dd conv=fsync (disk ceiling) | $DM | ${D_MBPS[*]} | $(ratio "$DM" "$AM") |

| agent memory | MiB |
|---|---:|
| VmRSS idle before the uploads | $(mib "$RSS_IDLE") |
| VmRSS peak sampled during the uploads | $(mib "$RSS_PEAK") |
| VmHWM (peak) after the uploads | $(mib "$HWM") |
| goal: < $RSS_GOAL_MIB MiB during a $((SIZE / 1048576)) MiB upload | $verdict |"
printf '%s\n' "$table"
mkdir -p "$(dirname "$RESULTS")"
{
  echo "# zlh upload benchmark"
  echo
  echo "- Command: \`$CMD\` (part of \`make bench\`)"
  echo "- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- Machine: nproc=$(nproc), $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo "- Payload: a sparse file of $SIZE bytes read by curl (\`curl -F\` multipart to the agent, \`curl -T\` to nginx),"
  echo "  all on 127.0.0.1; the agent writes it to an O_TMPFILE, fsyncs and renames it into place."
  echo
  echo "$table"
} >"$RESULTS"
log "wrote $RESULTS"
