-- wrk script for bench/api.sh: after the run, one line with exact figures
-- (microseconds) instead of wrk's rounded --latency table:
--   ZLH requests=… duration_us=… bytes=… errors=… non2xx=… p50=… p90=… p99=… p999=… max=… mean=…
-- `errors` sums connect, read, write and timeout errors; non2xx counts
-- answers that were not 2xx/3xx.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "ZLH requests=%d duration_us=%d bytes=%d errors=%d non2xx=%d p50=%d p90=%d p99=%d p999=%d max=%d mean=%.1f\n",
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
