#!/usr/bin/env bash
# Installs every Debian 12 package that zlh's build, tests and benchmarks need
# (docs/design.md §12). Idempotent: prints nothing and touches nothing when all are
# present. Works as root or through sudo; never prompts (CI has no terminal).
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libraries (docs/design.md §12)
  libboost1.81-dev nlohmann-json3-dev libsqlitecpp-dev libsqlite3-dev
  libcurl4-openssl-dev libarchive-dev libsodium-dev libssl-dev
  libcli11-dev libtomlplusplus-dev libjemalloc-dev libzstd-dev
  # schedules' time zones (src/api/schedules/cron.*): Howard Hinnant's date/tz over tzdata
  libhowardhinnant-date-dev tzdata
  # runtimes for the demo store and game servers (docs/design.md §4.3, §9), dev user tools
  openjdk-17-jdk-headless nodejs passwd bash xz-utils
  # tests and benchmarks; clang-15 and libFuzzer for `make fuzz` (the fuzz preset)
  googletest libgtest-dev libgmock-dev libbenchmark-dev clang-15 libfuzzer-15-dev
  # code habits: clang-format 14 (make format, make test's format check), pmccabe (function sizes)
  clang-format-14 pmccabe
  wrk nginx procps curl ca-certificates python3 chromium openssl zstd
  # containers and network for the lxc driver (docs/design.md §10.5, §12)
  lxc lxc-dev nftables uidmap iproute2 e2fsprogs
  # the code-server addon of the demo store: its kerberos module builds against it
  libkrb5-dev
  # PostgreSQL 15 for the store of issue 25: libpq, and the server its tests
  # start themselves (tests/integration/pg_fixture.hpp; never the system cluster)
  postgresql-15 libpq-dev
)

# Debian's postgresql-15 creates and starts a system cluster (15/main, port
# 5432). zlh's tests start clusters of their own and never use it, so when
# this run installed the package the cluster is stopped and set to start
# manually (`pg_ctlcluster 15 main start` brings it back). It is not
# dropped, and a run that found postgresql-15 installed does not touch it.
stop_system_postgres() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 0
  pg_lsclusters --no-header 2>/dev/null | while read -r ver name _ status _; do
    [ "$ver" = 15 ] || continue
    case "$status" in
      online*) $SUDO pg_ctlcluster "$ver" "$name" stop ||
        echo "install-deps: could not stop PostgreSQL cluster $ver/$name" >&2 ;;
    esac
    echo manual | $SUDO tee "/etc/postgresql/$ver/$name/start.conf" >/dev/null
    echo "install-deps: stopped PostgreSQL cluster $ver/$name (start.conf: manual)" >&2
  done
}

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm comes with NodeSource's nodejs; Debian's own nodejs needs the npm package.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
      echo "install-deps: missing packages (${missing[*]}) and not root; no sudo" >&2
      exit 1
    fi
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" >/dev/null
  echo "install-deps: done" >&2
  for p in "${missing[@]}"; do
    if [ "$p" = postgresql-15 ]; then stop_system_postgres; fi
  done
fi

# The lxc driver (docs/drivers.md): root's subordinate id ranges, 65,536 ids
# per container for 1,000 containers from host id 1,000,000 (zlh-api's
# --lxc-id-base and --lxc-slots defaults). Added only when root has none;
# zlh-api's self-check refuses an overlap with another user's range.
if [ "$(id -u)" -eq 0 ]; then
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    grep -q '^root:' "$f" || echo "root:1000000:65536000" >>"$f"
  done
fi

# npm packages from the committed lockfiles (npm ci), each skipped when
# current: the portal (Vite, Preact, xterm, uPlot for the live stats
# charts), the browser tests
# (playwright-core) and the IDE benchmark's peer (Express +
# http-proxy-middleware).
repo="$(cd "$(dirname "$0")/.." && pwd)"
for d in portal tests/e2e bench/node; do
  dir="$repo/$d"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
     [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "install-deps: npm ci in $d" >&2
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
  fi
done
