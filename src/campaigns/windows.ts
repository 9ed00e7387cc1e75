/**
 * Calling windows in the callee's local time. A contact's zone is its own `time_zone`, else the zones its number
 * tells (its area code's: libphonenumber's number → time zones mapper), else those of its number's country
 * (libphonenumber-js); with several zones (an area code across two zones; a Russian mobile, whose number says only
 * "Russia") a moment is inside the window only when it is inside it in every one of them — the strictest window.
 * Pure functions of (windows, zones, instant).
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { DateTime } from 'luxon';
import { COUNTRY_ZONES } from '../util/country-zones.js';
import { numberZones } from '../util/number-zones.js';
import { canonicalZone } from '../util/time-zone.js';

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

function insideOne(windows: CallWindow[], zone: string, at: Date): boolean {
  const local = DateTime.fromJSDate(at, { zone });
  const minute = local.hour * 60 + local.minute;
  return windows.some((w) => w.days.includes(local.weekday) && minute >= minutesOf(w.start) && minute < minutesOf(w.end));
}

/** True when `at` is inside a window in every zone. */
export function inWindow(windows: CallWindow[], zones: readonly string[], at: Date): boolean {
  return zones.length > 0 && zones.every((z) => insideOne(windows, z, at));
}

/**
 * The first instant ≥ `from` inside the window in every zone, within the next 8 days, or null (the zones share
 * no window: e.g. 09:00–20:00 across all of Russia's eleven zones). An opening is always some zone's window
 * start, so only those instants are tried. Starts that fall in a DST gap move forward with the clock (luxon).
 */
export function nextOpening(windows: CallWindow[], zones: readonly string[], from: Date): Date | null {
  if (zones.length === 0) return null;
  if (inWindow(windows, zones, from)) return from;
  const candidates: number[] = [];
  for (const zone of new Set(zones)) {
    const day0 = DateTime.fromJSDate(from, { zone }).startOf('day');
    for (let d = 0; d <= 8; d++) {
      const day = day0.plus({ days: d });
      for (const w of windows) {
        if (!w.days.includes(day.weekday)) continue;
        const m = minutesOf(w.start);
        const t = day.set({ hour: Math.floor(m / 60), minute: m % 60 }).toMillis();
        if (t > from.getTime()) candidates.push(t);
      }
    }
  }
  candidates.sort((a, b) => a - b);
  for (const t of candidates) if (inWindow(windows, zones, new Date(t))) return new Date(t);
  return null;
}

/** The callee's local calendar day (YYYY-MM-DD) in its first zone: frequency caps count per local day. */
export function localDay(zones: readonly string[], at: Date): string {
  return DateTime.fromJSDate(at, { zone: zones[0] ?? 'UTC' }).toISODate()!;
}

/** `day` minus `n` days (YYYY-MM-DD). */
export function daysBefore(day: string, n: number): string {
  return DateTime.fromISO(day, { zone: 'UTC' }).minus({ days: n }).toISODate()!;
}
