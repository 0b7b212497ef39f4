// Live stats of a server (docs/design.md §12a, docs/stats.md): the samples
// of GET /api/servers/{id}/stats and of the WebSocket …/stats/stream, kept
// as a 10-minute window and turned into chart series. Pure functions, so
// they are unit-tested (stats_test.ts); the charts are in pages/Charts.tsx.
//
// The wire names are read leniently: zlh-api sends `memory_max`,
// `disk_max`, `net_rx_bps`, `net_tx_bps` and `t` in unix ms; the issue's
// first draft named them `memory_limit`, `disk_limit`, `rx_bps`, `tx_bps`
// and `t` in seconds. Both read the same; a missing or null rate stays
// null (a gap in the chart), never 0.

/** One sample as the portal uses it. Rates in bytes per second. */
export interface StatSample {
  /** Unix milliseconds. */
  t: number;
  /** CPU busy over the cores the server may use, 0..1 (1 = all of them). */
  cpu: number | null;
  cpuCores: number | null;
  cores: number | null;
  memory: number;
  memoryMax: number | null;
  disk: number | null;
  diskMax: number | null;
  rx: number | null;
  tx: number | null;
  pids: number | null;
}

/** GET /api/servers list items: the sampler's latest, when it has one. */
export interface ListStats {
  cpu_ratio: number | null;
  memory_bytes: number;
  memory_limit?: number | null;
  memory_max?: number | null;
}

export const WINDOW_MS = 10 * 60 * 1000;
export const DEFAULT_INTERVAL_MS = 2000;

type Raw = Record<string, unknown>;

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function first(r: Raw, ...keys: string[]): number | null {
  for (const k of keys) {
    const v = num(r[k]);
    if (v !== null) return v;
  }
  return null;
}

/** A limit of 0 means "none known". */
function limit(v: number | null): number | null {
  return v !== null && v > 0 ? v : null;
}

/** Seconds (before 1973 as ms) are read as seconds. */
function toMs(t: number): number {
  return t < 1e11 ? t * 1000 : t;
}

/** A wire sample in the portal's shape; null when it has no time. */
export function normalizeSample(raw: unknown): StatSample | null {
  if (!raw || typeof raw !== 'object') return null;
  const r = raw as Raw;
  const t = num(r.t);
  if (t === null) return null;
  const cores = first(r, 'cores');
  const cpuCores = first(r, 'cpu_cores');
  let cpu = first(r, 'cpu_ratio');
  if (cpu === null && cpuCores !== null && cores) cpu = cpuCores / cores;
  return {
    t: toMs(t),
    cpu: cpu === null ? null : Math.max(0, cpu),
    cpuCores,
    cores,
    memory: first(r, 'memory_bytes') ?? 0,
    memoryMax: limit(first(r, 'memory_max', 'memory_limit')),
    disk: first(r, 'disk_bytes'),
    diskMax: limit(first(r, 'disk_max', 'disk_limit')),
    rx: first(r, 'net_rx_bps', 'rx_bps'),
    tx: first(r, 'net_tx_bps', 'tx_bps'),
    pids: first(r, 'pids'),
  };
}

/** The interval of a ring answer: interval_ms, or interval_s. */
export function intervalOf(body: unknown): number {
  const r = (body ?? {}) as Raw;
  const ms = num(r.interval_ms);
  if (ms && ms > 0) return ms;
  const s = num(r.interval_s);
  return s && s > 0 ? s * 1000 : DEFAULT_INTERVAL_MS;
}

/** The samples of a ring answer ({"samples":[…]}), normalized, in time order. */
export function samplesOf(body: unknown): StatSample[] {
  const list = (body as { samples?: unknown } | null)?.samples;
  if (!Array.isArray(list)) return [];
  return mergeSamples([], list.map(normalizeSample).filter((s): s is StatSample => s !== null));
}

/**
 * `have` and `more` as one list in time order, one sample per time (the
 * later one wins), without samples older than `windowMs` before the newest.
 * Neither input is changed.
 */
export function mergeSamples(have: StatSample[], more: StatSample[], windowMs = WINDOW_MS): StatSample[] {
  const byT = new Map<number, StatSample>();
  for (const s of have) byT.set(s.t, s);
  for (const s of more) byT.set(s.t, s);
  const all = [...byT.values()].sort((a, b) => a.t - b.t);
  if (!all.length) return all;
  const from = all[all.length - 1].t - windowMs;
  return all.filter((s) => s.t >= from);
}

/** What one stream message says: the whole ring (the first), or one more sample. */
export type StreamMessage =
  | { kind: 'ring'; samples: StatSample[]; intervalMs: number }
  | { kind: 'sample'; sample: StatSample };

export function parseStreamMessage(data: unknown): StreamMessage | null {
  if (typeof data !== 'string') return null;
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object') return null;
  const r = v as Raw;
  if (Array.isArray(r.samples)) return { kind: 'ring', samples: samplesOf(r), intervalMs: intervalOf(r) };
  // {"type":"sample","sample":{…}} or the sample itself.
  const s = normalizeSample(r.sample && typeof r.sample === 'object' ? r.sample : r);
  return s ? { kind: 'sample', sample: s } : null;
}

/** Column data for the charts: x in unix seconds (uPlot's default). */
export interface Series {
  t: number[];
  /** CPU in percent of the allowed cores. */
  cpu: (number | null)[];
  memory: (number | null)[];
  rx: (number | null)[];
  tx: (number | null)[];
}

export function toSeries(samples: StatSample[]): Series {
  return {
    t: samples.map((s) => s.t / 1000),
    cpu: samples.map((s) => (s.cpu === null ? null : Math.round(s.cpu * 1000) / 10)),
    memory: samples.map((s) => s.memory),
    rx: samples.map((s) => s.rx),
    tx: samples.map((s) => s.tx),
  };
}

/** The stream's URL on this page's origin (ws: or wss:). */
export function streamUrl(loc: { protocol: string; host: string }, id: number): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/api/servers/${id}/stats/stream`;
}

/** Reconnect delay after `attempt` failures: 1 s, 2 s, 4 s … capped at 30 s. */
export function retryDelay(attempt: number): number {
  return Math.min(30000, 1000 * 2 ** Math.min(attempt, 5));
}

// ---- wording ---------------------------------------------------------------

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${Math.round(n)} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${u[i]}`;
}

export function fmtRate(bps: number | null | undefined): string {
  return bps === null || bps === undefined || !Number.isFinite(bps) || bps < 0 ? '—' : `${fmtBytes(bps)}/s`;
}

/** "12 %", "0.4 %" (one decimal below 10), "—" when unknown. */
export function fmtPercent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—';
  const p = Math.max(0, ratio * 100);
  return `${p < 10 ? p.toFixed(1) : Math.round(p)} %`;
}

/** "200 MiB of 1.0 GiB", "200 MiB" without a known limit. */
export function fmtUsage(used: number | null | undefined, max: number | null | undefined): string {
  if (used === null || used === undefined) return '—';
  return max ? `${fmtBytes(used)} of ${fmtBytes(max)}` : fmtBytes(used);
}

/** used/max in 0..1, null without a limit. */
export function fraction(used: number | null | undefined, max: number | null | undefined): number | null {
  if (used === null || used === undefined || !max) return null;
  return Math.max(0, Math.min(1, used / max));
}

/** The server list's CPU cell: "—" without stats. */
export function listCpu(stats: ListStats | null | undefined): string {
  return stats ? fmtPercent(stats.cpu_ratio) : '—';
}

/** The server list's memory cell: "—" without stats. */
export function listMemory(stats: ListStats | null | undefined): string {
  if (!stats || typeof stats.memory_bytes !== 'number') return '—';
  return fmtUsage(stats.memory_bytes, limit(num(stats.memory_limit ?? stats.memory_max)));
}
