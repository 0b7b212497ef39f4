#!/usr/bin/env bash
# zlh-agent install benchmark (docs/design.md §4.2, §14): installing a runtime
# artifact of 200 MB or more (download from a local HTTP server, then sha256
# check, then extraction, then the catalog's verify command) through
# POST /runtimes/install, compared with
# `curl -o f && sha256sum f && tar -xzf f` on the same file from the same
# server, measured in the same run on the same machine. It also times the
# re-install of an installed version, where the install guard answers.
#
# Goals (from the issue): the agent at least 1.3x faster than the peer
# (peer time / agent time >= 1.3), and every re-install (guard hit) within
# 10 ms. Results are printed as PASS or MISS. A missed goal never makes the
# script fail; only a broken setup does (a missing tool, an agent or nginx
# that does not start, or an install that does not answer 200).
#
# Prints a Markdown table and writes it, with the command, date and machine,
# to bench/results/install.md. Never prompts. On exit, success or failure,
# it stops every process it started and removes its temporary directory,
# which holds up to about 700 MB while it runs.
#
# Knobs (environment):
#   BENCH_ROUNDS=3          measured rounds, each one agent install and one peer run
#   BENCH_REINSTALLS=20     re-installs timed after each agent install
#   BENCH_ARTIFACT_MIB=215  random (incompressible) payload in the artifact
#   BENCH_DROP_CACHES=auto  1: sync and drop the page cache before each timed
#                           install (needs root); 0: never; auto: 1 when allowed
#   BENCH_PHASES=1          one more, unmeasured round that splits both sides into phases
#   BENCH_BIN=<repo>/build/bin   BENCH_KEEP_TMP=1 (keep the temporary directory)
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME and awk print a dot as the decimal separator

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

CMD="bench/install.sh"
for var in BENCH_ROUNDS BENCH_REINSTALLS BENCH_ARTIFACT_MIB BENCH_DROP_CACHES BENCH_PHASES BENCH_BIN; do
  if [ -n "${!var:-}" ]; then CMD="$var=${!var} $CMD"; fi
done

BIN="${BENCH_BIN:-$REPO/build/bin}"
ROUNDS="${BENCH_ROUNDS:-3}"
REINSTALLS="${BENCH_REINSTALLS:-20}"
ARTIFACT_MIB="${BENCH_ARTIFACT_MIB:-215}"
DROP="${BENCH_DROP_CACHES:-auto}"
PHASES="${BENCH_PHASES:-1}"
RESULTS="$REPO/bench/results/install.md"
RATIO_GOAL=1.3
GUARD_GOAL_MS=10
MIN_ARTIFACT_BYTES=$((200 * 1024 * 1024))
VMID=6001
RT_ID=big
RT_VERSION=1.0.0
ARTIFACT_NAME="$RT_ID-$RT_VERSION.tar.gz"
HEALTH_BODY='{"ok":true,"version":"0.1.0"}'

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

for tool in nginx curl python3 sha256sum tar gzip awk; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "'$tool' not found; run scripts/install-deps.sh (or make deps)"
done
for b in zlh-agent zlhctl; do
  [ -x "$BIN/$b" ] || die "$BIN/$b missing; build first (make build)"
done
for v in ROUNDS REINSTALLS ARTIFACT_MIB; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer"
done
[ "$ARTIFACT_MIB" -ge 200 ] || die "BENCH_ARTIFACT_MIB must be at least 200 (the artifact must be >= 200 MiB)"
case "$DROP" in
  auto) if [ -w /proc/sys/vm/drop_caches ] && (echo 1 >/proc/sys/vm/drop_caches) 2>/dev/null; then DROP=1; else DROP=0; fi ;;
  0 | 1) ;;
  *) die "BENCH_DROP_CACHES must be auto, 0 or 1" ;;
esac
if [ "$DROP" = 1 ] && ! [ -w /proc/sys/vm/drop_caches ]; then
  die "BENCH_DROP_CACHES=1 needs a writable /proc/sys/vm/drop_caches (root)"
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/zlh-bench-install.XXXXXX")"
AGENT_PID=""
NGINX_PID=""
NEED_KIB=$(((ARTIFACT_MIB * 4 + 100) * 1024)) # peak: the store plus one agent root or peer dir (3x), and slack
AVAIL_KIB="$(df -Pk "$TMP" | awk 'NR == 2 { print $4 }')"

AGENT_LOG=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$AGENT_PID"
  stop_pid "$NGINX_PID"
  if [ "$rc" -ne 0 ]; then
    if [ -n "$AGENT_LOG" ] && [ -s "$AGENT_LOG" ]; then
      log "agent log, request lines left out (last 20 lines):"
      grep -v '"msg":"request"' "$AGENT_LOG" | tail -n 20 >&2 || true
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

[ "$AVAIL_KIB" -ge "$NEED_KIB" ] ||
  die "$TMP has $((AVAIL_KIB / 1024)) MiB free, the benchmark needs about $((NEED_KIB / 1024)) MiB (set TMPDIR)"

wait_health() {
  local url="$1" pid="$2" name="$3" deadline=$((SECONDS + 15)) body
  while :; do
    running "$pid" || die "$name exited before answering $url"
    if body="$(curl -fsS --max-time 1 "$url" 2>/dev/null)"; then
      [ -z "${4:-}" ] || [ "$body" = "$4" ] || die "$name $url answered '$body', expected '$4'"
      return 0
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "$name did not answer $url within 15 s"
    sleep 0.05
  done
}

# Writes back dirty pages (the previous step's files) and empties the page
# cache, so that each timed install starts from the disk, not from memory.
drop_caches() {
  [ "$DROP" = 1 ] || return 0
  sync
  echo 3 >/proc/sys/vm/drop_caches
}

now() { printf '%s\n' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
proc_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "—"; else printf "%.2f", a / b }'; }
median() {
  local fmt="$1"
  shift
  printf '%s\n' "$@" | sort -g | awk -v fmt="$fmt" '{ a[NR] = $1 }
    END { printf fmt "\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
minmax() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }

# --- artifact ---------------------------------------------------------------
# big-1.0.0/ holds bin/tool (prints "tool 1.0.0" for --version), a few
# hundred files of random data between 1 KiB and 8 MiB (ARTIFACT_MIB in all)
# under lib/ and share/, some compressible text and a few symlinks, as a
# runtime has. Random data does not compress, so the .tar.gz (gzip -1) is
# about as large as the tree.
log "building a ${ARTIFACT_MIB} MiB artifact in $TMP"
SRC="$TMP/src/$RT_ID-$RT_VERSION"
mkdir -p "$SRC/bin"
cat >"$SRC/bin/tool" <<'TOOL'
#!/bin/sh
if [ "${1:-}" = --version ]; then echo "tool 1.0.0"; exit 0; fi
echo "usage: tool --version" >&2
exit 2
TOOL
chmod 755 "$SRC/bin/tool"
python3 - "$SRC" "$ARTIFACT_MIB" <<'PY'
import os, random, sys
root, mib = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)  # same file sizes every run
dirs = ["lib", "lib/modules", "lib/modules/core", "share/data", "share/assets", "share/assets/img"]
for d in dirs + ["share/doc", "include"]:
    os.makedirs(os.path.join(root, d), exist_ok=True)
target, total, i = mib << 20, 0, 0
while total < target:
    r = rng.random()
    if r < 0.55:
        size = rng.randint(1 << 10, 64 << 10)
    elif r < 0.90:
        size = rng.randint(64 << 10, 1 << 20)
    else:
        size = rng.randint(1 << 20, 8 << 20)
    size = min(size, target - total)
    with open(os.path.join(root, dirs[i % len(dirs)], "f%04d.bin" % i), "wb") as f:
        f.write(os.urandom(size))
    total += size
    i += 1
for j in range(40):  # compressible text: headers and docs
    name = os.path.join(root, "include" if j % 2 else "share/doc", "t%02d.%s" % (j, "h" if j % 2 else "txt"))
    with open(name, "w") as f:
        for k in range(rng.randint(200, 4000)):
            f.write("#define TOOL_SYMBOL_%d_%d 0x%08x /* line %d of a generated header */\n" % (j, k, rng.getrandbits(32), k))
os.symlink("f0000.bin", os.path.join(root, "lib", "libtool.so"))
os.symlink("../lib/f0000.bin", os.path.join(root, "share", "libtool-link.bin"))
os.symlink("tool", os.path.join(root, "bin", "tool-alias"))
PY
UNPACKED_BYTES="$(du -sb "$SRC" | awk '{ print $1 }')"
UNPACKED_FILES="$(find "$SRC" -type f | wc -l)"
UNPACKED_LINKS="$(find "$SRC" -type l | wc -l)"
ARTIFACT="$TMP/$ARTIFACT_NAME"
tar -C "$TMP/src" -cf - "$RT_ID-$RT_VERSION" | gzip -1 >"$ARTIFACT"
rm -rf "$TMP/src"
ARTIFACT_BYTES="$(stat -c %s "$ARTIFACT")"
[ "$ARTIFACT_BYTES" -ge "$MIN_ARTIFACT_BYTES" ] ||
  die "artifact is $ARTIFACT_BYTES bytes, under 200 MiB; raise BENCH_ARTIFACT_MIB"

# --- store ------------------------------------------------------------------
log "store: catalog add + sign"
CTL="$BIN/zlhctl"
"$CTL" keygen --out "$TMP/keys" >/dev/null
"$CTL" catalog init --store "$TMP/store" >/dev/null
"$CTL" catalog add --store "$TMP/store" --kind runtime --id "$RT_ID" --version "$RT_VERSION" \
  --file "$ARTIFACT" --channel stable --strip 1 --bin bin \
  --verify "bin/tool --version" --expect "tool $RT_VERSION" >/dev/null 2>"$TMP/catalog-add.err" ||
  { cat "$TMP/catalog-add.err" >&2; die "zlhctl catalog add failed"; }
"$CTL" catalog sign --store "$TMP/store" --key "$TMP/keys/catalog.key" >/dev/null
rm -f "$ARTIFACT" # the store holds its own copy
read -r ARTIFACT_REL SHA256 < <(python3 - "$TMP/store/catalog.json" "$RT_ID" "$RT_VERSION" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
v = next(v for r in c["runtimes"] if r["id"] == sys.argv[2] for v in r["versions"] if v["version"] == sys.argv[3])
print(v["artifact"], v["sha256"])
PY
)
[ -f "$TMP/store/$ARTIFACT_REL" ] || die "the store has no $ARTIFACT_REL"
[ "$(stat -c %s "$TMP/store/$ARTIFACT_REL")" = "$ARTIFACT_BYTES" ] || die "the store's copy differs in size"

# --- nginx: the artifact server ---------------------------------------------
NG="$TMP/nginx"
mkdir -p "$NG"
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
  sendfile on;
  default_type application/octet-stream;
  client_body_temp_path $NG/client_body_temp;
  proxy_temp_path $NG/proxy_temp;
  fastcgi_temp_path $NG/fastcgi_temp;
  uwsgi_temp_path $NG/uwsgi_temp;
  scgi_temp_path $NG/scgi_temp;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $TMP/store;
    location = /health {
      default_type application/json;
      return 200 '$HEALTH_BODY';
    }
  }
}
NGINX_CONF
log "nginx serving $TMP/store on 127.0.0.1:$NGINX_PORT"
nginx -p "$NG/" -c "$NG/nginx.conf" -e "$NG/error.log" >"$NG/stdout" 2>&1 </dev/null &
NGINX_PID=$!
NGINX_URL="http://127.0.0.1:$NGINX_PORT"
wait_health "$NGINX_URL/health" "$NGINX_PID" nginx "$HEALTH_BODY"
ARTIFACT_URL="$NGINX_URL/$ARTIFACT_REL"
code="$(curl -s -o /dev/null -w '%{http_code}' -I "$ARTIFACT_URL")"
[ "$code" = 200 ] || die "nginx answered $code for $ARTIFACT_URL"

# --- agent side ---------------------------------------------------------------
INSTALL_BODY="{\"runtime\":\"$RT_ID\",\"version\":\"$RT_VERSION\"}"
AGENT_URL=""
# Agent tokens are good for one request (M5): agent_token METHOD TARGET [COUNT].
agent_token() { "$CTL" token --key "$TMP/keys/api.key" --vmid "$VMID" --ttl 300 --method "$1" --target "$2" --count "${3:-1}"; }

# Starts a fresh agent on root $1 (an empty cache and no runtimes).
start_agent() {
  local root="$1" port
  mkdir -p "$root"
  port="$(free_port)"
  AGENT_LOG="$root.log"
  "$BIN/zlh-agent" --root "$root" --listen "127.0.0.1:$port" --vmid "$VMID" \
    --api-key "$TMP/keys/api.pub" --catalog-key "$TMP/keys/catalog.pub" \
    --artifacts "$NGINX_URL" --dev-user - >"$root.stdout" 2>"$AGENT_LOG" </dev/null &
  AGENT_PID=$!
  AGENT_URL="http://127.0.0.1:$port"
  wait_health "$AGENT_URL/health" "$AGENT_PID" zlh-agent "$HEALTH_BODY"
}

# POST /runtimes/install; prints "<http code> <time_total s>", the body goes to $1.
post_install() {
  curl -s -o "$1" -w '%{http_code} %{time_total}\n' -X POST \
    -H "Authorization: Bearer $(agent_token POST /runtimes/install)" -H 'Content-Type: application/json' \
    -d "$INSTALL_BODY" "$AGENT_URL/runtimes/install"
}

# Checks an install answer: 200, {runtime, version, path}, and a working tool.
check_install() {
  local code="$1" body="$2" root="$3" path
  [ "$code" = 200 ] || die "POST /runtimes/install answered $code: $(head -c 400 "$body")"
  path="$(python3 - "$body" "$RT_ID" "$RT_VERSION" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
assert b["runtime"] == sys.argv[2] and b["version"] == sys.argv[3], b
print(b["path"])
PY
)" || die "POST /runtimes/install answered an unexpected body: $(head -c 400 "$body")"
  case "$path" in "$root"/*) ;; *) die "installed path $path is not under $root" ;; esac
  [ "$("$path/bin/tool" --version)" = "tool $RT_VERSION" ] || die "$path/bin/tool does not work"
}

declare -a AGENT_S AGENT_LOG_MS AGENT_HWM_KIB GUARD_MS PEER_S
agent_round() {
  local r="$1" root code t _ out
  root="$TMP/agent-$r"
  start_agent "$root"
  drop_caches
  read -r code t < <(post_install "$TMP/install-$r.json")
  running "$AGENT_PID" || die "zlh-agent died during the install"
  check_install "$code" "$TMP/install-$r.json" "$root"
  AGENT_S[r]="$(awk -v t="$t" 'BEGIN { printf "%.3f", t }')"
  AGENT_HWM_KIB[r]="$(proc_kib "$AGENT_PID" VmHWM)"
  # The agent's own figure for the request (its log line), without curl.
  AGENT_LOG_MS[r]="$(grep '"msg":"request"' "$AGENT_LOG" | grep '"route":"/runtimes/install"' | head -n 1 |
    sed -n 's/.*"duration_ms":\([0-9.]*\).*/\1/p' || true)"
  grep -q '"msg":"runtime installed"' "$AGENT_LOG" || die "the agent did not log \"runtime installed\""
  # Re-installs: the install guard answers from the marker file.
  for _ in $(seq "$REINSTALLS"); do
    read -r code t < <(post_install "$TMP/reinstall.json")
    [ "$code" = 200 ] || die "re-install answered $code: $(head -c 400 "$TMP/reinstall.json")"
    GUARD_MS+=("$(awk -v t="$t" 'BEGIN { printf "%.3f", t * 1000 }')")
  done
  out="$(grep -c '"msg":"runtime installed"' "$AGENT_LOG")"
  [ "$out" = 1 ] || die "the agent installed $out times; re-installs must be guard hits"
  stop_pid "$AGENT_PID"
  AGENT_PID=""
  cp "$AGENT_LOG" "$TMP/agent-log-$r.txt"
  rm -rf "$root"
}

# --- peer side ----------------------------------------------------------------
# One command: download, check the hash (sha256sum -c does the same hashing
# as `sha256sum f` and fails on a mismatch), extract with the same strip,
# then run the same verify command as the agent.
peer_cmd() {
  curl -fsS -o f "$ARTIFACT_URL" &&
    echo "$SHA256  f" | sha256sum -c --quiet - &&
    mkdir x && tar -xzf f -C x --strip-components=1 &&
    [ "$(x/bin/tool --version)" = "tool $RT_VERSION" ]
}

peer_round() {
  local r="$1" dir t0 t1
  dir="$TMP/peer-$r"
  mkdir -p "$dir"
  drop_caches
  t0="$(now)"
  (cd "$dir" && peer_cmd) || die "peer command failed in round $r"
  t1="$(now)"
  PEER_S[r]="$(elapsed "$t0" "$t1")"
  rm -rf "$dir"
}

# --- measured rounds ----------------------------------------------------------
LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
  # Alternate who goes first, so that drift on the machine hits both alike.
  if [ $((r % 2)) = 1 ]; then
    log "round $r/$ROUNDS: agent install, then peer"
    agent_round "$r"
    peer_round "$r"
  else
    log "round $r/$ROUNDS: peer, then agent install"
    peer_round "$r"
    agent_round "$r"
  fi
  log "round $r: agent ${AGENT_S[r]} s, peer ${PEER_S[r]} s, re-install max $(maxof "${GUARD_MS[@]: -$REINSTALLS}") ms"
done
LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- phases (one more round, not in the figures above) ------------------------
# Agent: polls GET /status every 2 ms during the install and notes when the
# operation's step (and the download's progress) changes. Peer: the same
# commands as above, each one timed on its own.
PHASE_AGENT=""
PHASE_PEER=""
if [ "$PHASES" = 1 ]; then
  log "phases: one more agent install and peer run, split into steps"
  root="$TMP/agent-phases"
  start_agent "$root"
  drop_caches
  agent_token GET /status 30000 >"$TMP/status-tokens"
  PHASE_AGENT="$(python3 - "$AGENT_URL" "$(agent_token POST /runtimes/install)" "$INSTALL_BODY" "$TMP/status-tokens" <<'PY'
import http.client, json, sys, threading, time, urllib.parse
url, token, body, status_tokens = sys.argv[1:5]
u = urllib.parse.urlparse(url)
hdr = {"Authorization": "Bearer " + token}
status_hdrs = ({"Authorization": "Bearer " + t.strip()} for t in open(status_tokens))
res = {}
def install():
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=1800)
    c.request("POST", "/runtimes/install", body, dict(hdr, **{"Content-Type": "application/json"}))
    r = c.getresponse()
    res["status"], res["body"], res["end"] = r.status, r.read(), time.monotonic()
t0 = time.monotonic()
th = threading.Thread(target=install)
th.start()
c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
marks, last = [], None
while th.is_alive():
    c.request("GET", "/status", headers=next(status_hdrs))
    op = json.loads(c.getresponse().read()).get("operation")
    if op:
        step = op["step"].split(" ")[0]
        done = step == "download" and op["progress"] >= 0.6
        key = (step, done)
        if key != last:
            marks.append((time.monotonic() - t0, step + (" (all bytes in)" if done else "")))
            last = key
    time.sleep(0.002)
th.join()
if res.get("status") != 200:
    sys.exit("install answered %s: %s" % (res.get("status"), res.get("body")))
marks.append((res["end"] - t0, "answer"))
names = {"fetch": "fetch catalog + check signature",
         "download": "download + sha256 (streamed into the cache)",
         "download (all bytes in)": "hash compare + fsync + rename of the cached artifact",
         "extract": "extract (libarchive) + symlink check",
         "verify": "verify command, marker, rename, current, environment",
         "installed": "answer reaches the client"}
for (a, s), (b, _) in zip(marks, marks[1:]):
    print("%s\t%.3f\t%.3f" % (names.get(s, s), a, b - a))
print("total (POST to answer, as seen by the client)\t0\t%.3f" % (res["end"] - t0))
PY
)" || die "phase round: the install failed"
  stop_pid "$AGENT_PID"
  AGENT_PID=""
  rm -rf "$root"

  dir="$TMP/peer-phases"
  mkdir -p "$dir"
  drop_caches
  step() {
    local name="$1" t0 t1
    shift
    t0="$(now)"
    (cd "$dir" && "$@") >/dev/null || die "phase round: peer step '$name' failed"
    t1="$(now)"
    PHASE_PEER+="$name"$'\t'"$(elapsed "$t0" "$t1")"$'\n'
  }
  step "curl -o f" curl -fsS -o f "$ARTIFACT_URL"
  step "sha256sum -c" sh -c "echo '$SHA256  f' | sha256sum -c --quiet -"
  step "tar -xzf f --strip-components=1" sh -c 'mkdir x && tar -xzf f -C x --strip-components=1'
  step "x/bin/tool --version" x/bin/tool --version
  rm -rf "$dir"
fi

stop_pid "$NGINX_PID"
NGINX_PID=""

# --- figures -------------------------------------------------------------------
agent_vals=("${AGENT_S[@]}")
peer_vals=("${PEER_S[@]}")
AGENT_MED="$(median %.3f "${agent_vals[@]}")"
PEER_MED="$(median %.3f "${peer_vals[@]}")"
RATIO="$(ratio "$PEER_MED" "$AGENT_MED")"
round_ratios=()
for r in $(seq "$ROUNDS"); do round_ratios+=("$(ratio "${PEER_S[r]}" "${AGENT_S[r]}")"); done
GUARD_MED="$(median %.3f "${GUARD_MS[@]}")"
GUARD_MAX="$(maxof "${GUARD_MS[@]}")"
HWM_MAX="$(maxof "${AGENT_HWM_KIB[@]}")"
rate() { awk -v b="$ARTIFACT_BYTES" -v s="$1" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }

if awk -v r="$RATIO" -v g="$RATIO_GOAL" 'BEGIN { exit !(r + 0 >= g) }'; then RATIO_VERDICT=PASS; else RATIO_VERDICT=MISS; fi
if awk -v m="$GUARD_MAX" -v g="$GUARD_GOAL_MS" 'BEGIN { exit !(m + 0 <= g) }'; then GUARD_VERDICT=PASS; else GUARD_VERDICT=MISS; fi

TABLE="$(
  cat <<TABLE_MD
| metric | zlh-agent | peer: curl + sha256sum + tar | ratio (peer/agent) |
|---|---:|---:|---:|
| install from an empty cache, median (s) | $AGENT_MED | $PEER_MED | **$RATIO** |
| install, min–max over $ROUNDS rounds (s) | $(minmax "${agent_vals[@]}") | $(minmax "${peer_vals[@]}") | $(minmax "${round_ratios[@]}") |
| artifact MiB per second (median) | $(rate "$AGENT_MED") | $(rate "$PEER_MED") | — |
| re-install (guard hit), median of $((ROUNDS * REINSTALLS)) (ms) | $GUARD_MED | — | — |
| re-install (guard hit), max (ms) | $GUARD_MAX | — | — |
| agent VmHWM after the install (MiB) | $(mib $((HWM_MAX * 1024))) | — | — |
TABLE_MD
)"

GOALS="$(
  cat <<GOALS_MD
- Speed: peer/agent ≥ $RATIO_GOAL — $RATIO → **$RATIO_VERDICT**
- Re-install (guard hit) ≤ $GUARD_GOAL_MS ms, every one of $((ROUNDS * REINSTALLS)) — max $GUARD_MAX ms (median $GUARD_MED ms) → **$GUARD_VERDICT**
GOALS_MD
)"

phase_table() { # name \t start \t duration lines for the agent; name \t duration for the peer
  printf '| side | step | time (s) |\n|---|---|---:|\n'
  printf '%s\n' "$PHASE_AGENT" | awk -F'\t' 'NF == 3 { printf "| zlh-agent | %s | %.3f |\n", $1, $3 }'
  printf '%s' "$PHASE_PEER" | awk -F'\t' 'NF == 2 { s += $2; printf "| peer | %s | %.3f |\n", $1, $2 } END { printf "| peer | total (sum of the steps) | %.3f |\n", s }'
}

DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
COMMIT="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ "$COMMIT" != unknown ] && [ -n "$(git -C "$REPO" status --porcelain -- src 2>/dev/null)" ]; then
  COMMIT="$COMMIT, src/ modified"
fi
BUILT="$(date -u -r "$BIN/zlh-agent" +%Y-%m-%dT%H:%M:%SZ)"
FS="$(df -PT "$TMP" | awk 'NR == 2 { print $2 }')"
pkgver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo '?'; }
if [ "$DROP" = 1 ]; then
  DROP_NOTE="yes: \`sync; echo 3 > /proc/sys/vm/drop_caches\` before every timed install, agent and peer alike, so nginx reads the artifact from disk each time and the previous round's files are written back first"
else
  DROP_NOTE="no (not allowed here, or BENCH_DROP_CACHES=0): nginx serves the artifact from the page cache"
fi

REPORT="$(
  cat <<REPORT_MD
# zlh-agent install benchmark

- Command: \`$CMD\` (what \`make bench\` runs after bench/run.sh)
- Date: $DATE
- Machine: nproc=$(nproc), ${CPU:-unknown CPU}, Linux $(uname -r), temporary files on $FS;
  load average $LOADAVG_START at the start of the rounds, $LOADAVG_END at the end
- Versions: zlh-agent $("$BIN/zlh-agent" --version) (binary built $BUILT; checkout at $COMMIT),
  libarchive $(pkgver libarchive13), zlib $(pkgver zlib1g), libcurl $(pkgver libcurl4), OpenSSL $(pkgver libssl3);
  peer: $(curl --version | awk 'NR == 1 { print $1, $2 }'), coreutils $(pkgver coreutils) sha256sum,
  GNU tar $(pkgver tar), gzip $(pkgver gzip); server: $(nginx -v 2>&1 | sed 's/^nginx version: //')
- Artifact: \`$ARTIFACT_REL\`, $ARTIFACT_BYTES bytes ($(mib "$ARTIFACT_BYTES") MiB), tar + \`gzip -1\` of
  \`$RT_ID-$RT_VERSION/\`: $UNPACKED_FILES files and $UNPACKED_LINKS symlinks, $UNPACKED_BYTES bytes ($(mib "$UNPACKED_BYTES") MiB) unpacked;
  ${ARTIFACT_MIB} MiB of it is random data (1 KiB–8 MiB files), so it hardly compresses;
  \`bin/tool --version\` prints \`tool $RT_VERSION\`.
- Server: nginx, 1 worker, \`sendfile on\`, \`root\` = a store made with \`zlhctl catalog init/add/sign\`
  (\`--strip 1 --bin bin --verify "bin/tool --version"\`), on 127.0.0.1.
- zlh-agent: a fresh process and a fresh \`--root\` (empty cache, nothing installed) per round,
  \`--artifacts http://127.0.0.1:<nginx> --dev-user -\`. Timed: \`curl -w '%{time_total}'\` of
  \`POST /runtimes/install {"runtime":"$RT_ID","version":"$RT_VERSION"}\`, which answers 200
  \`{runtime,version,path}\` when the install is done (catalog + signature, download streamed
  into the cache while hashing, fsync, extract, verify command, switch \`current\`, environment).
  Then $REINSTALLS re-installs of the same version, each timed the same way (install guard).
- Peer, timed as one command in a fresh directory per round:
  \`curl -fsS -o f URL && echo "<sha256>  f" | sha256sum -c --quiet - && mkdir x && tar -xzf f -C x --strip-components=1 && x/bin/tool --version\`
  (\`sha256sum -c\` hashes exactly like \`sha256sum f\` and also fails on a mismatch; the tool runs
  because the agent runs the verify command).
- Page cache dropped: $DROP_NOTE.
- $ROUNDS rounds; odd rounds run the agent first, even rounds the peer first. Medians over the rounds.

$TABLE

Goals:

$GOALS
REPORT_MD
)"

if [ "$PHASES" = 1 ]; then
  REPORT+=$'\n\n'"## Where the time goes (one more round, not in the figures above)"$'\n\n'
  REPORT+="Agent steps come from polling \`GET /status\` (\`operation.step\`, and \`progress\` reaching 0.6 when the last byte is in) every 2 ms during the install; the peer's commands are timed one by one, from the same cold start."$'\n\n'
  REPORT+="$(phase_table)"
fi

REPORT+=$'\n\n'"## Raw numbers"$'\n\n'
REPORT+="| round | agent time_total (s) | agent log duration_ms | agent VmHWM (MiB) | peer (s) | peer/agent |"$'\n'
REPORT+="|---:|---:|---:|---:|---:|---:|"$'\n'
for r in $(seq "$ROUNDS"); do
  REPORT+="| $r | ${AGENT_S[r]} | ${AGENT_LOG_MS[r]:-?} | $(mib $((AGENT_HWM_KIB[r] * 1024))) | ${PEER_S[r]} | ${round_ratios[r - 1]} |"$'\n'
done
REPORT+=$'\n'"Re-install time_total (ms), in order, $REINSTALLS per round:"$'\n\n```\n'
for r in $(seq "$ROUNDS"); do
  REPORT+="round $r: ${GUARD_MS[*]:$(((r - 1) * REINSTALLS)):$REINSTALLS}"$'\n'
done
REPORT+='```'

mkdir -p "$(dirname "$RESULTS")"
printf '%s\n' "$REPORT" >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"

printf '\n%s\n\n%s\n' "$TABLE" "$GOALS"
if [ "$PHASES" = 1 ]; then printf '\n%s\n' "$(phase_table)"; fi
log "page cache dropped before each timed install: $([ "$DROP" = 1 ] && echo yes || echo no)"
log "results written to ${RESULTS#"$REPO"/}"
