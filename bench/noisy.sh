#!/usr/bin/env bash
# Noisy neighbour (bench/noisy_bench.py): a quiet tenant's p50/p99 while
# another floods FIFO reads, consoles and uploads, against idle. Root only
# (the lxc driver; skipped otherwise). Knobs: BENCH_NOISY_SECONDS=15 BENCH_KEEP_TMP=1
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "$(id -u)" -ne 0 ]; then
  echo "bench: noisy: skipped (needs root)" >&2
  exit 0
fi
exec python3 "$REPO/bench/noisy_bench.py"
