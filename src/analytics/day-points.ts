/**
 * Reading running daily totals (call_rollup_cum, call_outcome_cum, usage_rollup_cum): a rollup keeps, per UTC day,
 * the running total at every 15-minute slot that has data. A local day [t1, t2) in any time zone is then
 * Σ totals of the UTC days from t1's to t2's, minus the running total at t1, plus the running total at t2 — two
 * index lookups per day boundary and one per UTC day, whatever the zone and however many rows were rolled up.
 */
import { badRequest } from '../errors.js';
import { BUCKET_MINUTES } from './buckets.js';

/** Slots of a UTC day; a day's total is its running total at the last one. */
export const SLOTS_PER_DAY = (24 * 60) / BUCKET_MINUTES;

/** An instant as (UTC day, number of the day's buckets before it). */
export interface Point {
  day: string;
  slot: number;
}

/** A boundary instant as (UTC day, bucket index within it); a 400 where it is not on a bucket's edge. */
export function pointOf(ms: number): Point {
  const intoDay = ((ms % 86_400_000) + 86_400_000) % 86_400_000;
  if (intoDay % (BUCKET_MINUTES * 60_000) !== 0) {
    throw badRequest(`time_zone's day boundaries are not on a ${BUCKET_MINUTES}-minute mark in this range`, { field: 'querystring.time_zone' });
  }
  return { day: new Date(ms - intoDay).toISOString().slice(0, 10), slot: intoDay / (BUCKET_MINUTES * 60_000) };
}

export const keyOf = (p: Point): string => `${p.day}|${p.slot}`;

/** UTC dates from `first` (inclusive) to `end` (exclusive), YYYY-MM-DD. */
function utcDays(first: string, end: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${first}T00:00:00Z`); ; t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    if (day >= end) return out;
    out.push(day);
  }
}

/** The running totals a range of local days needs, as JSON for jsonb_to_recordset: each boundary and each UTC day's end. */
export function lookupsOf(points: Point[]): string {
  const lookups = new Map<string, Point>();
  for (const p of points) lookups.set(keyOf(p), p);
  for (const day of utcDays(points[0]!.day, points.at(-1)!.day)) {
    const p = { day, slot: SLOTS_PER_DAY };
    lookups.set(keyOf(p), p);
  }
  return JSON.stringify([...lookups.values()]);
}

/** The running totals (by key) and signs whose sum is what happened in [p1, p2): Σ totals of UTC days [p1.day, p2.day) − running(p1) + running(p2). */
export function partsOf(p1: Point, p2: Point): [string, number][] {
  const parts: [string, number][] = [[keyOf(p1), -1], [keyOf(p2), 1]];
  for (const day of utcDays(p1.day, p2.day)) parts.push([`${day}|${SLOTS_PER_DAY}`, 1]);
  return parts;
}
