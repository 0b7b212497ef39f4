// Live stats on the server page (docs/portal.md, "Live stats"): CPU,
// memory and network over the last 10 minutes with uPlot, a disk bar and
// the limits. A chunk of its own (with uPlot), loaded by the Overview.
//
// Data: GET /api/servers/{id}/stats (the ring), then the WebSocket
// …/stats/stream (the ring again, then one sample per interval). While the
// stream is down the ring is fetched again every interval, and the stream
// is retried with backoff, so the charts keep moving either way.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { ApiError, api, type Server } from '../api';
import {
  DEFAULT_INTERVAL_MS,
  fmtBytes,
  fmtPercent,
  fmtRate,
  fmtUsage,
  fraction,
  intervalOf,
  mergeSamples,
  parseStreamMessage,
  retryDelay,
  samplesOf,
  streamUrl,
  toSeries,
  WINDOW_MS,
  type StatSample,
} from '../stats';

type Feed = 'loading' | 'live' | 'polling' | 'unavailable';

function useStats(id: number) {
  const [samples, setSamples] = useState<StatSample[]>([]);
  const [feed, setFeed] = useState<Feed>('loading');
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let disposed = false;
    let ws: WebSocket | null = null;
    let attempt = 0;
    let interval = DEFAULT_INTERVAL_MS;
    let retry: number | undefined;
    let poll: number | undefined;
    const add = (more: StatSample[]) => {
      if (!disposed && more.length) setSamples((have) => mergeSamples(have, more));
    };

    const fetchRing = async () => {
      try {
        const body = await api.stats(id);
        interval = intervalOf(body);
        add(samplesOf(body));
        setError(null);
        return true;
      } catch (e) {
        // 404 from an older zlh-api without the route: nothing to show.
        if (e instanceof ApiError && e.status === 404) setFeed('unavailable');
        else setError(e instanceof Error ? e.message : String(e));
        return false;
      }
    };

    const schedulePoll = () => {
      window.clearTimeout(poll);
      poll = window.setTimeout(async () => {
        if (disposed || (ws && ws.readyState === WebSocket.OPEN)) return;
        if (document.visibilityState === 'visible') await fetchRing();
        schedulePoll();
      }, interval);
    };

    const connect = () => {
      if (disposed) return;
      const sock = new WebSocket(streamUrl(location, id));
      ws = sock;
      sock.onopen = () => {
        attempt = 0;
        setFeed('live');
      };
      sock.onmessage = (ev) => {
        const m = parseStreamMessage(ev.data);
        if (!m) return;
        if (m.kind === 'ring') {
          interval = m.intervalMs;
          add(m.samples);
        } else add([m.sample]);
      };
      sock.onclose = () => {
        if (disposed || ws !== sock) return;
        ws = null;
        setFeed((f) => (f === 'unavailable' ? f : 'polling'));
        schedulePoll();
        retry = window.setTimeout(connect, retryDelay(attempt++));
      };
    };

    (async () => {
      const ok = await fetchRing();
      if (disposed) return;
      if (!ok) {
        setFeed((f) => (f === 'unavailable' ? f : 'polling'));
        schedulePoll();
      }
      connect();
    })();

    return () => {
      disposed = true;
      window.clearTimeout(retry);
      window.clearTimeout(poll);
      if (ws) ws.close(1000, 'page closed');
    };
  }, [id]);

  return { samples, feed, error };
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

interface ChartSpec {
  title: string;
  testid: string;
  /** One line per series: label, colour variable, fallback colour. */
  lines: { label: string; color: [string, string] }[];
  fmt: (v: number | null) => string;
  /** The y range's top when known (100 % CPU, the memory limit). */
  top?: number | null;
  /** The y range's least top (an idle network still gets a readable axis). */
  minTop?: number;
  /** Binary tick steps for byte values (256 MiB, not 238.4 MiB). */
  bytes?: boolean;
}

// 1, 2, 4 … 512 times each power of 1024: tick steps that read well in KiB/MiB/GiB.
const BYTE_INCRS = [0, 1, 2, 3, 4].flatMap((k) => [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].map((m) => m * 1024 ** k));

// One uPlot chart of the last 10 minutes; x in unix seconds.
function Chart({ spec, x, ys }: { spec: ChartSpec; x: number[]; ys: (number | null)[][] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const top = useRef(spec.top ?? null);
  top.current = spec.top ?? null;

  useEffect(() => {
    const el = box.current!;
    const muted = cssVar('--muted', '#5a6478');
    const grid = cssVar('--border', '#d8dde8');
    // Keys left unset keep uPlot's defaults (an undefined value would not).
    const axis = (extra: uPlot.Axis = {}): uPlot.Axis => ({
      stroke: muted,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      ...extra,
    });
    const yAxis: uPlot.Axis = { values: (_u, splits) => splits.map((v) => spec.fmt(v)), size: 72 };
    if (spec.bytes) yAxis.incrs = BYTE_INCRS;
    const opts: uPlot.Options = {
      width: Math.max(240, el.clientWidth),
      height: 150,
      // The caption says the values and the colours.
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        // The last 10 minutes, ending at the newest sample: the chart moves.
        x: { time: true, range: (_u, _min, max) => [max - WINDOW_MS / 1000, max] },
        y: {
          range: (_u, _min, max) => {
            const t = top.current;
            const hi = Math.max(t ?? 0, max ?? 0);
            const room = t && hi === t ? hi : hi * 1.1;
            return [0, Math.max(room, spec.minTop ?? 1)];
          },
        },
      },
      series: [
        {},
        ...spec.lines.map((l) => {
          const c = cssVar(l.color[0], l.color[1]);
          return { label: l.label, stroke: c, width: 1.5, fill: `${c}22`, spanGaps: false, value: (_u: uPlot, v: number | null) => spec.fmt(v) };
        }),
      ],
      axes: [axis(), axis(yAxis)],
    };
    const u = new uPlot(opts, [x, ...ys], el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(240, el.clientWidth), height: 150 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Built once; the data follows below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    plot.current?.setData([x, ...ys]);
  }, [x, ys]);

  const last = ys.map((y) => (y.length ? y[y.length - 1] : null));
  return (
    <figure class="chart" data-testid={spec.testid} data-points={x.length}>
      <figcaption>
        <span class="chart-title">{spec.title}</span>
        <span class="chart-now" data-testid={`${spec.testid}-now`}>
          {spec.lines.map((l, i) => (
            <span key={l.label} class="chart-value">
              <span class="swatch" style={{ background: `var(${l.color[0]}, ${l.color[1]})` }} aria-hidden="true" />
              {spec.lines.length > 1 ? `${l.label} ` : ''}
              {spec.fmt(last[i])}
            </span>
          ))}
        </span>
      </figcaption>
      <div ref={box} role="img" aria-label={`${spec.title} over the last 10 minutes`} />
    </figure>
  );
}

const CPU: ChartSpec = {
  title: 'CPU',
  testid: 'chart-cpu',
  lines: [{ label: 'CPU', color: ['--primary', '#2f5bea'] }],
  fmt: (v) => (v === null ? '—' : `${v < 10 ? v.toFixed(1) : Math.round(v)} %`),
  top: 100,
};

const NET: ChartSpec = {
  title: 'Network',
  testid: 'chart-net',
  lines: [
    { label: 'in', color: ['--ok', '#1c7c47'] },
    { label: 'out', color: ['--busy', '#8a5a00'] },
  ],
  fmt: fmtRate,
  minTop: 1024,
  bytes: true,
};

export function LiveStats({ server }: { server: Server }) {
  const { samples, feed, error } = useStats(server.id);
  const latest = samples.length ? samples[samples.length - 1] : null;
  const series = toSeries(samples);
  const memory: ChartSpec = {
    title: 'Memory',
    testid: 'chart-memory',
    lines: [{ label: 'memory', color: ['--primary', '#2f5bea'] }],
    fmt: fmtBytes,
    top: latest?.memoryMax ?? null,
    minTop: 1024 * 1024,
    bytes: true,
  };
  const disk = latest ? fraction(latest.disk, latest.diskMax) : null;

  return (
    <section class="card live-stats" aria-labelledby="stats-h">
      <div class="card-head">
        <h2 id="stats-h">Live stats</h2>
        <span class="muted small" data-testid="stats-feed">
          {feed === 'live' ? 'live' : feed === 'polling' ? 'refreshing' : feed === 'loading' ? 'loading…' : 'not available'}
        </span>
      </div>
      {error && <p class="muted small">Could not load the stats: {error}</p>}
      {feed === 'unavailable' ? (
        <p class="muted">This zlh-api does not report live stats.</p>
      ) : samples.length === 0 ? (
        <p class="muted" data-testid="stats-empty">
          No samples yet: they start once the container runs.
        </p>
      ) : null}
      {samples.length > 0 && (
        <>
          <div class="charts">
            <Chart spec={CPU} x={series.t} ys={[series.cpu]} />
            <Chart spec={memory} x={series.t} ys={[series.memory]} />
            <Chart spec={NET} x={series.t} ys={[series.rx, series.tx]} />
          </div>
          <div class="stats-limits">
            <div class="disk">
              <label for={`disk-${server.id}`}>Disk</label>
              {disk !== null ? (
                <meter id={`disk-${server.id}`} min={0} max={1} low={0.8} high={0.95} optimum={0} value={disk} data-testid="disk-meter" />
              ) : null}
              <span data-testid="disk-text">{fmtUsage(latest?.disk, latest?.diskMax)}</span>
            </div>
            <dl class="facts limits" data-testid="limits">
              <dt>CPU limit</dt>
              <dd>{latest?.cores ? `${latest.cores} ${latest.cores === 1 ? 'core' : 'cores'}` : '—'}</dd>
              <dt>Memory limit</dt>
              <dd>{latest?.memoryMax ? fmtBytes(latest.memoryMax) : 'none'}</dd>
              <dt>Disk limit</dt>
              <dd>{latest?.diskMax ? fmtBytes(latest.diskMax) : 'none'}</dd>
              <dt>Processes</dt>
              <dd>{latest?.pids ?? '—'}</dd>
              <dt>CPU now</dt>
              <dd>{fmtPercent(latest?.cpu)}</dd>
            </dl>
          </div>
        </>
      )}
    </section>
  );
}
