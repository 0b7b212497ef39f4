#!/bin/bash
# Replicas benchmark (issue 25): the IDE proxy's req/s and GET /api/servers
# latency with
#   sqlite  one zlh-api on its SQLite store (today's deployment),
#   pg1     one zlh-api on PostgreSQL,
#   pg2     two zlh-api replicas on one PostgreSQL database,
# all up at once and measured in one run, round after round in turn
# (sqlite, pg1, pg2, sqlite, …), so the shared machine's drift hits all
# three alike. Every configuration sits behind the same kind of load
# balancer (nginx, round robin over its replicas, upstream keep-alive), so
# the only difference is the store and the number of replicas.
#
# Each configuration: --driver proxmox against tests/fixtures/fake_proxmox.py
# (zlh-fake-ct gives its containers real agents), BENCH_REPLICAS_SERVERS
# (500) ready dev servers seeded into its store by zlh-api-bench-seed
# (stand-in agents, bench/fake_agents.py, answer their /status so the
# poller really polls them), plus one real dev server whose IDE addon is
# an nginx (as in bench/ide.sh). Stats sampling is off (--stats-interval 0)
# in all three, so the Proxmox fake is not asked for a thousand seeded
# guests that do not exist.
#
# Figures: wrk (bench/wrk_latency.lua) req/s and latency percentiles,
# errors; CPU per request from /proc/<pid>/stat over each measured run:
# zlh-api (all replicas), PostgreSQL (the configuration's backends and the
# cluster's own processes), and the nginx load balancer (the control).
# Correctness: requests per replica, the poller's targets per replica
# (each server polled by one), servers listed through each replica.
#
# This machine has 2 cores shared by wrk, the load balancer, PostgreSQL and
# the replicas: a second replica cannot add throughput here, so the
# figures to read are CPU per request and the correctness lines (issue 25).
#
#   BENCH_BIN=<repo>/build/bin BENCH_REPLICAS_SERVERS=500 BENCH_REPLICAS_ROUNDS=3
#   BENCH_REPLICAS_DURATION=6 BENCH_REPLICAS_CONNS=32 bench/replicas.sh
#
# Writes bench/results/replicas.md. Never prompts; stops everything it
# started, also on failure.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
. "$REPO/bench/lib.sh"
BIN="${BENCH_BIN:-$REPO/build/bin}"
SERVERS="${BENCH_REPLICAS_SERVERS:-500}"
ROUNDS="${BENCH_REPLICAS_ROUNDS:-3}"
DURATION="${BENCH_REPLICAS_DURATION:-6}s"
WARMUP=2s
CONNS="${BENCH_REPLICAS_CONNS:-32}"
LIST_CONNS="${BENCH_REPLICAS_LIST_CONNS:-8}"
RESULTS="${BENCH_REPLICAS_RESULTS:-$REPO/bench/results/replicas.md}"
LUA="$REPO/bench/wrk_latency.lua"
PGBIN="${ZLH_PG_BINDIR:-/usr/lib/postgresql/15/bin}"
CMD="bench/replicas.sh"
for var in BENCH_REPLICAS_SERVERS BENCH_REPLICAS_ROUNDS BENCH_REPLICAS_DURATION BENCH_REPLICAS_CONNS \
  BENCH_REPLICAS_LIST_CONNS; do
  if [ -n "${!var:-}" ]; then CMD="$var=${!var} $CMD"; fi
done

for tool in wrk nginx python3 curl openssl; do command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh)"; done
for b in zlh-api zlh-agent zlh-shim zlhctl zlh-fake-ct zlh-api-bench-seed; do
  [ -x "$BIN/$b" ] || die "$BIN/$b is missing (make build)"
done
[ -x "$PGBIN/initdb" ] || die "PostgreSQL 15 is missing ($PGBIN; scripts/install-deps.sh installs postgresql-15)"
"$BIN/zlh-api" --help 2>&1 | grep -q -- '--store ' || die "this zlh-api has no --store (issue 25 not built)"
if ! [[ "$SERVERS" =~ ^[1-9][0-9]*$ ]] || [ "$SERVERS" -gt 1900 ]; then die "BENCH_REPLICAS_SERVERS must be 1..1900"; fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

W="$(mktemp -d /tmp/zlh-bench-replicas.XXXXXX)"
chmod 755 "$W" # PostgreSQL's own user reaches its directory inside
PIDS=()
PG_AS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  if [ -f "$W/pg/data/postmaster.pid" ]; then
    "${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$W/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  # The fake's containers' agents (and their nginx) outlive the fake on a kill.
  for p in $(pgrep -f -- "$W/cts" 2>/dev/null || true); do kill -KILL "$p" 2>/dev/null || true; done
  if [ -n "${BENCH_KEEP:-}" ]; then log "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

# ---- PostgreSQL: a throwaway cluster on a Unix socket, trust auth ----
PGPORT=$((20000 + RANDOM % 30000))
mkdir -p "$W/pg"
if [ "$(id -u)" = 0 ]; then
  id -u zlh-pgtest >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin zlh-pgtest
  chown zlh-pgtest "$W/pg"
  PG_AS=(runuser -u zlh-pgtest --)
fi
"${PG_AS[@]}" "$PGBIN/initdb" -D "$W/pg/data" -U zlh -A trust -E UTF8 --no-instructions >"$W/pg/initdb.log" 2>&1 ||
  die "initdb failed: $(tail -n 5 "$W/pg/initdb.log")"
"${PG_AS[@]}" mkdir -p "$W/pg/sock"
"${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$W/pg/data" -l "$W/pg/server.log" -w \
  -o "-c listen_addresses='' -c unix_socket_directories='$W/pg/sock' -p $PGPORT -c max_connections=100" \
  start >/dev/null || die "PostgreSQL did not start: $(tail -n 5 "$W/pg/server.log")"
PG_MAIN="$(head -1 "$W/pg/data/postmaster.pid")"
for db in r1 r2; do "${PG_AS[@]}" "$PGBIN/createdb" -h "$W/pg/sock" -p "$PGPORT" -U zlh "$db"; done
pg_url() { echo "postgres://zlh@/$1?host=$W/pg/sock&port=$PGPORT"; }
log "PostgreSQL $("$PGBIN/postgres" --version | awk '{ print $3 }') on $W/pg/sock:$PGPORT"

# ---- the store: a tiny runtime and nginx playing code-server ----
"$BIN/zlhctl" keygen --out "$W/keys" >/dev/null
head -c 32 /dev/urandom | base64 >"$W/keys/jwt.secret"
chmod 600 "$W/keys/jwt.secret" "$W/keys/api.key"
"$BIN/zlhctl" catalog init --store "$W/store" >/dev/null
mkdir -p "$W/tool/t/bin" "$W/ide/i/bin"
printf '#!/bin/sh\necho "tool 1.0.0"\n' >"$W/tool/t/bin/tool"
chmod 755 "$W/tool/t/bin/tool"
tar -C "$W/tool" -czf "$W/tool.tar.gz" t
cat >"$W/ide/i/bin/code-server" <<'EOF'
#!/bin/sh
# nginx playing code-server: --bind-addr HOST:PORT --user-data-dir DIR
while [ $# -gt 0 ]; do
  case "$1" in --bind-addr) bind="$2"; shift ;; --user-data-dir) data="$2"; shift ;; esac
  shift
done
mkdir -p "$data/tmp"
cat >"$data/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
pid $data/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $data/tmp; proxy_temp_path $data/tmp;
  fastcgi_temp_path $data/tmp; uwsgi_temp_path $data/tmp; scgi_temp_path $data/tmp;
  server {
    listen $bind;
    keepalive_requests 1000000;
    location = /healthz { return 200 'ok'; }
    location / { default_type text/html; return 200 '<!doctype html><title>ide</title><p>hello from the IDE</p>'; }
  }
}
CONF
exec nginx -e stderr -p "$data" -c "$data/nginx.conf"
EOF
chmod 755 "$W/ide/i/bin/code-server"
tar -C "$W/ide" -czf "$W/ide.tar.gz" i
"$BIN/zlhctl" catalog add --store "$W/store" --kind runtime --id tool --version 1.0.0 --file "$W/tool.tar.gz" \
  --channel stable --strip 1 --bin bin --verify "bin/tool --version" --expect "tool 1.0.0" >/dev/null 2>>"$W/ctl.log"
"$BIN/zlhctl" catalog add --store "$W/store" --kind addon --id code-server --version 4.96.4 --file "$W/ide.tar.gz" \
  --channel stable --strip 1 --port 6000 --health /healthz \
  --launch "bin/code-server --bind-addr {bind} --user-data-dir {data}" >/dev/null 2>>"$W/ctl.log"
"$BIN/zlhctl" catalog sign --store "$W/store" --key "$W/keys/catalog.key" >/dev/null 2>>"$W/ctl.log"

# ---- the fake Proxmox cluster (one node), real containers ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=pve.test \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$W/pve.key" -out "$W/pve.crt" 2>/dev/null
FP="$(openssl x509 -noout -fingerprint -sha256 -in "$W/pve.crt" | cut -d= -f2 | tr 'a-f' 'A-F')"
PVE_TOKEN="zlh@pve!api=bench-secret-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$PVE_TOKEN" >"$W/pve.token"
chmod 600 "$W/pve.token"
mkdir -p "$W/cts"
FAKE_PVE_TOKEN="$PVE_TOKEN" python3 -u "$REPO/tests/fixtures/fake_proxmox.py" --nodes pve1=262144 --templates pve1=9001 \
  --data "$W/cts" --host 127.0.0.1 --port-file "$W/pve.port" --log "$W/pve.log" --cert "$W/pve.crt" --key "$W/pve.key" \
  --ct-bin "$BIN/zlh-fake-ct" --agent-bin "$BIN/zlh-agent" --api-key "$W/keys/api.pub" --dev-user - \
  --catalog-key "$W/keys/catalog.pub" --artifacts "file://$W/store" >>"$W/pve.log" 2>&1 &
PIDS+=($!)
deadline=$((SECONDS + 20))
until [ -s "$W/pve.port" ]; do
  [ "$SECONDS" -lt "$deadline" ] || die "the fake Proxmox did not start: $(tail -n 5 "$W/pve.log")"
  sleep 0.1
done
PVE_PORT="$(awk '{ print $1 }' "$W/pve.port")"
cat >"$W/proxmox.toml" <<EOF
url = "https://127.0.0.1:$PVE_PORT"
token_file = "$W/pve.token"
fingerprint = "$FP"
pool = "zlh"
lock_backoff_ms = 50
poll_ms = 100
[templates]
pve1 = 9001
[bridges]
dev = "vmbr1"
EOF

# ---- the three configurations ----
CFGS=(sqlite pg1 pg2)
declare -A LO STORE NREP API_PIDS API_URLS METRICS LB_API LB_IDE
i=0
for c in "${CFGS[@]}"; do
  LO[$c]=$((40000 + i * 2000))
  LB_API[$c]="$(free_port)"
  LB_IDE[$c]="$(free_port)"
  i=$((i + 1))
done
STORE[sqlite]="sqlite:$W/sqlite/zlh.db"
STORE[pg1]="$(pg_url r1)"
STORE[pg2]="$(pg_url r2)"
NREP[sqlite]=1
NREP[pg1]=1
NREP[pg2]=2
BENCH_PASSWORD="bench-password-1"

start_replica() { # cfg index → pid and URLs appended
  local c="$1" n="$2" d="$W/$1/r$2" port ide mport pid
  mkdir -p "$d"
  port="$(free_port)"
  ide="$(free_port)"
  mport="$(free_port)"
  ZLH_ADMIN_PASSWORD=admin-password-1 "$BIN/zlh-api" --listen "127.0.0.1:$port" --data "$d/data" \
    --store "${STORE[$c]}" --driver proxmox --proxmox-config "$W/proxmox.toml" \
    --jwt-secret-file "$W/keys/jwt.secret" --api-key-file "$W/keys/api.key" \
    --artifacts "$W/store" --catalog-key "$W/keys/catalog.pub" \
    --public-url "http://127.0.0.1:${LB_API[$c]}" \
    --ide-listen "127.0.0.1:$ide" --ide-origin "http://{vmid}.localhost:${LB_IDE[$c]}" \
    --metrics-listen "127.0.0.1:$mport" --stats-interval 0 \
    --dev-vmid-lo "${LO[$c]}" --dev-vmid-hi "$((LO[$c] + SERVERS + 49))" \
    >"$d/api.out" 2>"$d/api.log" &
  pid=$!
  PIDS+=("$pid")
  wait_api "$pid" "http://127.0.0.1:$port" "$d/api.log"
  API_PIDS[$c]+="$pid "
  API_URLS[$c]+="127.0.0.1:$port,127.0.0.1:$ide "
  METRICS[$c]+="127.0.0.1:$mport "
}

for c in "${CFGS[@]}"; do
  mkdir -p "$W/$c"
  "$BIN/zlh-api-bench-seed" --db "${STORE[$c]}" --servers "$SERVERS" --dev-vmid-lo "${LO[$c]}" \
    --username bench --password "$BENCH_PASSWORD" >"$W/$c/seed.out" 2>"$W/$c/seed.err" ||
    die "seeding $c failed: $(cat "$W/$c/seed.err")"
  python3 "$REPO/bench/fake_agents.py" --vmid-lo "${LO[$c]}" --count "$SERVERS" >"$W/$c/agents.out" 2>"$W/$c/agents.log" </dev/null &
  PIDS+=($!)
  for n in $(seq "${NREP[$c]}"); do start_replica "$c" "$n"; done
  log "$c: ${NREP[$c]} replica(s) up, $SERVERS seeded servers"
done
for c in "${CFGS[@]}"; do
  deadline=$((SECONDS + 60))
  until grep -q '^listening ' "$W/$c/agents.out" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || die "stand-in agents of $c did not listen"
    sleep 0.2
  done
done

# ---- the load balancer: nginx, round robin, upstream keep-alive ----
mkdir -p "$W/lb/tmp"
{
  echo "worker_processes 1; daemon off; pid $W/lb/nginx.pid; error_log stderr warn;"
  echo "worker_rlimit_nofile 65536; events { worker_connections 20000; }"
  echo "http { access_log off;"
  echo "  client_body_temp_path $W/lb/tmp; proxy_temp_path $W/lb/tmp; fastcgi_temp_path $W/lb/tmp;"
  echo "  uwsgi_temp_path $W/lb/tmp; scgi_temp_path $W/lb/tmp;"
  echo "  map \$http_upgrade \$conn { default upgrade; '' ''; }"
  for c in "${CFGS[@]}"; do
    echo "  upstream ${c}_api { keepalive 64;"
    for u in ${API_URLS[$c]}; do echo "    server ${u%,*};"; done
    echo "  }"
    echo "  upstream ${c}_ide { keepalive 64;"
    for u in ${API_URLS[$c]}; do echo "    server ${u#*,};"; done
    echo "  }"
    for kind in api ide; do
      port="${LB_API[$c]}"
      [ "$kind" = api ] || port="${LB_IDE[$c]}"
      echo "  server { listen 127.0.0.1:$port; keepalive_requests 1000000;"
      echo "    location / { proxy_pass http://${c}_$kind; proxy_http_version 1.1;"
      echo "      proxy_set_header Host \$http_host; proxy_set_header Upgrade \$http_upgrade;"
      echo "      proxy_set_header Connection \$conn; proxy_read_timeout 3600s; } }"
    done
  done
  echo "}"
} >"$W/lb/nginx.conf"
nginx -e stderr -p "$W/lb" -c "$W/lb/nginx.conf" 2>"$W/lb/error.log" &
LB_PID=$!
PIDS+=("$LB_PID")
sleep 0.5
LB_WORKER="$(pgrep -P "$LB_PID" | tr '\n' ' ')"
[ -n "$LB_WORKER" ] || die "the load balancer did not start: $(cat "$W/lb/error.log")"

# ---- per configuration: a token, the IDE server, its cookie ----
declare -A TOKEN VMID COOKIE HOSTH
json_field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d" + sys.argv[1]))' "$1"; }
for c in "${CFGS[@]}"; do
  api="http://127.0.0.1:${LB_API[$c]}"
  TOKEN[$c]="$(curl -fsS -H 'Content-Type: application/json' \
    -d "{\"identifier\":\"bench\",\"password\":\"$BENCH_PASSWORD\"}" "$api/api/auth/login" | api_token)"
  created="$(curl -fsS -H "Authorization: Bearer ${TOKEN[$c]}" -H 'Content-Type: application/json' \
    -d '{"type":"dev","runtime":"tool","version":"1.0.0","enable_code_server":true}' "$api/api/servers")"
  sid="$(json_field '["id"]' <<<"$created")"
  VMID[$c]="$(json_field '["server"]["vmid"]' <<<"$created")"
  deadline=$((SECONDS + 180))
  while :; do
    state="$(curl -fsS -H "Authorization: Bearer ${TOKEN[$c]}" "$api/api/servers/$sid" | json_field '["state"]')"
    [ "$state" = ready ] && break
    [ "$state" != error ] || die "$c: the IDE server failed: $(tail -n 5 "$W/$c/r1/api.log")"
    [ "$SECONDS" -lt "$deadline" ] || die "$c: the IDE server did not become ready"
    sleep 0.3
  done
  ticket="$(curl -fsS -X POST -H "Authorization: Bearer ${TOKEN[$c]}" -H 'Content-Type: application/json' -d '{}' \
    "$api/api/servers/$sid/ide-ticket" | json_field '["url"]')"
  origin="http://${VMID[$c]}.localhost:${LB_IDE[$c]}"
  HOSTH[$c]="Host: ${VMID[$c]}.localhost:${LB_IDE[$c]}"
  COOKIE[$c]="$(curl -s -o /dev/null -D - -H "${HOSTH[$c]}" "http://127.0.0.1:${LB_IDE[$c]}${ticket#"$origin"}" |
    sed -n 's/^[Ss]et-[Cc]ookie: zlh_ide=\([^;]*\).*/\1/p' | tr -d '\r')"
  [ -n "${COOKIE[$c]}" ] || die "$c: no zlh_ide cookie"
  curl -fsS -H "Cookie: zlh_ide=${COOKIE[$c]}" -H "${HOSTH[$c]}" \
    "http://127.0.0.1:${LB_IDE[$c]}/dev/${VMID[$c]}/ide/" | grep -q 'hello from the IDE' || die "$c: the IDE does not answer"
  log "$c: IDE server vmid ${VMID[$c]} ready"
done

# ---- correctness before measuring: every replica lists every server ----
declare -A LISTED
for c in "${CFGS[@]}"; do
  LISTED[$c]=""
  for u in ${API_URLS[$c]}; do
    n="$(curl -fsS -H "Authorization: Bearer ${TOKEN[$c]}" "http://${u%,*}/api/servers" |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d if isinstance(d, list) else d["servers"]))')"
    LISTED[$c]+="$n "
  done
done

# CPU ticks (user+system) of the given pids.
cpu_ticks() {
  local p t=0 a b
  for p in "$@"; do
    read -r a b < <(awk '{ print $14, $15 }' "/proc/$p/stat" 2>/dev/null || echo "0 0")
    t=$((t + a + b))
  done
  echo "$t"
}
# PostgreSQL processes that count for configuration $1: its database's
# backends and the cluster's own processes (not the other database's).
pg_pids() {
  local c="$1" db p cmd
  [ "$c" = sqlite ] && return 0
  db=r1
  [ "$c" = pg2 ] && db=r2
  echo "$PG_MAIN"
  for p in $(pgrep -P "$PG_MAIN"); do
    cmd="$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)"
    if [[ "$cmd" == *" zlh $db "* ]] || [[ "$cmd" != *" zlh r1 "* && "$cmd" != *" zlh r2 "* ]]; then
      echo "$p"
    fi
  done
  return 0
}

declare -A FIG
run_wrk() { # key cfg conns url [wrk args]
  local key="$1" c="$2" conns="$3" url="$4" out a0 p0 l0 a1 p1 l1 pgp
  shift 4
  out="$W/wrk-$key.txt"
  local t=2
  [ "$conns" -ge 2 ] || t=1
  wrk -t"$t" -c"$conns" -d"$WARMUP" "$@" "$url" >/dev/null
  pgp="$(pg_pids "$c" | tr '\n' ' ')"
  # shellcheck disable=SC2086
  a0="$(cpu_ticks ${API_PIDS[$c]})" p0="$(cpu_ticks $pgp)" l0="$(cpu_ticks $LB_WORKER)"
  wrk -t"$t" -c"$conns" -d"$DURATION" -s "$LUA" "$@" "$url" >"$out"
  # shellcheck disable=SC2086
  a1="$(cpu_ticks ${API_PIDS[$c]})" p1="$(cpu_ticks $pgp)" l1="$(cpu_ticks $LB_WORKER)"
  FIG[$key.api]=$((a1 - a0))
  FIG[$key.pg]=$((p1 - p0))
  FIG[$key.lb]=$((l1 - l0))
  local line kv
  line="$(grep '^ZLH ' "$out")" || die "wrk printed no figures for $key: $(cat "$out")"
  for kv in $line; do case "$kv" in *=*) FIG["$key.${kv%%=*}"]="${kv#*=}" ;; esac; done
}

for r in $(seq "$ROUNDS"); do
  for c in "${CFGS[@]}"; do
    log "round $r/$ROUNDS: $c (IDE $CONNS connections, list 1 and $LIST_CONNS connections, $DURATION each)"
    run_wrk "ide.$c.$r" "$c" "$CONNS" "http://127.0.0.1:${LB_IDE[$c]}/dev/${VMID[$c]}/ide/" \
      -H "Cookie: zlh_ide=${COOKIE[$c]}" -H "${HOSTH[$c]}"
    run_wrk "l1.$c.$r" "$c" 1 "http://127.0.0.1:${LB_API[$c]}/api/servers" -H "Authorization: Bearer ${TOKEN[$c]}"
    run_wrk "ln.$c.$r" "$c" "$LIST_CONNS" "http://127.0.0.1:${LB_API[$c]}/api/servers" \
      -H "Authorization: Bearer ${TOKEN[$c]}"
  done
done

# ---- correctness after: requests per replica, poller targets per replica ----
declare -A SERVED TARGETS
for c in "${CFGS[@]}"; do
  SERVED[$c]=""
  n=1
  for u in ${API_URLS[$c]}; do
    f="$W/$c/r$n/api.log"
    SERVED[$c]+="$(grep -c '"route":"/api/servers"' "$f" || true)/$(grep -c '"/dev/{vmid}/ide' "$f" || true) "
    n=$((n + 1))
  done
  TARGETS[$c]=""
  for m in ${METRICS[$c]}; do
    # Servers this replica owns (s25-cluster's gauge) else the last cycle's targets.
    TARGETS[$c]+="$(curl -fsS "http://$m/metrics" | awk '$1 == "zlh_poller_servers_owned" { o = $2 }
      $1 == "zlh_poller_targets" { t = $2 } END { print (o != "" ? o : t) }') "
  done
done

TICK_US=$((1000000 / $(getconf CLK_TCK)))
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# summary KIND CFG → "rps p50 p99 errors api_us pg_us lb_us"
summary() {
  local k="$1" c="$2" r rps=() p50=() p99=() err=0 reqs=0 api=0 pg=0 lb=0
  for r in $(seq "$ROUNDS"); do
    local key="$k.$c.$r"
    rps+=("$(awk -v n="${FIG[$key.requests]}" -v d="${FIG[$key.duration_us]}" 'BEGIN { printf "%.0f", n / (d / 1e6) }')")
    p50+=("${FIG[$key.p50]}")
    p99+=("${FIG[$key.p99]}")
    err=$((err + FIG[$key.errors] + FIG[$key.non2xx]))
    reqs=$((reqs + FIG[$key.requests]))
    api=$((api + FIG[$key.api]))
    pg=$((pg + FIG[$key.pg]))
    lb=$((lb + FIG[$key.lb]))
  done
  awk -v rps="$(median "${rps[@]}")" -v p50="$(median "${p50[@]}")" -v p99="$(median "${p99[@]}")" -v err="$err" \
    -v n="$reqs" -v a="$api" -v g="$pg" -v l="$lb" -v t="$TICK_US" \
    'BEGIN { printf "%s %.3f %.3f %d %.1f %.1f %.1f\n", rps, p50 / 1000, p99 / 1000, err, a * t / n, g * t / n, l * t / n }'
}
declare -A S
for k in ide l1 ln; do for c in "${CFGS[@]}"; do S[$k.$c]="$(summary "$k" "$c")"; done; done
col() { awk -v i="$2" '{ print $i }' <<<"${S[$1]}"; }
row() { # title kind field
  printf '| %s | %s | %s | %s |\n' "$1" "$(col "$2.sqlite" "$3")" "$(col "$2.pg1" "$3")" "$(col "$2.pg2" "$3")"
}
total() { awk -v a="$(col "$1" 5)" -v b="$(col "$1" 6)" 'BEGIN { printf "%.1f", a + b }'; }
{
  echo "# Replicas benchmark (issue 25)"
  echo
  echo "- Command: \`$CMD\` (in \`make bench\`)"
  echo "- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- Machine: nproc=$(nproc), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- Versions: zlh-api $("$BIN/zlh-api" --version 2>/dev/null | head -1), PostgreSQL $("$PGBIN/postgres" --version | awk '{ print $3 }') (Debian defaults, Unix socket), $(nginx -v 2>&1), wrk $(wrk -v 2>&1 | head -1 | awk '{ print $2 }')"
  echo "- Configurations, all up at once and measured in turn, $ROUNDS rounds (medians): **sqlite** one zlh-api on SQLite; **pg1** one zlh-api on PostgreSQL; **pg2** two replicas on one PostgreSQL database. Each behind the same nginx load balancer (1 worker, round robin, upstream keep-alive), --driver proxmox against the fake Proxmox, $SERVERS seeded ready servers (stand-in agents answer the poller) plus one real dev server with an nginx as its IDE, --stats-interval 0."
  echo "- IDE: \`/dev/<vmid>/ide/\` on the IDE origin with the zlh_ide cookie, $CONNS connections. List: \`GET /api/servers\` ($((SERVERS + 1)) servers) at 1 connection (latency) and $LIST_CONNS. wrk 2 threads, $DURATION after a $WARMUP warm-up."
  echo "- CPU per request: user + system time from /proc/<pid>/stat over the measured runs, divided by the requests: zlh-api (both replicas for pg2); PostgreSQL (the postmaster, its background processes and the configuration's backends); the load balancer (same for all: the control)."
  echo "- This machine has 2 cores for wrk, the load balancer, PostgreSQL and the replicas: a second replica cannot add throughput here, and none is claimed. Read CPU per request and the correctness lines."
  echo
  echo "| | sqlite, 1 process | PostgreSQL, 1 replica | PostgreSQL, 2 replicas |"
  echo "|---|---:|---:|---:|"
  row "IDE proxy req/s" ide 1
  row "IDE p50 (ms)" ide 2
  row "IDE p99 (ms)" ide 3
  row "IDE errors + non-2xx" ide 4
  row "IDE zlh-api CPU µs/req" ide 5
  row "IDE PostgreSQL CPU µs/req" ide 6
  printf '| IDE zlh-api + PostgreSQL CPU µs/req | %s | %s | %s |\n' "$(total ide.sqlite)" "$(total ide.pg1)" "$(total ide.pg2)"
  row "IDE load balancer CPU µs/req (control)" ide 7
  row "GET /api/servers req/s, 1 connection" l1 1
  row "GET /api/servers p50 (ms), 1 connection" l1 2
  row "**GET /api/servers p99 (ms), 1 connection**" l1 3
  row "GET /api/servers req/s, $LIST_CONNS connections" ln 1
  row "GET /api/servers p99 (ms), $LIST_CONNS connections" ln 3
  row "GET /api/servers errors + non-2xx" ln 4
  row "GET /api/servers zlh-api CPU µs/req ($LIST_CONNS conns)" ln 5
  row "GET /api/servers PostgreSQL CPU µs/req ($LIST_CONNS conns)" ln 6
  printf '| GET /api/servers zlh-api + PostgreSQL CPU µs/req | %s | %s | %s |\n' "$(total ln.sqlite)" "$(total ln.pg1)" "$(total ln.pg2)"
  row "load balancer CPU µs/req (control)" ln 7
  echo
  echo "## Correctness"
  echo
  echo "| | sqlite | pg1 | pg2 (A B) |"
  echo "|---|---|---|---|"
  echo "| servers listed through each replica (expected $((SERVERS + 1))) | ${LISTED[sqlite]}| ${LISTED[pg1]}| ${LISTED[pg2]}|"
  echo "| requests served per replica, list/IDE (access log) | ${SERVED[sqlite]}| ${SERVED[pg1]}| ${SERVED[pg2]}|"
  echo "| servers polled per replica (zlh_poller_servers_owned; each server by one: the sum is $((SERVERS + 1))) | ${TARGETS[sqlite]}| ${TARGETS[pg1]}| ${TARGETS[pg2]}|"
} >"$RESULTS"
cat "$RESULTS"
