/**
 * Calling windows in the callee's local time. A contact's zone is its own `time_zone`, else the zones its number
 * tells (its area code's: libphonenumber's number → time zones mapper), else those of its number's country
 * (libphonenumber-js); with several zones (an area code across two zones; a Russian mobile, whose number says only
 * "Russia") a moment is inside the window only when it is inside it in every one of them — the strictest window.
 * Pure functions of (windows, zones, instant).
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { COUNTRY_ZONES } from '../util/country-zones.js';
import { numberZones } from '../util/number-zones.js';
import { canonicalZone } from '../util/time-zone.js';
import { isoWeekdayOfDay, WALL_DAY_MS, wallToInstant, zoneOffset } from '../util/zone-clock.js';

/** One window: ISO weekdays (1 = Monday … 7 = Sunday) and local wall-clock times, start inclusive, end exclusive. */
export interface CallWindow {
  days: number[];
  start: string;
  end: string;
}

export const DEFAULT_WINDOWS: CallWindow[] = [{ days: [1, 2, 3, 4, 5], start: '09:00', end: '20:00' }];

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

export const minutesOf = (hhmm: string): number => {
  const m = HHMM.exec(hhmm);
  if (!m) throw new Error(`not a time of day: ${hhmm}`);
  return Number(m[1]) * 60 + Number(m[2]);
};

/** A problem with a window list, or null. */
export function windowsProblem(windows: CallWindow[]): string | null {
  if (windows.length === 0) return 'at least one calling window is needed';
  for (const [i, w] of windows.entries()) {
    if (!HHMM.test(w.start) || !HHMM.test(w.end)) return `windows[${i}]: start and end are HH:MM`;
    if (minutesOf(w.start) >= minutesOf(w.end)) return `windows[${i}]: start must be before end (windows do not cross midnight)`;
    if (w.days.length === 0 || w.days.some((d) => !Number.isInteger(d) || d < 1 || d > 7)) return `windows[${i}]: days are ISO weekdays 1 (Monday) … 7 (Sunday)`;
  }
  return null;
}

/** One check for every zone (canonicalZone's, remembered for the zones of the tables and of contacts). */
/** Whether two window lists open at the same times (a stored list's keys come back in another order). */
export function sameWindows(a: readonly CallWindow[], b: readonly CallWindow[]): boolean {
  const key = (ws: readonly CallWindow[]) => ws.map((w) => `${[...w.days].sort().join(',')} ${w.start}-${w.end}`).join(';');
  return key(a) === key(b);
}

export const isValidZone = (zone: string): boolean => canonicalZone(zone) !== null;

/** The country (ISO 3166 alpha-2) of an E.164 number, or null. */
export function countryOf(phone: string): string | null {
  return parsePhoneNumberFromString(phone)?.country ?? null;
}

/**
 * The zones whose local time governs calls to this contact; empty when it cannot be known. Its number's own zones
 * are looked up only where its country has several (a country of one zone says all there is).
 */
export function zonesFor(contact: { phone: string; time_zone: string | null }): readonly string[] {
  if (contact.time_zone && isValidZone(contact.time_zone)) return [contact.time_zone];
  const country = countryOf(contact.phone);
  const countryZones = (country && COUNTRY_ZONES[country]?.filter(isValidZone)) || [];
  if (countryZones.length <= 1) return countryZones;
  const own = numberZones(contact.phone);
  return own && own.every(isValidZone) ? own : countryZones;
}

/** A window with its times as minutes of the day. */
interface WindowMinutes {
  days: number[];
  start: number;
  end: number;
}

const inMinutes = (windows: CallWindow[]): WindowMinutes[] =>
  windows.map((w) => ({ days: w.days, start: minutesOf(w.start), end: minutesOf(w.end) }));

/** Whether instant `t` (epoch ms) is inside a window on the zone's wall clock (its minute; the seconds do not count). */
function insideOne(windows: WindowMinutes[], zone: string, t: number): boolean {
  const wall = t + zoneOffset(zone, t) * 60_000;
  const day = Math.floor(wall / WALL_DAY_MS);
  const weekday = isoWeekdayOfDay(day);
  const minute = Math.floor((wall - day * WALL_DAY_MS) / 60_000);
  return windows.some((w) => w.days.includes(weekday) && minute >= w.start && minute < w.end);
}

/**
 * True when `t` is inside a window in every zone. `order` holds the zones' indexes and is kept with the zone that
 * last said no first: over a run of candidate instants that zone usually says no again, so most are refused by one.
 */
function insideAll(windows: WindowMinutes[], zones: readonly string[], t: number, order: number[]): boolean {
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    if (insideOne(windows, zones[i]!, t)) continue;
    if (k > 0) {
      order.copyWithin(1, 0, k);
      order[0] = i;
    }
    return false;
  }
  return true;
}

const indexes = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** True when `at` is inside a window in every zone. */
export function inWindow(windows: CallWindow[], zones: readonly string[], at: Date): boolean {
  return zones.length > 0 && insideAll(inMinutes(windows), zones, at.getTime(), indexes(zones.length));
}

/**
 * The first instant ≥ `from` inside the window in every zone, within the next 8 days, or null (the zones share
 * no window: e.g. 09:00–20:00 across all of Russia's eleven zones). An opening is always some zone's window
 * start, so only those instants are tried: each zone's starts on its local days 0 … 8 from `from`'s, as luxon's
 * startOf('day'), plus({ days }) and set({ hour, minute }) place them (zone-clock.ts: starts that fall in a DST gap
 * move forward with the clock). This runs on the event loop for every claimed contact outside its window: it reads
 * no luxon DateTime (a Russian mobile's 26 zones took 3–8 ms that way), and a candidate is usually refused by one zone.
 */
export function nextOpening(windows: CallWindow[], zones: readonly string[], from: Date): Date | null {
  if (zones.length === 0) return null;
  const ws = inMinutes(windows);
  const f = from.getTime();
  const order = indexes(zones.length);
  if (insideAll(ws, zones, f, order)) return from;
  const candidates: number[] = [];
  for (const zone of new Set(zones)) {
    // DateTime.fromJSDate(from, { zone }).startOf('day'): midnight of from's local day, from's offset the guess.
    const o0 = zoneOffset(zone, f);
    const midnight = Math.floor((f + o0 * 60_000) / WALL_DAY_MS) * WALL_DAY_MS;
    const [ts0, oDay0] = wallToInstant(zone, midnight, o0);
    const wall0 = ts0 + oDay0 * 60_000;
    for (let d = 0; d <= 8; d++) {
      // day0.plus({ days: d }): the same wall time d days on, day0's offset the guess.
      const [ts, o] = wallToInstant(zone, wall0 + d * WALL_DAY_MS, oDay0);
      const wall = ts + o * 60_000;
      const dayStart = Math.floor(wall / WALL_DAY_MS) * WALL_DAY_MS;
      const weekday = isoWeekdayOfDay(dayStart / WALL_DAY_MS);
      const secondsAndMs = (wall - dayStart) % 60_000;
      for (const w of ws) {
        if (!w.days.includes(weekday)) continue;
        // day.set({ hour, minute }): that day's date at the window's start (its seconds kept), the day's offset the guess.
        const [t] = wallToInstant(zone, dayStart + w.start * 60_000 + secondsAndMs, o);
        if (t > f) candidates.push(t);
      }
    }
  }
  candidates.sort((a, b) => a - b);
  for (const t of candidates) if (insideAll(ws, zones, t, order)) return new Date(t);
  return null;
}
