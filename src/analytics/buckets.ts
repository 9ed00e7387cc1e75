/**
 * The analytics rollup's histograms (migrations/0130_analytics.sql): call duration in seconds (dh00…dh19) and
 * bot response latency in ms (lh00…lh23). Each bound is a bucket's inclusive upper edge; the last bucket is
 * open (its upper edge is the largest value seen). Percentiles are exact to the bucket, interpolated within, and
 * never outside the smallest and largest values seen (call_rollup keeps both per 15-minute bucket).
 */

/** Upper edges (inclusive) of the duration buckets, seconds; bucket 19 is > 3600. */
export const DURATION_BOUNDS_SEC = [5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 2700, 3600] as const;
/** Upper edges (inclusive) of the latency buckets, ms; bucket 23 is > 30000. */
export const LATENCY_BOUNDS_MS = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1200, 1400, 1600, 1800, 2000, 2500, 3000, 4000, 5000, 7500, 10000, 15000, 30000] as const;

export const DURATION_COLUMNS = Array.from({ length: DURATION_BOUNDS_SEC.length + 1 }, (_, i) => `dh${String(i).padStart(2, '0')}`);
export const LATENCY_COLUMNS = Array.from({ length: LATENCY_BOUNDS_MS.length + 1 }, (_, i) => `lh${String(i).padStart(2, '0')}`);

/** Rollup bucket width; a day in any time zone in use is a whole number of buckets. */
export const BUCKET_MINUTES = 15;

/** SQL `count(*) filter (...)` expressions that sort `expr` into the buckets of `bounds`. */
export function histogramSql(expr: string, bounds: readonly number[]): string[] {
  return Array.from({ length: bounds.length + 1 }, (_, i) => {
    const lo = i === 0 ? null : bounds[i - 1]!;
    const hi = i === bounds.length ? null : bounds[i]!;
    const parts = [`${expr} is not null`];
    if (lo !== null) parts.push(`${expr} > ${lo}`);
    if (hi !== null) parts.push(`${expr} <= ${hi}`);
    return `count(*) filter (where ${parts.join(' and ')})::int`;
  });
}

/** The smallest and largest values a histogram counted (or, where they are not known, bounds that hold them). */
export interface Observed {
  min: number;
  max: number;
}

/**
 * The q-quantile (0..1) of a histogram: the bucket holding rank q·n, linearly interpolated between its edges (the
 * first bucket starts at 0; the open last one ends at the largest value), each edge held within `observed`.
 * Between the bare edges a percentile could leave what was seen: one 2 s call sits in the 0–5 s bucket, whose p95
 * read 4.75 s. Only the lowest and highest non-empty buckets can (every other one has values seen on both sides), so
 * the range's smallest and largest values are all it takes; a single value is every percentile. Null when empty.
 */
export function histogramQuantile(counts: readonly number[], bounds: readonly number[], observed: Observed, q: number): number | null {
  const n = counts.reduce((a, b) => a + b, 0);
  if (n === 0) return null;
  const rank = q * n;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c === 0) continue;
    if (seen + c >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const upper = i < bounds.length ? bounds[i]! : Number.POSITIVE_INFINITY;
      const lo = Math.min(Math.max(lower, observed.min), observed.max);
      const hi = Math.max(lo, Math.min(upper, observed.max));
      return Math.round(lo + (hi - lo) * ((rank - seen) / c));
    }
    seen += c;
  }
  return observed.max;
}

/** Columns of the running daily totals (call_rollup_cum); all additive. */
export const CUM_COLUMNS = [
  'calls', 'inbound', 'outbound', 'web', 'live', 'st_completed', 'st_failed', 'st_busy', 'st_no_answer', 'st_canceled',
  'st_machine', 'answered', 'machine_voicemail_left', 'machine_voicemail_hung_up', 'machine_fax', 'transferred', 'analyzed', 'leads', 'barge_ins', 'bookings_made', 'bookings_cancelled',
  'duration_count', 'latency_count', 'duration_sum', 'latency_sum', ...DURATION_COLUMNS, ...LATENCY_COLUMNS,
];

/** bot_id of the rows that total all of a company's bots. */
export const ALL_BOTS = '00000000-0000-0000-0000-000000000000';

/**
 * Where the open last bucket of each histogram ends when the largest value seen is not known (the query reads the
 * smallest and largest from call_rollup for every range with values).
 */
export const DURATION_CAP_SEC = 14_400;
export const LATENCY_CAP_MS = 60_000;
