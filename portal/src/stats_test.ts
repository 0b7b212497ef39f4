// Unit tests of the live stats logic (run by `npm test`, scripts/unit.mjs):
// each export of `tests` throws on failure.
import {
  WINDOW_MS,
  fmtPercent,
  fmtRate,
  fmtUsage,
  fraction,
  intervalOf,
  listCpu,
  listMemory,
  mergeSamples,
  normalizeSample,
  parseStreamMessage,
  retryDelay,
  samplesOf,
  streamUrl,
  toSeries,
  type StatSample,
} from './stats';

function eq(got: unknown, want: unknown, what: string) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

function ok(cond: unknown, what: string) {
  if (!cond) throw new Error(what);
}

const T0 = 1_765_000_000_000; // unix ms
// The shape zlh-api sends (src/api/stats/stats_routes.cpp, sample_json).
const wire = (t: number, over: Record<string, unknown> = {}) => ({
  t,
  cpu_cores: 0.5,
  cpu_ratio: 0.25,
  cores: 2,
  memory_bytes: 200 * 1024 * 1024,
  memory_max: 1024 * 1024 * 1024,
  disk_bytes: 300,
  disk_max: 1000,
  net_rx_bps: 1500,
  net_tx_bps: 500,
  pids: 12,
  ...over,
});
const at = (t: number) => normalizeSample(wire(t)) as StatSample;

export const tests = {
  readsZlhApiSamples() {
    eq(normalizeSample(wire(T0)), {
      t: T0, cpu: 0.25, cpuCores: 0.5, cores: 2, memory: 200 * 1024 * 1024, memoryMax: 1024 * 1024 * 1024,
      disk: 300, diskMax: 1000, rx: 1500, tx: 500, pids: 12,
    }, 'all fields');
  },
  readsTheDraftNamesToo() {
    const s = normalizeSample({ t: T0 / 1000, cpu_ratio: 0.5, memory_bytes: 10, memory_limit: 20, disk_bytes: 1, disk_limit: 2, rx_bps: 3, tx_bps: 4 })!;
    eq([s.t, s.memoryMax, s.diskMax, s.rx, s.tx], [T0, 20, 2, 3, 4], 't in seconds, *_limit, rx_bps/tx_bps');
  },
  absentRatesStayGaps() {
    const s = normalizeSample(wire(T0, { cpu_ratio: null, cpu_cores: null, net_rx_bps: null, net_tx_bps: undefined, memory_max: null, disk_max: 0 }))!;
    eq([s.cpu, s.rx, s.tx, s.memoryMax, s.diskMax], [null, null, null, null, null], 'null, not 0');
    eq(normalizeSample(wire(T0, { cpu_ratio: undefined, cpu_cores: 1.5, cores: 2 }))!.cpu, 0.75, 'ratio from cores');
    eq(normalizeSample({ cpu_ratio: 1 }), null, 'no time: dropped');
    eq(normalizeSample('x'), null, 'not an object');
  },
  ringAnswer() {
    const body = { server_id: 3, interval_ms: 2000, samples: [wire(T0 + 2000), wire(T0), { bad: 1 }] };
    eq(samplesOf(body).map((s) => s.t), [T0, T0 + 2000], 'sorted, the bad one dropped');
    eq(intervalOf(body), 2000, 'interval_ms');
    eq(intervalOf({ interval_s: 5 }), 5000, 'interval_s');
    eq(intervalOf({}), 2000, 'default');
    eq(samplesOf({}), [], 'no samples');
  },
  mergeKeepsTenMinutesOncePerTime() {
    const have = [at(T0), at(T0 + 2000)];
    const newer = { ...at(T0 + 2000), pids: 99 };
    const m = mergeSamples(have, [newer, at(T0 + 4000)]);
    eq(m.map((s) => s.t), [T0, T0 + 2000, T0 + 4000], 'one per time, in order');
    eq(m[1].pids, 99, 'the later copy wins');
    eq(have.length, 2, 'input unchanged');
    const late = mergeSamples(m, [at(T0 + WINDOW_MS + 2000)]);
    eq(late.map((s) => s.t), [T0 + 2000, T0 + 4000, T0 + WINDOW_MS + 2000], 'older than 10 minutes dropped');
  },
  streamMessages() {
    const ring = parseStreamMessage(JSON.stringify({ interval_ms: 2000, samples: [wire(T0)] }));
    ok(ring && ring.kind === 'ring' && ring.samples.length === 1 && ring.intervalMs === 2000, `ring: ${JSON.stringify(ring)}`);
    const one = parseStreamMessage(JSON.stringify(wire(T0 + 2000)));
    ok(one && one.kind === 'sample' && one.sample.t === T0 + 2000, `sample: ${JSON.stringify(one)}`);
    const wrapped = parseStreamMessage(JSON.stringify({ type: 'sample', sample: wire(T0 + 4000) }));
    ok(wrapped && wrapped.kind === 'sample' && wrapped.sample.t === T0 + 4000, 'a wrapped sample');
    eq(parseStreamMessage('not json'), null, 'garbage');
    eq(parseStreamMessage(JSON.stringify({ type: 'error' })), null, 'no time');
    eq(parseStreamMessage(new ArrayBuffer(2)), null, 'binary');
  },
  seriesForTheCharts() {
    const s = toSeries([at(T0), normalizeSample(wire(T0 + 2000, { cpu_ratio: null, cpu_cores: null, net_rx_bps: null }))!]);
    eq(s.t, [T0 / 1000, T0 / 1000 + 2], 'x in seconds');
    eq(s.cpu, [25, null], 'cpu in percent, gaps kept');
    eq(s.rx, [1500, null], 'rx');
    eq(s.tx, [500, 500], 'tx');
    eq(s.memory.length, 2, 'memory');
  },
  wording() {
    eq(fmtPercent(0.25), '25 %', 'percent');
    eq(fmtPercent(0.0042), '0.4 %', 'small percent');
    eq(fmtPercent(null), '—', 'unknown');
    eq(fmtRate(1536), '1.5 KiB/s', 'rate');
    eq(fmtRate(null), '—', 'no rate');
    eq(fmtUsage(200 * 1024 ** 2, 1024 ** 3), '200 MiB of 1.0 GiB', 'usage');
    eq(fmtUsage(512, null), '512 B', 'no limit');
    eq(fraction(1, 4), 0.25, 'fraction');
    eq(fraction(5, 4), 1, 'capped');
    eq(fraction(1, null), null, 'no limit: no bar');
  },
  listCells() {
    eq(listCpu(null), '—', 'null stats');
    eq(listCpu(undefined), '—', 'no stats field');
    eq(listCpu({ cpu_ratio: 0.5, memory_bytes: 1 }), '50 %', 'cpu');
    eq(listCpu({ cpu_ratio: null, memory_bytes: 1 }), '—', 'first sample: no ratio yet');
    eq(listMemory(null), '—', 'null stats');
    eq(listMemory({ cpu_ratio: 0, memory_bytes: 100 * 1024 ** 2, memory_limit: 1024 ** 3 }), '100 MiB of 1.0 GiB', 'memory_limit');
    eq(listMemory({ cpu_ratio: 0, memory_bytes: 100 * 1024 ** 2, memory_max: 0 }), '100 MiB', 'no limit');
  },
  streamUrlAndRetry() {
    eq(streamUrl({ protocol: 'https:', host: 'zlh.example:8443' }, 7), 'wss://zlh.example:8443/api/servers/7/stats/stream', 'https');
    eq(streamUrl({ protocol: 'http:', host: '127.0.0.1:8080' }, 7), 'ws://127.0.0.1:8080/api/servers/7/stats/stream', 'http');
    eq([0, 1, 2, 5, 9].map(retryDelay), [1000, 2000, 4000, 30000, 30000], 'backoff capped');
  },
};
