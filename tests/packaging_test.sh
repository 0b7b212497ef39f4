#!/bin/sh
# packaging_units_test (ctest, label unit; registered in cmake/packaging.cmake):
# the systemd units and example configs in packaging/ keep their contract
# (docs/operations.md), without running cpack.
#
#   sh tests/packaging_test.sh PACKAGING_DIR ZLH_AGENT_BIN ZLH_API_BIN
#
# - zlh-agent.service: KillMode=process (restarts never kill the workloads),
#   Restart=always, the EnvironmentFile, network-online ordering, root, the
#   key files, no sandboxing (the workloads would inherit it), and only flags
#   that `zlh-agent --help` lists (no --vmid: it is the hostname's);
# - zlh-api.service: the zlh user and every hardening key with its value,
#   and only flags that `zlh-api --help` lists;
# - api.toml.example: every key (also the commented ones) is a zlh-api flag;
# - `systemd-analyze verify` accepts both units, when systemd-analyze exists
#   (in a throwaway root holding the units and the binaries, so nothing is
#   installed on this machine).
set -u
dir=$1
agent_bin=$2
api_bin=$3
agent=$dir/zlh-agent.service
api=$dir/zlh-api.service
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# has FILE LINE: LINE is one whole line of FILE.
has() {
  grep -qxF -- "$2" "$1" || fail "$(basename "$1"): missing line '$2'"
}

# flags_exist UNIT BIN: every --flag on the ExecStart line is in BIN --help.
flags_exist() {
  help=$("$2" --help 2>&1) || { fail "$2 --help failed"; return; }
  for f in $(grep '^ExecStart=' "$1" | grep -o -- '--[a-z][a-z-]*'); do
    printf "%s\n" "$help" | grep -qE -- "$f([^a-z-]|\$)" || fail "$(basename "$1"): $f is not a flag of $(basename "$2")"
  done
}

for f in "$agent" "$api" "$dir/api.toml.example" "$dir/proxmox.toml.example"; do
  [ -f "$f" ] || fail "missing $f"
done
[ "$failures" -eq 0 ] || exit 1

# ---- zlh-agent.service ----
has "$agent" "KillMode=process"
has "$agent" "Restart=always"
has "$agent" "EnvironmentFile=-/etc/default/zlh-agent"
has "$agent" "After=network-online.target"
has "$agent" "Wants=network-online.target"
has "$agent" "WantedBy=multi-user.target"
grep -q '^RestartSec=' "$agent" || fail "zlh-agent.service: no RestartSec"
grep '^User=' "$agent" | grep -qvxF 'User=root' && fail "zlh-agent.service: must run as root"
grep -q '^ExecStart=/usr/bin/zlh-agent ' "$agent" || fail "zlh-agent.service: ExecStart is not /usr/bin/zlh-agent"
grep '^ExecStart=' "$agent" | grep -q -- '--vmid' && fail "zlh-agent.service: --vmid (the vmid comes from the hostname)"
for f in "--api-key /etc/zlh/keys/api.pub" "--catalog-key /etc/zlh/keys/catalog.pub"; do
  grep '^ExecStart=' "$agent" | grep -qF -- "$f" || fail "zlh-agent.service: ExecStart lacks $f"
done
has "$agent" "ConditionPathExists=/etc/zlh/keys/api.pub"
# Sandboxing would be inherited by every workload (Node.js and Java JIT, tailscaled).
for k in MemoryDenyWriteExecute SystemCallFilter NoNewPrivileges ProtectSystem PrivateDevices \
         RestrictAddressFamilies CapabilityBoundingSet DynamicUser; do
  grep -q "^$k=" "$agent" && fail "zlh-agent.service: $k would be inherited by the workloads"
done
flags_exist "$agent" "$agent_bin"

# ---- zlh-api.service ----
for line in "User=zlh" "Group=zlh" "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" \
            "PrivateTmp=yes" "PrivateDevices=yes" "ProtectKernelTunables=yes" "ProtectKernelModules=yes" \
            "ProtectKernelLogs=yes" "ProtectControlGroups=yes" \
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" "RestrictNamespaces=yes" \
            "LockPersonality=yes" "MemoryDenyWriteExecute=yes" "RestrictRealtime=yes" \
            "RestrictSUIDSGID=yes" "SystemCallArchitectures=native" "SystemCallFilter=@system-service" \
            "CapabilityBoundingSet=" "StateDirectory=zlh" "ConfigurationDirectory=zlh" "UMask=0077" \
            "Restart=on-failure" "LimitNOFILE=65536" "KillMode=process" \
            "After=network-online.target" "Wants=network-online.target" "WantedBy=multi-user.target"; do
  has "$api" "$line"
done
grep -q '^DynamicUser=yes' "$api" && fail "zlh-api.service: DynamicUser (the store needs a stable owner)"
grep -q '^AmbientCapabilities=.' "$api" && fail "zlh-api.service: ambient capabilities by default"
grep -q '^ExecStart=/usr/bin/zlh-api .*--data /var/lib/zlh' "$api" || fail "zlh-api.service: ExecStart without --data /var/lib/zlh"
grep -q '^ExecStart=.*--config /etc/zlh/api.toml' "$api" || fail "zlh-api.service: ExecStart without --config /etc/zlh/api.toml"
flags_exist "$api" "$api_bin"

# ---- api.toml.example: keys are zlh-api flags ----
api_help=$("$api_bin" --help 2>&1)
for key in $(sed -n 's/^#\{0,1\} *\([a-z][a-z0-9_-]*\) *=.*/\1/p' "$dir/api.toml.example" | tr _ -); do
  printf "%s\n" "$api_help" | grep -qE -- "--$key([^a-z-]|\$)" || fail "api.toml.example: \"$key\" is not a flag of zlh-api"
done

# ---- systemd-analyze verify, in a throwaway root ----
if command -v systemd-analyze >/dev/null 2>&1 && [ -d /lib/systemd/system ]; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/usr/bin" "$root/etc/systemd/system" "$root/lib/systemd"
  cp -r /lib/systemd/system "$root/lib/systemd/"
  cp "$agent" "$api" "$root/etc/systemd/system/"
  cp "$agent_bin" "$root/usr/bin/zlh-agent"
  cp "$api_bin" "$root/usr/bin/zlh-api"
  out=$(systemd-analyze verify --root="$root" zlh-agent.service zlh-api.service 2>&1)
  rc=$?
  # verify exits 0 on unknown keys and only prints them: any output is a failure.
  if [ $rc -ne 0 ] || [ -n "$out" ]; then
    fail "systemd-analyze verify (rc $rc): $out"
  fi
else
  echo "systemd-analyze not available: verify skipped"
fi

if [ "$failures" -ne 0 ]; then
  echo "packaging_test: $failures failure(s)" >&2
  exit 1
fi
echo "packaging_test: ok"
