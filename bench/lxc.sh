#!/usr/bin/env bash
# The lxc driver's benchmark (bench/lxc_bench.py): provisioning against the
# local driver, container start, memory per idle container and GET
# /api/servers with 50 idle containers. Root only (skipped otherwise).
# Knobs: BENCH_PROVISION_RUNS=5 BENCH_IDLE=50 BENCH_DURATION=10s BENCH_KEEP_TMP=1
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "$(id -u)" -ne 0 ]; then
  echo "bench: lxc: skipped (needs root)" >&2
  exit 0
fi
exec python3 "$REPO/bench/lxc_bench.py"
