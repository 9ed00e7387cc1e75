/**
 * GET /v1/analytics: a company's (or one bot's) calls by day in a requested IANA time zone, read from the running
 * daily totals the rollup keeps (rollup.ts; migrations/0130_analytics.sql) as day-points.ts reads them: two index
 * lookups per day boundary and one per UTC day, whatever the zone and however many calls.
 * Every day of the range is present, zeros included.
 */
import { DateTime, IANAZone } from 'luxon';
import type { Db } from '../db/sql.js';
import { badRequest } from '../errors.js';
import { isStorableDate } from '../db/param-guard.js';
import { canonicalZone } from '../util/time-zone.js';
import { lookupsOf, partsOf, pointOf, type Point } from './day-points.js';
import {
  ALL_BOTS, CUM_COLUMNS, DURATION_BOUNDS_SEC, DURATION_CAP_SEC, DURATION_COLUMNS, LATENCY_BOUNDS_MS, LATENCY_CAP_MS,
  LATENCY_COLUMNS, histogramQuantile, type Observed,
} from './buckets.js';

export const MAX_RANGE_DAYS = 400;

type Sums = Record<string, number>;

export interface DayStats {
  date: string;
  calls: number;
  by_direction: { inbound: number; outbound: number; web: number };
  by_status: { completed: number; failed: number; busy: number; no_answer: number; canceled: number; live: number; machine_answered: number };
  /** Answered by a person (a machine's answer is machine_answered). */
  answered: number;
  /** Answering-machine detection found a machine: how each ended (call/machine-answer.ts). */
  machine_answered: number;
  machine_answers: { voicemail_left: number; voicemail_hung_up: number; fax: number };
  completed: number;
  transferred: number;
  duration_sec: { avg: number | null; p50: number | null; p95: number | null };
  outcomes: Record<string, number>;
  analyzed: number;
  leads: number;
  bookings_made: number;
  bookings_cancelled: number;
  barge_ins: number;
  barge_ins_per_call: number | null;
  response_latency_ms: { avg: number | null; p50: number | null; p95: number | null; turns: number };
}

export interface AnalyticsQuery {
  companyId: string;
  botId?: string;
  /** Local dates, inclusive, YYYY-MM-DD. */
  from: string;
  to: string;
  timeZone: string;
}

export interface AnalyticsResult {
  time_zone: string;
  from: string;
  to: string;
  bot_id: string | null;
  days: DayStats[];
  totals: Omit<DayStats, 'date'>;
}

/**
 * The local days `from`..`to` (inclusive) in `zone`, the UTC instant (ms) that starts each, plus the end, and the
 * zone's canonical spelling (what an answer echoes: "utc" was asked for, "UTC" is shown).
 */
export function rangeOf(q: Pick<AnalyticsQuery, 'from' | 'to' | 'timeZone'>): { days: string[]; boundaries: number[]; timeZone: string } {
  const timeZone = canonicalZone(q.timeZone);
  if (!timeZone) throw badRequest(`time_zone is not an IANA time zone: ${q.timeZone}`, { field: 'querystring.time_zone' });
  const zone = IANAZone.create(timeZone);
  const first = DateTime.fromISO(q.from, { zone: 'UTC' });
  const last = DateTime.fromISO(q.to, { zone: 'UTC' });
  if (!first.isValid) throw badRequest('from is not a valid date', { field: 'querystring.from' });
  if (!last.isValid) throw badRequest('to is not a valid date', { field: 'querystring.to' });
  if (last < first) throw badRequest('to is before from', { field: 'querystring.to' });
  const count = Math.round((last.toMillis() - first.toMillis()) / 86_400_000) + 1;
  if (count > MAX_RANGE_DAYS) throw badRequest(`The range spans more than ${MAX_RANGE_DAYS} days`, { field: 'querystring.to' });
  // Where a local day starts: the first instant whose local date is that day — its UTC midnight less the zone's
  // offset, the offset of either side of a change that day (the earlier instant that is on the day). Where the
  // clocks jump over midnight (Santiago in September, Havana in March) the day starts at 01:00.
  // Each offset is asked for once: a year's days ask for each noon twice (a day's +12 h is the next one's −12 h), and
  // every ask is an Intl formatting (about 15 µs), most of what a year's range cost before its query.
  const offsets = new Map<number, number>();
  const offset = (t: number): number => {
    let o = offsets.get(t);
    if (o === undefined) offsets.set(t, (o = zone.offset(t)));
    return o;
  };
  const localDateOf = (t: number): string => new Date(t + offset(t) * 60_000).toISOString().slice(0, 10);
  const localMidnight = (utcMidnight: number): number => {
    const before = offset(utcMidnight - 43_200_000);
    const after = offset(utcMidnight + 43_200_000);
    // No change within 12 hours of UTC midnight: the day starts at it less the one offset.
    if (before === after) return utcMidnight - before * 60_000;
    const day = new Date(utcMidnight).toISOString().slice(0, 10);
    const candidates = [before, after].map((o) => utcMidnight - o * 60_000);
    const onDay = candidates.filter((c) => localDateOf(c) === day);
    return onDay.length ? Math.min(...onDay) : candidates[0]!;
  };
  const days: string[] = [];
  const boundaries: number[] = [];
  for (let i = 0; i <= count; i++) {
    const utcMidnight = first.toMillis() + i * 86_400_000;
    if (i < count) days.push(new Date(utcMidnight).toISOString().slice(0, 10));
    boundaries.push(localMidnight(utcMidnight));
  }
  // The range's instants must be ones the database stores (years 0001–9999): 9999-12-31 ends in the year 10000.
  if (!isStorableDate(new Date(boundaries[0]!))) throw badRequest('from is out of range (years 0001–9999)', { field: 'querystring.from' });
  if (!isStorableDate(new Date(boundaries.at(-1)!))) throw badRequest('to is out of range: the last day that can be asked for is 9999-12-30', { field: 'querystring.to' });
  return { days, boundaries, timeZone };
}

export async function queryAnalytics(db: Db, q: AnalyticsQuery): Promise<AnalyticsResult> {
  const { days, boundaries, timeZone } = rangeOf(q);
  const points = boundaries.map(pointOf);
  const json = lookupsOf(points);
  const botId = q.botId ?? ALL_BOTS;
  const [rows, outcomeRows] = await Promise.all([
    db.unsafe<(Sums & { day: string; slot: number })[]>(
      `select q.day::text as day, q.slot, ${CUM_COLUMNS.map((c) => `r.${c}::float8 as ${c}`).join(', ')}
       from jsonb_to_recordset($1::text::jsonb) as q(day date, slot int)
       cross join lateral (
         select * from call_rollup_cum r
         where r.company_id = $2 and r.bot_id = $3 and r.day = q.day and r.slot <= q.slot
         order by r.slot desc limit 1) r`,
      [json, q.companyId, botId],
    ),
    db.unsafe<{ day: string; slot: number; outcome_type: string; calls: number }[]>(
      `select q.day::text as day, q.slot, r.outcome_type, r.calls::float8 as calls
       from jsonb_to_recordset($1::text::jsonb) as q(day date, slot int)
       cross join lateral (
         select s.slot from call_outcome_cum s
         where s.company_id = $2 and s.bot_id = $3 and s.day = q.day and s.slot <= q.slot
         order by s.slot desc limit 1) s
       join call_outcome_cum r on r.company_id = $2 and r.bot_id = $3 and r.day = q.day and r.slot = s.slot`,
      [json, q.companyId, botId],
    ),
  ]);
  const at = new Map<string, Sums>();
  for (const r of rows) at.set(`${r.day}|${r.slot}`, r);
  const outcomesAt = new Map<string, Record<string, number>>();
  for (const o of outcomeRows) {
    const k = `${o.day}|${o.slot}`;
    const m = outcomesAt.get(k) ?? {};
    m[o.outcome_type] = Number(o.calls);
    outcomesAt.set(k, m);
  }

  // Percentiles are held within the smallest and largest values seen (the open last bucket ends at the largest):
  // call_rollup keeps both per bucket, read for the days that have values.
  const daySums = days.map((_date, i) => rangeSums(points[i]!, points[i + 1]!, at, outcomesAt));
  const withValues = daySums.map((s, i) => (hasValues(s.sums) ? i : -1)).filter((i) => i >= 0);
  const seen = await extremesSeen(db, q.companyId, q.botId ?? null, withValues.map((i) => [i, boundaries[i]!, boundaries[i + 1]!]));
  const total: Sums = {};
  const totalOutcomes: Record<string, number> = {};
  const out: DayStats[] = days.map((date, i) => {
    const { sums, outcomes } = daySums[i]!;
    for (const c of CUM_COLUMNS) total[c] = (total[c] ?? 0) + (sums[c] ?? 0);
    for (const [type, n] of Object.entries(outcomes)) totalOutcomes[type] = (totalOutcomes[type] ?? 0) + n;
    return { date, ...stats(sums, outcomes, seen.get(i)) };
  });
  return { time_zone: timeZone, from: q.from, to: q.to, bot_id: q.botId ?? null, days: out, totals: stats(total, totalOutcomes, widest([...seen.values()])) };
}

/** One local day's sums: Σ totals of UTC days [p1.day, p2.day) − running(p1) + running(p2). */
function rangeSums(p1: Point, p2: Point, at: Map<string, Sums>, outcomesAt: Map<string, Record<string, number>>): { sums: Sums; outcomes: Record<string, number> } {
  const parts = partsOf(p1, p2);
  const sums: Sums = {};
  const outcomes: Record<string, number> = {};
  for (const [k, sign] of parts) {
    const r = at.get(k);
    if (r) for (const c of CUM_COLUMNS) sums[c] = (sums[c] ?? 0) + sign * Number(r[c] ?? 0);
    for (const [type, n] of Object.entries(outcomesAt.get(k) ?? {})) outcomes[type] = (outcomes[type] ?? 0) + sign * n;
  }
  for (const [type, n] of Object.entries(outcomes)) if (n === 0) delete outcomes[type];
  return { sums, outcomes };
}

/** The smallest and largest call durations (s) and bot response latencies (ms) seen in a range; null: none. */
interface Extremes {
  duration: Observed | null;
  latency: Observed | null;
}

const hasValues = (sums: Sums): boolean => Number(sums.duration_count ?? 0) > 0 || Number(sums.latency_count ?? 0) > 0;

/**
 * Each range's extremes, by its index: one index range of call_rollup per range (its buckets, of the bot or of all
 * the company's bots). A bucket rolled up before the smallest values were kept (migrations/0340) has none until it
 * is recomputed: nothing is held from below there.
 */
async function extremesSeen(db: Db, companyId: string, botId: string | null, ranges: [number, number, number][]): Promise<Map<number, Extremes>> {
  if (ranges.length === 0) return new Map();
  const json = JSON.stringify(ranges.map(([i, from, to]) => ({ i, from: new Date(from).toISOString(), to: new Date(to).toISOString() })));
  const rows = await db<{ i: number; dmin: number | null; dmax: number | null; lmin: number | null; lmax: number | null }[]>`
    select g.i, x.*
    from jsonb_to_recordset(${json}::text::jsonb) as g(i int, "from" timestamptz, "to" timestamptz)
    cross join lateral (
      select min(r.duration_min) filter (where r.duration_count > 0)::int as dmin, max(r.duration_max) filter (where r.duration_count > 0)::int as dmax,
        min(r.latency_min) filter (where r.latency_count > 0)::int as lmin, max(r.latency_max) filter (where r.latency_count > 0)::int as lmax
      from call_rollup r
      where r.company_id = ${companyId} and (${botId}::uuid is null or r.bot_id = ${botId}::uuid)
        and r.bucket >= g."from" and r.bucket < g."to") x`;
  const observed = (min: number | null, max: number | null): Observed | null => (max === null ? null : { min: min ?? 0, max });
  return new Map(rows.map((r) => [r.i, { duration: observed(r.dmin, r.dmax), latency: observed(r.lmin, r.lmax) }]));
}

/** The extremes of several ranges together: the smallest of their smallest values, the largest of their largest. */
function widest(all: Extremes[]): Extremes {
  const join = (a: Observed | null, b: Observed | null): Observed | null =>
    a && b ? { min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) } : a ?? b;
  return all.reduce<Extremes>((w, e) => ({ duration: join(w.duration, e.duration), latency: join(w.latency, e.latency) }), { duration: null, latency: null });
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

function stats(raw: Sums, outcomes: Record<string, number>, seen?: Extremes): Omit<DayStats, 'date'> {
  // Without what the range saw (a rollup row not written yet), the histograms' own span.
  const durations = seen?.duration ?? { min: 0, max: DURATION_CAP_SEC };
  const latencies = seen?.latency ?? { min: 0, max: LATENCY_CAP_MS };
  const g = (k: string): number => Number(raw[k] ?? 0);
  const dur = DURATION_COLUMNS.map(g);
  const lat = LATENCY_COLUMNS.map(g);
  const answered = g('answered');
  const machineAnswers = { voicemail_left: g('machine_voicemail_left'), voicemail_hung_up: g('machine_voicemail_hung_up'), fax: g('machine_fax') };
  const durationCount = g('duration_count');
  const latencyCount = g('latency_count');
  return {
    calls: g('calls'),
    by_direction: { inbound: g('inbound'), outbound: g('outbound'), web: g('web') },
    by_status: {
      completed: g('st_completed'), failed: g('st_failed'), busy: g('st_busy'), no_answer: g('st_no_answer'), canceled: g('st_canceled'), live: g('live'),
      machine_answered: g('st_machine'),
    },
    answered,
    machine_answered: machineAnswers.voicemail_left + machineAnswers.voicemail_hung_up + machineAnswers.fax,
    machine_answers: machineAnswers,
    completed: g('st_completed'),
    transferred: g('transferred'),
    duration_sec: {
      avg: durationCount ? round1(g('duration_sum') / durationCount) : null,
      p50: histogramQuantile(dur, DURATION_BOUNDS_SEC, durations, 0.5),
      p95: histogramQuantile(dur, DURATION_BOUNDS_SEC, durations, 0.95),
    },
    outcomes,
    analyzed: g('analyzed'),
    leads: g('leads'),
    bookings_made: g('bookings_made'),
    bookings_cancelled: g('bookings_cancelled'),
    barge_ins: g('barge_ins'),
    barge_ins_per_call: answered ? Math.round((g('barge_ins') / answered) * 100) / 100 : null,
    response_latency_ms: {
      avg: latencyCount ? Math.round(g('latency_sum') / latencyCount) : null,
      p50: histogramQuantile(lat, LATENCY_BOUNDS_MS, latencies, 0.5),
      p95: histogramQuantile(lat, LATENCY_BOUNDS_MS, latencies, 0.95),
      turns: latencyCount,
    },
  };
}
