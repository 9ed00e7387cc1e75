/**
 * The scheduler decides, for every claimed contact on the event loop that carries live calls' audio, whether its
 * window is open and when it next opens. Those decisions read no luxon DateTime any more (a Russian mobile's 26
 * zones cost 3–8 ms a contact, a poll of 50 held the loop ~90–200 ms): they must stay the same decisions. The
 * oracle below is the implementation they replaced, word for word, over random zones, windows and instants around
 * the year's clock changes (gaps, repeated hours, zones that change at midnight or by half an hour).
 */
import { DateTime, Info } from 'luxon';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { inWindow, minutesOf, nextOpening, zonesFor, type CallWindow } from '../../src/campaigns/windows.js';
import { COUNTRY_ZONES } from '../../src/util/country-zones.js';
import { wallToInstant, zoneOffset } from '../../src/util/zone-clock.js';

// ------------------------------------------------------------------ the replaced implementation (the oracle)
function oldInsideOne(windows: CallWindow[], zone: string, at: Date): boolean {
  const local = DateTime.fromJSDate(at, { zone });
  const minute = local.hour * 60 + local.minute;
  return windows.some((w) => w.days.includes(local.weekday) && minute >= minutesOf(w.start) && minute < minutesOf(w.end));
}
function oldInWindow(windows: CallWindow[], zones: readonly string[], at: Date): boolean {
  return zones.length > 0 && zones.every((z) => oldInsideOne(windows, z, at));
}
function oldNextOpening(windows: CallWindow[], zones: readonly string[], from: Date): Date | null {
  if (zones.length === 0) return null;
  if (oldInWindow(windows, zones, from)) return from;
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
  for (const t of candidates) if (oldInWindow(windows, zones, new Date(t))) return new Date(t);
  return null;
}

// ------------------------------------------------------------------------------------------ random cases
/** mulberry32: the same cases on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = random(20261202);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));

const ALL_ZONES = ['UTC', ...Intl.supportedValuesOf('timeZone'), ...Object.values(COUNTRY_ZONES).flat()];
// Zones whose clocks change at midnight, by 30 minutes, twice a year in the south, or with Ramadan.
const ODD_ZONES = ['America/Santiago', 'America/Havana', 'Asia/Beirut', 'Africa/Cairo', 'Australia/Lord_Howe', 'Pacific/Chatham',
  'Africa/Casablanca', 'America/Asuncion', 'America/Nuuk', 'Asia/Gaza', 'Europe/Chisinau', 'Antarctica/Troll', 'Pacific/Norfolk'];
const PHONES = ['+79141234567', '+74951234567', '+12125550101', '+18085550101', '+17095550101', '+61412345678', '+61892345678',
  '+5592912345678', '+5511912345678', '+525512345678', '+442079460000', '+33612345678', '+8613812345678'];

// Instants near 2026–2027's clock changes (both hemispheres), and anywhere in those years.
const CHANGES = ['2026-03-08', '2026-03-29', '2026-04-05', '2026-09-06', '2026-09-27', '2026-10-04', '2026-10-25', '2026-11-01',
  '2027-03-14', '2027-03-28', '2027-04-04', '2027-10-31', '2027-11-07'].map((d) => Date.parse(`${d}T00:00:00Z`));
function instant(): Date {
  const base = rnd() < 0.7 ? pick(CHANGES) + int(-9 * 24, 2 * 24) * 3_600_000 : Date.parse('2026-01-01T00:00:00Z') + rnd() * 2 * 365 * 86_400_000;
  // Whole minutes, whole hours and odd seconds: the window's minute is the clock's, seconds not counted.
  const r = rnd();
  const t = r < 0.3 ? Math.floor(base / 3_600_000) * 3_600_000 : r < 0.6 ? Math.floor(base / 60_000) * 60_000 + int(0, 1) * 59_999 : base + int(0, 3_599_999);
  return new Date(Math.floor(t));
}

const hhmm = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
function windowList(): CallWindow[] {
  return Array.from({ length: int(1, 3) }, () => {
    // Half the windows start in the small hours, where the clocks change.
    const start = rnd() < 0.5 ? int(0, 4 * 60) : rnd() < 0.5 ? int(0, 23) * 60 : int(0, 1438);
    const end = rnd() < 0.3 ? 1439 : int(start + 1, Math.min(1439, start + 12 * 60));
    const days = [1, 2, 3, 4, 5, 6, 7].filter(() => rnd() < 0.6);
    return { days: days.length ? days : [int(1, 7)], start: hhmm(start), end: hhmm(end) };
  });
}
function zoneSet(): readonly string[] {
  const r = rnd();
  if (r < 0.35) return [pick(rnd() < 0.5 ? ODD_ZONES : ALL_ZONES)];
  if (r < 0.55) return Array.from({ length: int(2, 4) }, () => pick(rnd() < 0.5 ? ODD_ZONES : ALL_ZONES));
  if (r < 0.8) return zonesFor({ phone: pick(PHONES), time_zone: null });
  return COUNTRY_ZONES[pick(Object.keys(COUNTRY_ZONES))]!;
}

describe('window decisions without luxon DateTimes', () => {
  afterEach(() => vi.restoreAllMocks());

  it('zoneOffset and wallToInstant are luxon\'s, in every zone, at random instants and wall times', () => {
    for (const zone of new Set(ALL_ZONES)) {
      const luxonZone = Info.normalizeZone(zone);
      for (let i = 0; i < 12; i++) {
        const t = instant().getTime();
        expect(zoneOffset(zone, t), `${zone} @ ${new Date(t).toISOString()}`).toBe(luxonZone.offset(t));
        // luxon's DateTime#set on a DateTime whose offset is the guess (an instant up to 2 hours off, across a change
        // now and then) places a wall time as wallToInstant does.
        const base = DateTime.fromMillis(t + int(-2, 2) * 3_600_000, { zone });
        const w = new Date(Math.floor((t + luxonZone.offset(t) * 60_000) / 60_000) * 60_000 + int(-90, 90) * 60_000);
        const set = base.set({ year: w.getUTCFullYear(), month: w.getUTCMonth() + 1, day: w.getUTCDate(), hour: w.getUTCHours(), minute: w.getUTCMinutes(), second: 0, millisecond: 0 });
        expect(wallToInstant(zone, w.getTime(), base.offset), `${zone} wall ${w.toISOString()}`).toEqual([set.toMillis(), set.offset]);
      }
    }
  });

  it('inWindow and nextOpening decide as the luxon implementation did, over 2,000 random cases around clock changes', () => {
    for (let i = 0; i < 2000; i++) {
      const zones = zoneSet();
      const windows = windowList();
      const at = instant();
      const what = `case ${i}: ${JSON.stringify({ zones, windows, at: at.toISOString() })}`;
      expect(inWindow(windows, zones, at), what).toBe(oldInWindow(windows, zones, at));
      expect(nextOpening(windows, zones, at)?.toISOString() ?? null, what).toBe(oldNextOpening(windows, zones, at)?.toISOString() ?? null);
    }
  });

  it('a decision for zones already seen today asks Intl for no offset (each ask cost ~2–5 µs, thousands per Russian contact)', () => {
    const ru = zonesFor({ phone: '+79141234567', time_zone: null });
    const saturday = new Date('2026-03-07T12:00:00Z');
    const windows = [{ days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' }];
    const opening = nextOpening(windows, ru, saturday); // the first contact of the poll learns the zones' days
    const asked = vi.spyOn(Intl.DateTimeFormat.prototype, 'formatToParts');
    for (let s = 1; s <= 20; s++) {
      const at = new Date(saturday.getTime() + s * 1000);
      expect(inWindow(windows, ru, at)).toBe(false);
      expect(nextOpening(windows, ru, at)).toEqual(opening);
    }
    expect(asked).not.toHaveBeenCalled();
  });
});
