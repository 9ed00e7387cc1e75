/**
 * A zone's UTC offset and luxon's wall-clock → instant step, without building luxon DateTimes: for code that asks
 * the same zones about many instants on the event loop (the campaign scheduler's window decisions, hundreds of
 * instants per Russian contact). The answers are luxon's own, bit for bit: offsets come from luxon's zone
 * (Info.normalizeZone, as DateTime.fromJSDate(…, { zone }) uses) and `wallToInstant` is luxon's fixOffset.
 *
 * Each luxon offset asks Intl.DateTimeFormat.formatToParts (~2–5 µs). Here a zone's offsets are remembered per UTC
 * day: the offsets at the day's two ends, and where they differ the second the clock changed (found by halving).
 * That holds while a zone changes its clock at most once in a UTC day, which the tz database's zones do; a day whose
 * middle shows a third offset is not remembered and asks luxon every time.
 */
import { Info, type Zone } from 'luxon';

const DAY_MS = 86_400_000;
/** Days remembered per zone (a decision reads ~10 days from its instant). */
const DAYS_KEPT = 64;
/** Days on either side of the one asked about that are kept when room is made. */
const DAYS_NEAR = 16;

/** One UTC day of a zone: `before` (minutes) until the instant `change`, `after` from it; null when irregular. */
type DayOffsets = { before: number; after: number; change: number } | null;

interface ZoneMemory {
  zone: Zone;
  days: Map<number, DayOffsets>;
}

const memory = new Map<string, ZoneMemory>();

function zoneMemory(name: string): ZoneMemory {
  let m = memory.get(name);
  if (!m) memory.set(name, (m = { zone: Info.normalizeZone(name), days: new Map() }));
  return m;
}

function learnDay(zone: Zone, day: number): DayOffsets {
  let lo = day * DAY_MS;
  let hi = lo + DAY_MS;
  const before = zone.offset(lo);
  const after = zone.offset(hi);
  if (before === after) return { before, after, change: hi };
  // Offsets are those of whole seconds (luxon reads Intl's second): halve to the first second of `after`.
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    const o = zone.offset(mid);
    if (o === before) lo = mid;
    else if (o === after) hi = mid;
    else return null;
  }
  return { before, after, change: hi };
}

/** Forgets the days more than DAYS_NEAR from `day` (the instants asked about move on with the clock), or all. */
function forgetFarDays(days: Map<number, DayOffsets>, day: number): void {
  for (const d of days.keys()) if (Math.abs(d - day) > DAYS_NEAR) days.delete(d);
  if (days.size >= DAYS_KEPT) days.clear();
}

/** luxon's offset of `zoneName` at `ts` (epoch ms), in minutes east of UTC. */
export function zoneOffset(zoneName: string, ts: number): number {
  const m = zoneMemory(zoneName);
  const day = Math.floor(ts / DAY_MS);
  let d = m.days.get(day);
  if (d === undefined) {
    if (m.days.size >= DAYS_KEPT) forgetFarDays(m.days, day);
    m.days.set(day, (d = learnDay(m.zone, day)));
  }
  if (d === null) return m.zone.offset(ts);
  return ts < d.change ? d.before : d.after;
}

/**
 * The instant of wall-clock time `wall` (epoch ms of that date and time read as UTC) in the zone, guessing offset
 * `guess` first; returns [instant, offset] — luxon's fixOffset, which DateTime#set, #startOf and #plus use: a time
 * in a spring-forward gap moves on with the clock, a time a fall-back repeats is the one nearest the guess.
 */
export function wallToInstant(zoneName: string, wall: number, guess: number): [number, number] {
  let utcGuess = wall - guess * 60_000;
  const o2 = zoneOffset(zoneName, utcGuess);
  if (o2 === guess) return [utcGuess, guess];
  utcGuess -= (o2 - guess) * 60_000;
  const o3 = zoneOffset(zoneName, utcGuess);
  if (o2 === o3) return [utcGuess, o2];
  return [wall - Math.min(o2, o3) * 60_000, Math.max(o2, o3)];
}

/** ISO weekday (1 = Monday … 7 = Sunday) of the wall-clock day numbered `day` (days since 1970-01-01, a Thursday). */
export const isoWeekdayOfDay = (day: number): number => ((((day + 3) % 7) + 7) % 7) + 1;

export const WALL_DAY_MS = DAY_MS;
