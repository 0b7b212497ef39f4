// Unit tests of the cron parser and describer (run by `npm test`,
// scripts/unit.mjs): each export of `tests` throws on failure.
import { checkCron, describeCron, joinAnd, nextFire, nextFireUtc, parseCron, type Cron } from './cron';

function eq(got: unknown, want: unknown, what: string) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

function parsed(expr: string): Cron {
  const r = parseCron(expr);
  if (!r.ok) throw new Error(`${expr}: unexpected error ${r.error}`);
  return r.cron;
}

function refused(expr: string, want: RegExp) {
  const r = parseCron(expr);
  if (r.ok) throw new Error(`${JSON.stringify(expr)}: accepted, want an error matching ${want}`);
  if (!want.test(r.error)) throw new Error(`${JSON.stringify(expr)}: error "${r.error}" does not match ${want}`);
}

const range = (a: number, b: number, step = 1) => {
  const out: number[] = [];
  for (let v = a; v <= b; v += step) out.push(v);
  return out;
};

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const tests = {
  starsCoverEachFieldsRange() {
    const c = parsed('* * * * *');
    eq(c.minute.values, range(0, 59), 'minute');
    eq(c.hour.values, range(0, 23), 'hour');
    eq(c.dom.values, range(1, 31), 'dom');
    eq(c.month.values, range(1, 12), 'month');
    eq(c.dow.values, range(0, 6), 'dow: 7 is not a separate day');
    eq([c.dom.star, c.dow.star], [true, true], 'star flags');
  },
  numbersRangesStepsAndLists() {
    eq(parsed('5 * * * *').minute.values, [5], 'a number');
    eq(parsed('04 * * * *').minute.values, [4], 'a leading zero');
    eq(parsed('10-13 * * * *').minute.values, [10, 11, 12, 13], 'a range');
    eq(parsed('*/15 * * * *').minute.values, [0, 15, 30, 45], 'a step over *');
    eq(parsed('10-30/10 * * * *').minute.values, [10, 20, 30], 'a step over a range');
    eq(parsed('50/4 * * * *').minute.values, [50, 54, 58], 'a/n runs to the maximum');
    eq(parsed('1,5,3,5 * * * *').minute.values, [1, 3, 5], 'a list, sorted, no duplicates');
    eq(parsed('0 1-3,*/12,20 * * *').hour.values, [0, 1, 2, 3, 12, 20], 'mixed items');
    eq(parsed('0 0 */10 * *').dom.values, [1, 11, 21, 31], 'day-of-month steps start at 1');
    eq(parsed('0 0 * */5 *').month.values, [1, 6, 11], 'month steps start at 1');
    eq(parsed('  0   4 *\t* *  ').hour.values, [4], 'spaces and tabs between fields');
    eq(parsed('*/60 * * * *').minute.values, [0], 'a step up to the number of values');
    eq(parsed('0004 * * * *').minute.values, [4], 'leading zeros');
  },
  namesInAnyCaseAlsoInRanges() {
    eq(parsed('0 0 * jan *').month.values, [1], 'jan');
    eq(parsed('0 0 * JUN-Aug *').month.values, [6, 7, 8], 'a range of names');
    eq(parsed('0 0 * jan-dec/3 *').month.values, [1, 4, 7, 10], 'names with a step');
    eq(parsed('0 0 * * mon-fri').dow.values, [1, 2, 3, 4, 5], 'weekdays');
    eq(parsed('0 0 * * SUN,sat').dow.values, [0, 6], 'weekend');
    eq(parsed('0 0 * * 1,wed').dow.values, [1, 3], 'names and numbers mixed');
  },
  sundayIsZeroOrSeven() {
    eq(parsed('0 0 * * 7').dow.values, [0], '7');
    eq(parsed('0 0 * * 0').dow.values, [0], '0');
    eq(parsed('0 0 * * 5-7').dow.values, [0, 5, 6], '5-7');
    eq(parsed('0 0 * * 0-7').dow.values, range(0, 6), '0-7');
    eq(parsed('0 0 * * */7').dow.values, [0], '*/7 is Sunday only');
  },
  starFlagFollowsTheFirstCharacter() {
    eq(parsed('0 0 */2 * 1').dom.star, true, '*/2');
    eq(parsed('0 0 1-31 * 1').dom.star, false, '1-31 is not a star');
  },
  refusesBadExpressions() {
    refused('', /five fields/);
    refused('* * * *', /expected 5 fields.*got 4/);
    refused('* * * * * *', /got 6/);
    refused('@daily', /macros/);
    refused('60 * * * *', /^minute: 60 is outside 0-59/);
    refused('0 24 * * *', /^hour: 24 is outside 0-23/);
    refused('0 0 0 * *', /^day-of-month: 0 is outside 1-31/);
    refused('0 0 32 * *', /day-of-month: 32/);
    refused('0 0 * 13 *', /^month: 13 is outside 1-12/);
    refused('0 0 * 0 *', /^month: 0/);
    refused('0 0 * * 8', /^day-of-week: 8 is outside 0-7/);
    refused('0 0 * * 1000', /outside/);
    refused('30-10 * * * *', /range 30-10 is reversed/);
    refused('*/0 * * * *', /step 0 is not 1-60/);
    refused('*/61 * * * *', /step 61 is not 1-60/);
    refused('0 */25 * * *', /^hour: step 25 is not 1-24/);
    refused('0 0 * * */9', /^day-of-week: step 9 is not 1-8/);
    refused('* * * * ' + '1,'.repeat(130) + '1', /longer than 256/);
    refused('*/x * * * *', /step "x" is not a number/);
    refused('1/2/3 * * * *', /more than one step/);
    refused('1,,2 * * * *', /empty list item/);
    refused('1, * * * *', /empty list item/);
    refused('-5 * * * *', /not a value or a range/);
    refused('1-2-3 * * * *', /not a value or a range/);
    refused('abc * * * *', /^minute: "abc" is not a number$/);
    refused('0 0 * foo *', /^month: "foo" is not a number or a name \(jan-dec\)/);
    refused('0 0 * * monday', /day-of-week: "monday"/);
    refused('0 0 ? * *', /not a number/);
    refused('0 0 L * *', /not a number/);
    refused('0 0 * * 1#2', /not a number/);
    refused('0 0 * * mon-', /not a value or a range/);
    refused('+1 * * * *', /not a number/);
  },
  refusesExpressionsThatNeverFire() {
    const now = new Date('2026-12-06T20:00:00Z');
    for (const expr of ['0 0 30 2 *', '0 0 31 4,6,9,11 *', '0 0 31 feb *']) {
      const r = checkCron(expr, now);
      eq(r.ok ? 'accepted' : r.error, 'never fires (no such day in the calendar)', expr);
    }
    eq(checkCron('0 0 29 2 *', now).ok, true, 'February 29th comes');
    eq(checkCron('0 0 31 2 1', now).ok, true, 'the 31st or Monday: Mondays');
    const bad = checkCron('0 0 32 * *', now);
    eq(bad.ok ? '' : bad.error, 'day-of-month: 32 is outside 1-31', 'a parse error first');
  },
  describesCommonSchedules() {
    const cases: [string, string][] = [
      ['* * * * *', 'every minute'],
      ['*/5 * * * *', 'every 5 minutes'],
      ['*/1 * * * *', 'every minute'],
      ['0 * * * *', 'every hour'],
      ['15 * * * *', 'every hour at minute 15'],
      ['0,30 * * * *', 'every hour at minutes 0 and 30'],
      ['0 */2 * * *', 'every 2 hours'],
      ['30 */6 * * *', 'every 6 hours at minute 30'],
      ['0 4 * * *', 'every day at 04:00'],
      ['00 04 * * *', 'every day at 04:00'],
      ['30 4 * * 1', 'at 04:30 on Monday'],
      ['30 4 * * mon', 'at 04:30 on Monday'],
      ['0 4 * * 0', 'at 04:00 on Sunday'],
      ['0 4 * * 7', 'at 04:00 on Sunday'],
      ['0 4 * * 1-5', 'at 04:00 on Monday through Friday'],
      ['0 4 * * 1,3,5', 'at 04:00 on Monday, Wednesday and Friday'],
      ['0 4 * * 5-7', 'at 04:00 on Friday through Sunday'],
      ['0 4 * * sat,sun', 'at 04:00 on Saturday and Sunday'],
      ['0 4,16 * * *', 'every day at 04:00 and 16:00'],
      ['0,30 4 * * *', 'every day at 04:00 and 04:30'],
      ['0 4 1 * *', 'at 04:00 on day 1 of the month'],
      ['0 4 1,15 * *', 'at 04:00 on days 1 and 15 of the month'],
      ['0 4 1-7 * *', 'at 04:00 on days 1 through 7 of the month'],
      ['0 4 1 1 *', 'at 04:00 on day 1 in January'],
      ['0 4 * 1-3 *', 'every day at 04:00 in January through March'],
      ['0 4 1 * 1', 'at 04:00 on day 1 or on Monday'],
      ['* 4 * * *', 'every minute from 04:00 to 04:59'],
      ['*/15 9-17 * * 1-5', 'every 15 minutes from 09:00 to 17:59 on Monday through Friday'],
      ['0 9-17 * * *', 'every hour from 09:00 to 17:00'],
      ['*/10 * * * 6', 'every 10 minutes on Saturday'],
      ['0 4 * * 0-7', 'every day at 04:00'],
      ['0 4 1 * 0-6', 'every day at 04:00'], // day 1 OR any weekday
      ['0 4 * * */1', 'every day at 04:00'],
    ];
    for (const [expr, want] of cases) eq(describeCron(expr), want, expr);
  },
  fallsBackToTheExpressionWhenComplex() {
    for (const expr of ['0 4 */2 * *', '7,19,33,48,52 * * * *', '0 1-23/2 * * *', '5 1,3,5,7,9,11,13 * * *', '0 4 * */2 *'])
      eq(describeCron(expr), expr, expr);
    eq(describeCron('0  4 */2 *  *'), '0 4 */2 * *', 'white space normalised');
    eq(describeCron('nonsense'), 'nonsense', 'invalid: as written');
  },
  joinsWithAnd() {
    eq(joinAnd([]), '', 'none');
    eq(joinAnd(['a']), 'a', 'one');
    eq(joinAnd(['a', 'b']), 'a and b', 'two');
    eq(joinAnd(['a', 'b', 'c']), 'a, b and c', 'three');
  },
  nextFireInUtc() {
    const at = (s: string) => new Date(s);
    eq(iso(nextFireUtc(parsed('* * * * *'), at('2026-12-06T20:10:30Z'))), '2026-12-06T20:11:00.000Z', 'every minute');
    eq(iso(nextFireUtc(parsed('* * * * *'), at('2026-12-06T20:10:00Z'))), '2026-12-06T20:11:00.000Z', 'strictly after');
    eq(iso(nextFireUtc(parsed('0 4 * * *'), at('2026-12-06T20:10:00Z'))), '2026-12-07T04:00:00.000Z', 'tomorrow');
    eq(iso(nextFireUtc(parsed('30 4 * * 1'), at('2026-12-06T20:10:00Z'))), '2026-12-07T04:30:00.000Z', 'Monday');
    eq(iso(nextFireUtc(parsed('0 0 29 2 *'), at('2026-12-06T00:00:00Z'))), '2028-02-29T00:00:00.000Z', 'leap day');
    eq(iso(nextFireUtc(parsed('0 0 1 * 5'), at('2026-12-02T00:00:00Z'))), '2026-12-04T00:00:00.000Z', 'day 1 or Friday');
    eq(iso(nextFireUtc(parsed('0 0 */2 * 5'), at('2026-12-02T00:00:00Z'))), '2026-12-11T00:00:00.000Z',
      'odd day and Friday (star: both)');
    eq(nextFireUtc(parsed('0 0 31 2 *'), at('2026-12-06T00:00:00Z')), null, 'never');
    eq(nextFireUtc(parsed('0 0 31 4,6,9,11 *'), at('2026-12-06T00:00:00Z')), null, 'the 31st of 30-day months');
  },
  nextFireInATimeZone() {
    const after = new Date('2026-12-06T20:10:00Z');
    eq(iso(nextFire(parsed('0 4 * * *'), 'UTC', after)), '2026-12-07T04:00:00.000Z', 'UTC');
    // Berlin is UTC+1 in winter, UTC+2 in summer.
    eq(iso(nextFire(parsed('0 4 * * *'), 'Europe/Berlin', after)), '2026-12-07T03:00:00.000Z', 'Berlin, winter');
    eq(iso(nextFire(parsed('0 4 * * *'), 'Europe/Berlin', new Date('2026-07-01T12:00:00Z'))),
      '2026-07-02T02:00:00.000Z', 'Berlin, summer');
    // 22:00 in New York (UTC-5) on the 6th is 03:00 UTC on the 7th.
    eq(iso(nextFire(parsed('0 22 * * *'), 'America/New_York', after)), '2026-12-07T03:00:00.000Z', 'New York');
    eq(nextFire(parsed('0 4 * * *'), 'Not/AZone', after), null, 'an unknown zone');
    // 2027-03-28: Berlin goes from 02:00 to 03:00; 02:30 does not exist that
    // day and is skipped (as zlh-api), the next is the 29th at 02:30 CEST.
    eq(iso(nextFire(parsed('30 2 * * *'), 'Europe/Berlin', new Date('2027-03-27T12:00:00Z'))),
      '2027-03-29T00:30:00.000Z', 'a DST gap is skipped');
    // 2027-10-31: 02:30 happens twice in Berlin; the first (CEST, 00:30 UTC).
    eq(iso(nextFire(parsed('30 2 * * *'), 'Europe/Berlin', new Date('2027-10-30T12:00:00Z'))),
      '2027-10-31T00:30:00.000Z', 'an overlap fires at its first occurrence');
    // After the first 02:30 has passed, the second is not another fire that day.
    eq(iso(nextFire(parsed('30 2 * * *'), 'Europe/Berlin', new Date('2027-10-31T00:45:00Z'))),
      '2027-11-01T01:30:00.000Z', 'the repeated hour does not fire twice');
  },
};
