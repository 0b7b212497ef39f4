// Five-field cron expressions, as the Schedules tab shows and checks them
// before zlh-api does (zlh-api's parser is the authority; this one mirrors
// its rules so the form can say what is wrong while the user types):
//
//   minute hour day-of-month month day-of-week
//   0-59   0-23 1-31         1-12  0-7 (0 and 7 are Sunday)
//
// A field is a comma-separated list of items; an item is `*`, a number, a
// range `a-b` (a <= b, no wrap-around), each optionally with a step `/n`
// (1 to the field's number of values); `a/n` means a to the field's
// maximum by n. Months and weekdays
// also take their English three-letter names (jan-dec, sun-sat), in any
// case, also in ranges. No macros (@daily), no `?`, `L`, `W` or `#`.
//
// When both day-of-month and day-of-week are restricted (neither field
// starts with `*`), a day matches when either matches (Vixie cron);
// otherwise both must.

export type FieldName = 'minute' | 'hour' | 'dom' | 'month' | 'dow';

interface FieldDef {
  name: FieldName;
  label: string;
  min: number;
  max: number;
  names?: string[]; // names[i] is the value min + i
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const FIELDS: FieldDef[] = [
  { name: 'minute', label: 'minute', min: 0, max: 59 },
  { name: 'hour', label: 'hour', min: 0, max: 23 },
  { name: 'dom', label: 'day-of-month', min: 1, max: 31 },
  { name: 'month', label: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'dow', label: 'day-of-week', min: 0, max: 7, names: DAYS },
];

export interface CronField {
  /** The matching values, sorted, without duplicates (day of week: 7 is folded into 0). */
  values: number[];
  /** The field starts with `*` (the day-of-month/day-of-week rule above). */
  star: boolean;
  /** The field as written. */
  raw: string;
}

export type Cron = Record<FieldName, CronField>;

/** zlh-api refuses longer expressions. */
export const MAX_LENGTH = 256;
/** How far a next fire is looked for: every weekday/leap-year combination (as zlh-api). */
const HORIZON_DAYS = 28 * 366;

export type CronResult = { ok: true; cron: Cron } | { ok: false; error: string };

function parseValue(def: FieldDef, s: string): number | string {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < def.min || n > def.max) return `${def.label}: ${s} is outside ${def.min}-${def.max}`;
    return n;
  }
  if (def.names && /^[a-z]{3}$/i.test(s)) {
    const i = def.names.indexOf(s.toLowerCase());
    if (i >= 0) return def.min + i;
  }
  if (def.names) return `${def.label}: "${s}" is not a number or a name (${def.names[0]}-${def.names[def.names.length - 1]})`;
  return `${def.label}: "${s}" is not a number`;
}

// One list item into `out`; an error message or null.
function parseItem(def: FieldDef, item: string, out: Set<number>): string | null {
  if (item === '') return `${def.label}: empty list item`;
  const slash = item.split('/');
  if (slash.length > 2) return `${def.label}: "${item}" has more than one step`;
  const [base, stepText] = slash;
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d+$/.test(stepText)) return `${def.label}: step "${stepText}" is not a number`;
    step = Number(stepText);
    const count = def.max - def.min + 1;
    if (step < 1 || step > count) return `${def.label}: step ${stepText} is not 1-${count}`;
  }
  let lo: number;
  let hi: number;
  if (base === '*') {
    lo = def.min;
    hi = def.name === 'dow' ? 6 : def.max;
  } else {
    const dash = base.split('-');
    if (dash.length > 2 || dash.some((p) => p === '')) return `${def.label}: "${base}" is not a value or a range`;
    const a = parseValue(def, dash[0]);
    if (typeof a === 'string') return a;
    lo = a;
    if (dash.length === 2) {
      const b = parseValue(def, dash[1]);
      if (typeof b === 'string') return b;
      if (b < a) return `${def.label}: range ${base} is reversed`;
      hi = b;
    } else {
      hi = stepText !== undefined ? def.max : a;
    }
  }
  for (let v = lo; v <= hi; v += step) out.add(def.name === 'dow' && v === 7 ? 0 : v);
  return null;
}

function parseField(def: FieldDef, raw: string): CronField | string {
  const out = new Set<number>();
  for (const item of raw.split(',')) {
    const err = parseItem(def, item, out);
    if (err) return err;
  }
  return { values: [...out].sort((x, y) => x - y), star: raw.startsWith('*'), raw };
}

export function parseCron(expr: string): CronResult {
  const text = expr.trim();
  if (!text) return { ok: false, error: 'enter five fields: minute hour day-of-month month day-of-week' };
  if (text.length > MAX_LENGTH) return { ok: false, error: `longer than ${MAX_LENGTH} characters` };
  if (text.startsWith('@')) return { ok: false, error: `macros such as ${text.split(/\s/)[0]} are not supported; use five fields` };
  const parts = text.split(/[ \t]+/);
  if (parts.length !== 5)
    return { ok: false, error: `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}` };
  const cron = {} as Cron;
  for (let i = 0; i < 5; i++) {
    const f = parseField(FIELDS[i], parts[i]);
    if (typeof f === 'string') return { ok: false, error: f };
    cron[FIELDS[i].name] = f;
  }
  return { ok: true, cron };
}

// ---- matching (used by the tests and the form's next-run preview) ----

function size(name: FieldName): number {
  const d = FIELDS.find((f) => f.name === name)!;
  return name === 'dow' ? 7 : d.max - d.min + 1;
}

function full(c: Cron, name: FieldName): boolean {
  return c[name].values.length === size(name);
}

/** Whether a wall-clock day matches (month 1-12, day 1-31, weekday 0-6). */
export function dayMatches(c: Cron, month: number, day: number, weekday: number): boolean {
  if (!c.month.values.includes(month)) return false;
  const dom = c.dom.values.includes(day);
  const dow = c.dow.values.includes(weekday);
  return c.dom.star || c.dow.star ? dom && dow : dom || dow;
}

/** The next fire strictly after `after`, in UTC wall-clock time (null: never, within 28 years). */
export function nextFireUtc(c: Cron, after: Date): Date | null {
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  const end = after.getTime() + HORIZON_DAYS * 86400_000;
  while (t.getTime() <= end) {
    if (!dayMatches(c, t.getUTCMonth() + 1, t.getUTCDate(), t.getUTCDay())) {
      t.setUTCHours(0, 0, 0, 0);
      t.setUTCDate(t.getUTCDate() + 1);
      continue;
    }
    if (!c.hour.values.includes(t.getUTCHours())) {
      t.setUTCMinutes(0, 0, 0);
      t.setUTCHours(t.getUTCHours() + 1);
      continue;
    }
    if (!c.minute.values.includes(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1);
      continue;
    }
    return t;
  }
  return null;
}

// A time zone's wall clock at `t`, as the UTC instant with the same fields.
function wallClock(t: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(t));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
}

/**
 * The next fire after `after` with the fields read in `timeZone` (an IANA
 * name), as an instant; null when it never fires or the zone is unknown.
 * As zlh-api: a wall time skipped by a DST change does not fire that day;
 * one that happens twice fires at its first occurrence.
 */
export function nextFire(c: Cron, timeZone: string, after: Date): Date | null {
  try {
    let from = new Date(wallClock(after.getTime(), timeZone));
    for (let i = 0; i < 1000; i++) {
      const wall = nextFireUtc(c, from);
      if (!wall) return null;
      const w = wall.getTime();
      // The earliest instant with that wall time: try the zone's offsets of
      // the day around it, keep those that give the wall time back.
      const candidates = [-24, -12, -3, -1, 0, 1, 3, 12, 24]
        .map((d) => w - (wallClock(w + d * 3600_000, timeZone) - (w + d * 3600_000)))
        .filter((t) => wallClock(t, timeZone) === w && t > after.getTime())
        .sort((x, y) => x - y);
      if (candidates.length) return new Date(candidates[0]);
      from = wall; // not on this day's clock (a DST gap), or not after `after`
    }
    return null;
  } catch {
    return null;
  }
}

// ---- describing ----

const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October',
  'November', 'December'];
const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const pad = (n: number) => String(n).padStart(2, '0');
const hhmm = (h: number, m: number) => `${pad(h)}:${pad(m)}`;

/** "a", "a and b", "a, b and c". */
export function joinAnd(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

// Values with runs of three or more consecutive ones as "x through y".
function listText(values: number[], name: (v: number) => string): string {
  const out: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j] + 1) j++;
    if (j - i >= 2) out.push(`${name(values[i])} through ${name(values[j])}`);
    else for (let k = i; k <= j; k++) out.push(name(values[k]));
    i = j + 1;
  }
  return joinAnd(out);
}

function stepOf(f: CronField): number | null {
  const m = /^\*\/(\d+)$/.exec(f.raw);
  return m ? Number(m[1]) : null;
}

function contiguous(values: number[]): boolean {
  return values.length > 1 && values.every((v, i) => i === 0 || v === values[i - 1] + 1);
}

// The time of day: {at: true} for a list of clock times ("at 04:00"),
// otherwise a repetition ("every 5 minutes"); null when too complex.
function timeText(c: Cron): { text: string; at: boolean } | null {
  const { minute: m, hour: h } = c;
  const mAll = full(c, 'minute');
  const hAll = full(c, 'hour');
  const mStep = stepOf(m);
  const hStep = stepOf(h);
  const single = m.values.length === 1 ? m.values[0] : null;
  const minutes = mAll ? 'every minute' : mStep ? `every ${mStep} minutes` : null;
  if (hAll) {
    if (minutes) return { text: minutes, at: false };
    if (single === 0) return { text: 'every hour', at: false };
    if (m.values.length <= 4)
      return { text: `every hour at minute${m.values.length > 1 ? 's' : ''} ${joinAnd(m.values.map(String))}`, at: false };
    return null;
  }
  if (hStep && single !== null)
    return { text: single === 0 ? `every ${hStep} hours` : `every ${hStep} hours at minute ${single}`, at: false };
  const hv = h.values;
  if (minutes && (hv.length === 1 || contiguous(hv)))
    return { text: `${minutes} from ${hhmm(hv[0], 0)} to ${hhmm(hv[hv.length - 1], 59)}`, at: false };
  if (single !== null && contiguous(hv) && hv.length > 2)
    return { text: `every hour from ${hhmm(hv[0], single)} to ${hhmm(hv[hv.length - 1], single)}`, at: false };
  if (m.values.length * hv.length <= 6) {
    const times: string[] = [];
    for (const hour of hv) for (const min of m.values) times.push(hhmm(hour, min));
    return { text: `at ${joinAnd(times)}`, at: true };
  }
  return null;
}

// The days, as {days: "on Monday" or '' for every day, months: "in
// January" or ''}; null when too complex (a partial step in a date field).
function dateText(c: Cron): { days: string; months: string } | null {
  const { dom, month, dow } = c;
  const partialStep = (f: CronField, name: FieldName) => f.raw.includes('/') && !full(c, name);
  if (partialStep(dom, 'dom') || partialStep(month, 'month') || partialStep(dow, 'dow')) return null;
  let domR = !full(c, 'dom');
  let dowR = !full(c, 'dow');
  // Either may match: with one of them matching every day, every day does.
  if (!dom.star && !dow.star && (!domR || !dowR)) domR = dowR = false;
  const monthAll = full(c, 'month');
  // Monday first, Sunday last (7) so that "Friday through Sunday" reads well.
  const weekdays = dow.values.map((v) => (v === 0 ? 7 : v)).sort((a, b) => a - b);
  const dayText = `on ${listText(weekdays, (v) => DAY_NAMES[v % 7])}`;
  const domText = `on day${dom.values.length > 1 ? 's' : ''} ${listText(dom.values, String)}`;
  let days = '';
  if (domR && dowR) days = `${domText} or ${dayText}`;
  else if (domR) days = domText + (monthAll ? ' of the month' : '');
  else if (dowR) days = dayText;
  const months = monthAll ? '' : `in ${listText(month.values, (v) => MONTH_NAMES[v - 1])}`;
  return { days, months };
}

/**
 * A short English description ("every day at 04:00", "every 5 minutes",
 * "at 04:30 on Monday"), or the expression itself when it is too complex to
 * say briefly. An invalid expression is returned as written.
 */
export function describeCron(expr: string): string {
  const r = parseCron(expr);
  if (!r.ok) return expr.trim();
  const c = r.cron;
  const time = timeText(c);
  const date = dateText(c);
  if (!time || date === null) return expr.trim().split(/\s+/).join(' ');
  const lead = time.at && !date.days ? `every day ${time.text}` : time.text;
  return [lead, date.days, date.months].filter(Boolean).join(' ');
}

/**
 * parseCron, and refused as zlh-api refuses it when no day of the calendar
 * matches (February 30th, the 31st of a 30-day month).
 */
export function checkCron(expr: string, now = new Date()): CronResult {
  const r = parseCron(expr);
  if (r.ok && !nextFireUtc(r.cron, now)) return { ok: false, error: 'never fires (no such day in the calendar)' };
  return r;
}
