# Shared helpers of the bench scripts (sourced, not run). Each script sets
# its own variables; these functions only log and manage processes.

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

running() {
  local state
  state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# TERM, up to 5 s, then KILL; our child is not reaped before, so its pid
# cannot have been reused.
stop_pid() {
  local pid="$1" _
  [ -n "$pid" ] || return 0
  if running "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      running "$pid" || break
      sleep 0.1
    done
    if running "$pid"; then
      log "pid $pid ignored SIGTERM for 5 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

free_port() {
  python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Waits up to 20 s for zlh-api (pid $1, base URL $2, stderr log $3) to answer
# /healthz; dies with the log's tail if it exits or does not answer.
wait_api() {
  local pid="$1" url="$2" logf="$3" deadline=$((SECONDS + 20))
  until curl -fsS --max-time 1 "$url/healthz" >/dev/null 2>&1; do
    running "$pid" || die "zlh-api exited at start: $(tail -n 5 "$logf")"
    [ "$SECONDS" -lt "$deadline" ] || die "zlh-api did not answer /healthz within 20 s"
    sleep 0.05
  done
}

# The token of a register or login answer read on stdin.
api_token() { python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'; }
