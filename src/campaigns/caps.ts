/**
 * The company's frequency caps (campaign policy: calls per callee-local day and per 7 days), decided for one dial.
 *
 * The rule: the callee's day is the day in *their* zone. A contact whose zone is known has one; one whose number
 * says only "one of these zones" (an area code across two zones, a Russian mobile) may be in any of them, so the
 * dial must keep the cap in each: it goes ahead only when, in every one of the contact's zones, that zone's day (and
 * the 7 days ending with it) has room. An attempt counts toward a zone's day when it fell in it (its instant, read
 * in that zone) or when it was recorded for that date (`local_day`: the day another campaign, knowing the number
 * under another zone, counted it in). Before, a contact of several zones was counted in the first zone's day only:
 * a number of Perth's 08 area code (Adelaide and Perth) called at 20:00 in Perth was called again at 23:00 Perth time,
 * because it was 00:30 the next day in Adelaide.
 *
 * Pure: the attempts are the number's counted ones since `readFrom` (scheduler.ts reads them under the number's lock).
 */
import { WALL_DAY_MS, wallToInstant, zoneOffset } from '../util/zone-clock.js';

export interface CountedAttempt {
  /** The date it was recorded for (YYYY-MM-DD). */
  local_day: string;
  dialed_at: Date;
}

export interface CapLimits {
  max_calls_per_day: number;
  max_calls_per_week: number;
}

/** A cap that has no room now, and the instant room comes back in every zone it is full in. */
export interface CapReached {
  reason: 'daily_cap' | 'weekly_cap';
  roomAt: Date;
}

/** One zone's view of now: its day (a wall-day index), the day's start and end, and the 7-day span's start. */
interface ZoneDay {
  zone: string;
  day: number;
  dayStart: number;
  dayEnd: number;
  weekStart: number;
}

const isoDate = (wallDay: number): string => new Date(wallDay * WALL_DAY_MS).toISOString().slice(0, 10);
const wallDayOf = (zone: string, t: number): number => Math.floor((t + zoneOffset(zone, t) * 60_000) / WALL_DAY_MS);
/** The instant local day `day` begins in the zone (luxon's startOf('day'); a midnight in a DST gap moves on). */
const midnight = (zone: string, day: number, guess: number): number => wallToInstant(zone, day * WALL_DAY_MS, guess)[0];

function zoneDays(zones: readonly string[], now: Date): ZoneDay[] {
  const t = now.getTime();
  return [...new Set(zones.length > 0 ? zones : ['UTC'])].map((zone) => {
    const offset = zoneOffset(zone, t);
    const day = wallDayOf(zone, t);
    return { zone, day, dayStart: midnight(zone, day, offset), dayEnd: midnight(zone, day + 1, offset), weekStart: midnight(zone, day - 6, offset) };
  });
}

/** The day the cap's attempts are recorded for (`local_day`): the first zone's, as before. */
export function recordedDay(zones: readonly string[], now: Date): string {
  const zone = zones[0] ?? 'UTC';
  return isoDate(wallDayOf(zone, now.getTime()));
}

/** What to read: attempts recorded for a date from `fromDay` on, or dialled from `from` on (the widest zone's span). */
export function capReadSpan(zones: readonly string[], now: Date): { fromDay: string; from: Date } {
  const days = zoneDays(zones, now);
  return {
    fromDay: isoDate(Math.min(...days.map((d) => d.day)) - 6),
    from: new Date(Math.min(...days.map((d) => d.weekStart))),
  };
}

/** Null when every zone has room for one more call now; else the cap reached and when room comes back. */
export function capReached(attempts: readonly CountedAttempt[], zones: readonly string[], now: Date, limits: CapLimits): CapReached | null {
  let worst: CapReached | null = null;
  for (const z of zoneDays(zones, now)) {
    const today = isoDate(z.day);
    const weekFirst = isoDate(z.day - 6);
    let daily = 0;
    let oldest = z.day;
    const week: CountedAttempt[] = [];
    for (const a of attempts) {
      const t = a.dialed_at.getTime();
      if (a.local_day === today || (t >= z.dayStart && t < z.dayEnd)) daily += 1;
      if (a.local_day >= weekFirst || t >= z.weekStart) week.push(a);
    }
    let reached: CapReached | null = null;
    if (daily >= limits.max_calls_per_day) {
      reached = { reason: 'daily_cap', roomAt: new Date(z.dayEnd) };
    } else if (week.length >= limits.max_calls_per_week) {
      // Room comes back when the oldest counted day leaves the 7-day span: an attempt counts until both the date
      // it was recorded for and the day it fell in here have left it.
      for (const a of week) {
        const recorded = Math.floor(Date.parse(`${a.local_day}T00:00:00Z`) / WALL_DAY_MS);
        oldest = Math.min(oldest, Math.max(recorded, wallDayOf(z.zone, a.dialed_at.getTime())));
      }
      const daysUntil = Math.max(1, 7 - (z.day - oldest));
      reached = { reason: 'weekly_cap', roomAt: new Date(midnight(z.zone, z.day + daysUntil, zoneOffset(z.zone, z.dayEnd))) };
    }
    if (reached && (!worst || reached.roomAt > worst.roomAt)) worst = reached;
  }
  return worst;
}
