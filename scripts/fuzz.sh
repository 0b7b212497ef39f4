#!/usr/bin/env bash
# make fuzz (docs/testing.md, "Fuzzing"): builds the clang `fuzz` preset and
# runs every libFuzzer harness of fuzz/ for FUZZ_SECONDS (default 600), one
# after the other, one worker each, under `nice -n 10`, against a scratch
# copy of its committed corpus (build-fuzz/corpus/<name>/).
#
#   FUZZ_SECONDS=600          time per harness
#   FUZZ_HARNESSES="http jwt" only these (default: every fuzz/*_fuzz.cpp)
#   FUZZ_MERGE=1              afterwards, write a small corpus back to
#                             fuzz/corpus/<name>/: the committed corpus and
#                             what the run found go through -merge=1, then a
#                             greedy cover of their edges keeps at most
#                             FUZZ_CORPUS_MAX (48) files; files named crash-*
#                             (the regression inputs) are always kept
#   scripts/fuzz.sh merge     only that merge, of what the last run left in
#                             build-fuzz/corpus/<name>/ (no fuzzing)
#
# Per harness: the log is build-fuzz/logs/<name>.log, crashes land in
# build-fuzz/artifacts/<name>/, and build-fuzz/logs/summary.md gets a row
# (execs, exec/s, seconds, final cov/ft, corpus). Exits 1 when a harness
# stopped on a crash, a leak, an OOM or a timeout.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
build="$repo/build-fuzz"
seconds="${FUZZ_SECONDS:-600}"
merge="${FUZZ_MERGE:-0}"
corpus_max="${FUZZ_CORPUS_MAX:-48}"
merge_only=0
if [ "${1:-}" = merge ]; then
  merge_only=1
  merge=1
fi
if [ -n "${FUZZ_HARNESSES:-}" ]; then
  read -r -a harnesses <<<"$FUZZ_HARNESSES"
else
  harnesses=()
  for f in "$repo"/fuzz/*_fuzz.cpp; do
    n="$(basename "$f")"
    harnesses+=("${n%_fuzz.cpp}")
  done
fi

command -v clang++-15 >/dev/null || { echo "fuzz: clang++-15 missing (scripts/install-deps.sh)" >&2; exit 1; }
cd "$repo"
cmake --preset fuzz >/dev/null
nice -n 10 cmake --build --preset fuzz -j "${JOBS:-$(nproc)}"

# libFuzzer options every run shares; per harness extras below.
common=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
extra_for() {
  case "$1" in
    # libarchive (not instrumented) grows its read-ahead buffer to what a
    # header claims before reading it: a cpio name size of 4 GiB in 300
    # bytes of input makes it malloc 8 GiB, never touched. Not reachable
    # from tenants (extract_archive only sees sha256-verified catalog
    # artifacts); bench/results/fuzz.md.
    extract) echo "-malloc_limit_mb=16384" ;;
    *) ;;
  esac
}

mkdir -p "$build/logs"
summary="$build/logs/summary.md"
if [ "$merge_only" = 0 ]; then
  {
    echo "| harness | execs | exec/s | seconds | cov | ft | corpus (files/bytes) | result |"
    echo "|---|---:|---:|---:|---:|---:|---|---|"
  } >"$summary"
fi

# Symbolized stack traces in crash reports, when a symbolizer is installed.
for s in /usr/lib/llvm-15/bin/llvm-symbolizer "$(command -v llvm-symbolizer || true)"; do
  if [ -n "$s" ] && [ -x "$s" ]; then
    export ASAN_SYMBOLIZER_PATH="$s"
    break
  fi
done

# The harnesses' temporary trees (safe_path, extract) go here, not in /tmp.
scratch_parent=/dev/shm
[ -w "$scratch_parent" ] || scratch_parent="${TMPDIR:-/tmp}"

# Writes fuzz/corpus/<name>/ anew from itself and the run's corpus (above).
merge_corpus() {
  local name="$1" bin="$2" work="$3"
  local dest="$repo/fuzz/corpus/$name" tmp
  tmp="$(mktemp -d)"
  mkdir "$tmp/out" "$tmp/keep"
  nice -n 10 "$bin" "${common[@]}" "${extra[@]}" -merge=1 -merge_control_file="$tmp/control" \
    "$tmp/out" "$dest" "$work" >"$build/logs/$name.merge.log" 2>&1
  python3 "$repo/scripts/fuzz_cover.py" "$tmp/control" "$corpus_max" | while IFS= read -r f; do
    cp -n "$f" "$tmp/keep/"
  done
  find "$dest" -maxdepth 1 -type f -name 'crash-*' -exec cp {} "$tmp/keep/" \;
  find "$dest" -maxdepth 1 -type f -delete
  cp "$tmp/keep/"* "$dest/"
  rm -rf "$tmp"
  echo "fuzz: $name corpus: $(find "$dest" -type f | wc -l) files, $(du -sb "$dest" | cut -f1) bytes" >&2
}

failed=0
for name in "${harnesses[@]}"; do
  bin="$build/fuzz/${name}_fuzz"
  [ -x "$bin" ] || { echo "fuzz: no harness $bin" >&2; exit 1; }
  work="$build/corpus/$name"
  artifacts="$build/artifacts/$name"
  log="$build/logs/$name.log"
  mapfile -t extra < <(extra_for "$name")
  if [ "$merge_only" = 1 ]; then
    [ -d "$work" ] || { echo "fuzz: no run of $name to merge ($work)" >&2; exit 1; }
    merge_corpus "$name" "$bin" "$work"
    continue
  fi
  rm -rf "$work" "$artifacts"
  mkdir -p "$work" "$artifacts"
  cp "$repo/fuzz/corpus/$name/"* "$work/"
  scratch="$(mktemp -d "$scratch_parent/zlh-fuzz-run-XXXXXX")"
  echo "fuzz: $name for ${seconds}s (log: ${log#"$repo"/})" >&2
  status=0
  started=$(date +%s)
  TMPDIR="$scratch" nice -n 10 "$bin" "${common[@]}" "${extra[@]}" -max_total_time="$seconds" \
    -artifact_prefix="$artifacts/" "$work" >"$log" 2>&1 || status=$?
  rm -rf "$scratch"
  took=$(($(date +%s) - started))

  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)"
  [ -n "$done_line" ] || done_line="$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1 || true)"
  stat() { grep -E "^stat::$1:" "$log" | awk '{print $2}' | tail -1; }
  cov="$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$done_line")"
  ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$done_line")"
  corp="$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$done_line")"
  result=ok
  if [ "$status" -ne 0 ]; then
    result="stopped ($status): $(grep -oE 'SUMMARY: [^(]*' "$log" | head -1 || true)$(find "$artifacts" -type f -printf ' %f' | head -c 200)"
    failed=1
  fi
  echo "| $name | $(stat number_of_executed_units) | $(stat average_exec_per_sec) | $took | $cov | $ft | $corp | $result |" >>"$summary"

  if [ "$merge" = 1 ] && [ "$status" -eq 0 ]; then
    merge_corpus "$name" "$bin" "$work"
  fi
done

[ "$merge_only" = 1 ] || cat "$summary"
exit "$failed"
