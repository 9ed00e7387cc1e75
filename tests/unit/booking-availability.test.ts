import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { computeSlots, nearestSlots, nearestSlotsAround, type BusyInterval } from '../../src/bookings/availability.js';
import { bookingSettings, type BookingConfig } from '../../src/bookings/config-schema.js';
import { speakableTime } from '../../src/bookings/labels.js';
import { parseWhen } from '../../src/bookings/when-parser.js';

const base: BookingConfig = {
  timezone: 'America/New_York',
  services: [
    { id: 'haircut', name: 'Haircut', durationMin: 60, price: 40, currency: 'USD' },
    { id: 'color', name: 'Coloring', durationMin: 90 },
  ],
  resources: [
    { id: 'anna', name: 'Anna', services: ['haircut', 'color'] },
    { id: 'boris', name: 'Boris', services: ['haircut'] },
  ],
  hours: {
    mon: { open: '09:00', close: '17:00', breaks: [{ start: '12:00', end: '13:00' }] },
    tue: { open: '09:00', close: '17:00', breaks: [{ start: '12:00', end: '13:00' }] },
    wed: { open: '09:00', close: '17:00', breaks: [{ start: '12:00', end: '13:00' }] },
    thu: { open: '09:00', close: '17:00', breaks: [{ start: '12:00', end: '13:00' }] },
    fri: { open: '09:00', close: '17:00' },
  },
  slotGranularityMin: 30,
  leadTimeMin: 60,
  horizonDays: 30,
  blackoutDates: ['2026-03-13'],
};

const ms = (iso: string, zone = 'America/New_York') => DateTime.fromISO(iso, { zone }).toMillis();
const hhmm = (slots: { start: DateTime }[]) => slots.map((s) => s.start.toFormat('HH:mm'));

function slotsOn(config: BookingConfig, serviceId: string, date: string, opts: { now?: number; busy?: BusyInterval[] } = {}) {
  const zone = config.timezone;
  return computeSlots({
    settings: bookingSettings(config),
    serviceId,
    from: ms(`${date}T00:00`, zone),
    to: ms(`${date}T00:00`, zone) + 86_400_000 + 3_600_000,
    busy: opts.busy ?? [],
    now: opts.now ?? ms('2026-03-01T08:00', zone),
  }).filter((s) => s.start.toISODate() === date);
}

describe('computeSlots', () => {
  it('lays slots on the granularity inside hours, skipping the break, ending by close', () => {
    const s = slotsOn(base, 'haircut', '2026-03-05');
    expect(hhmm(s)).toEqual(['09:00', '09:30', '10:00', '10:30', '11:00', '13:00', '13:30', '14:00', '14:30', '15:00', '15:30', '16:00']);
    expect(s.every((x) => x.freeResourceIds.length === 2)).toBe(true);
    expect(s[0]!.end.toMillis() - s[0]!.start.toMillis()).toBe(3_600_000);
  });

  it('a 90-minute service fits only where 90 minutes fit, and only Anna can do it', () => {
    const s = slotsOn(base, 'color', '2026-03-05');
    expect(hhmm(s)).toEqual(['09:00', '09:30', '10:00', '10:30', '13:00', '13:30', '14:00', '14:30', '15:00', '15:30']);
    expect(s.every((x) => x.freeResourceIds.join() === 'anna')).toBe(true);
  });

  it('closed weekdays and blackout dates have no slots; unknown service has none', () => {
    expect(slotsOn(base, 'haircut', '2026-03-07')).toEqual([]); // Saturday
    expect(slotsOn(base, 'haircut', '2026-03-13')).toEqual([]); // blackout Friday
    expect(slotsOn(base, 'nails', '2026-03-05')).toEqual([]);
  });

  it('counts capacity: one busy resource leaves capacity 1; both busy removes the slot', () => {
    const busy: BusyInterval[] = [
      { resourceId: 'anna', start: ms('2026-03-05T10:00'), end: ms('2026-03-05T11:00') },
      { resourceId: 'boris', start: ms('2026-03-05T10:30'), end: ms('2026-03-05T11:30') },
    ];
    const s = slotsOn(base, 'haircut', '2026-03-05', { busy });
    const at = (t: string) => s.find((x) => x.start.toFormat('HH:mm') === t);
    expect(at('09:00')?.freeResourceIds).toEqual(['anna', 'boris']);
    expect(at('09:30')?.freeResourceIds).toEqual(['boris']); // 9:30–10:30 overlaps Anna's 10:00
    expect(at('10:00')).toBeUndefined();
    expect(at('10:30')).toBeUndefined();
    expect(at('11:00')?.freeResourceIds).toEqual(['anna']);
  });

  it('never offers the past or inside the lead time, nor beyond the horizon', () => {
    const now = ms('2026-03-05T09:10');
    const s = slotsOn(base, 'haircut', '2026-03-05', { now });
    expect(hhmm(s)[0]).toBe('10:30'); // 09:10 + 60 min lead → first slot at or after 10:10
    // 11:10 earliest: 11:30 would run into the lunch break, so the next is 13:00.
    expect(hhmm(slotsOn(base, 'haircut', '2026-03-05', { now: ms('2026-03-05T10:10') }))[0]).toBe('13:00');
    const far = computeSlots({
      settings: bookingSettings(base), serviceId: 'haircut', from: ms('2026-04-20T00:00'), to: ms('2026-04-25T00:00'), busy: [], now: ms('2026-03-05T10:00'),
    });
    expect(far).toEqual([]); // horizon 30 days
  });

  it('the horizon counts calendar days in the business\'s zone: across a DST change it ends at the same wall-clock time', () => {
    const config: BookingConfig = { ...base, blackoutDates: [], slotGranularityMin: 60, leadTimeMin: 0 };
    const times = (now: string, horizonDays: number, date: string) => hhmm(computeSlots({
      settings: bookingSettings({ ...config, horizonDays }), serviceId: 'haircut', from: ms(`${date}T00:00`), to: ms(`${date}T23:00`), busy: [], now: ms(now),
    }));
    // 30 days from 10:00 EST on 4 March (clocks go forward on 8 March) end at 10:00 EDT on 3 April: 10:00 is past
    // it (24-hour days ended at 11:00 EDT and offered it).
    expect(times('2026-03-04T10:00', 30, '2026-04-03')).toEqual(['09:00']);
    // 7 days from 10:00 EDT on 28 October (clocks go back on 1 November) end at 10:00 EST on 4 November: 9:00 is
    // inside it (24-hour days ended at 9:00 EST and refused it).
    expect(times('2026-10-28T10:00', 7, '2026-11-04')).toEqual(['09:00']);
  });

  describe('DST change days in the business time zone', () => {
    const night = (zone: string, day: 'sun'): BookingConfig => ({
      ...base,
      timezone: zone,
      blackoutDates: [],
      slotGranularityMin: 60,
      hours: { [day]: { open: '00:00', close: '06:00' } },
      horizonDays: 365,
    });
    const day = (zone: string): BookingConfig => ({ ...base, timezone: zone, blackoutDates: [], horizonDays: 365, hours: { sun: { open: '09:00', close: '17:00' } }, slotGranularityMin: 60 });
    const now = ms('2026-01-01T00:00', 'UTC');

    it('America/New_York 2026-03-08: 02:00 does not exist; every slot lasts 60 real minutes', () => {
      const s = slotsOn(night('America/New_York', 'sun'), 'haircut', '2026-03-08', { now });
      expect(hhmm(s)).toEqual(['00:00', '01:00', '03:00', '04:00', '05:00']);
      expect(s.map((x) => x.start.offset)).toEqual([-300, -300, -240, -240, -240]);
      expect(s.every((x) => x.end.toMillis() - x.start.toMillis() === 3_600_000)).toBe(true);
      const business = slotsOn(day('America/New_York'), 'haircut', '2026-03-08', { now });
      expect(hhmm(business)).toEqual(['09:00', '10:00', '11:00', '12:00', '13:00', '14:00', '15:00', '16:00']);
      expect(business[0]!.start.toUTC().toISO()).toBe('2026-03-08T13:00:00.000Z');
    });

    it('America/New_York 2026-11-01: the repeated hour is offered once, and business hours keep their wall-clock times', () => {
      const s = slotsOn(night('America/New_York', 'sun'), 'haircut', '2026-11-01', { now });
      expect(hhmm(s)).toEqual(['00:00', '01:00', '02:00', '03:00', '04:00', '05:00']);
      expect(s.every((x) => x.end.toMillis() - x.start.toMillis() === 3_600_000)).toBe(true);
      const business = slotsOn(day('America/New_York'), 'haircut', '2026-11-01', { now });
      expect(business[0]!.start.toUTC().toISO()).toBe('2026-11-01T14:00:00.000Z');
      expect(business).toHaveLength(8);
    });

    it('Europe/Berlin 2026-03-29 and 2026-10-25', () => {
      const spring = slotsOn(night('Europe/Berlin', 'sun'), 'haircut', '2026-03-29', { now });
      expect(hhmm(spring)).toEqual(['00:00', '01:00', '03:00', '04:00', '05:00']);
      expect(spring.map((x) => x.start.offset)).toEqual([60, 60, 120, 120, 120]);
      const autumn = slotsOn(night('Europe/Berlin', 'sun'), 'haircut', '2026-10-25', { now });
      expect(hhmm(autumn)).toEqual(['00:00', '01:00', '02:00', '03:00', '04:00', '05:00']);
      expect(slotsOn(day('Europe/Berlin'), 'haircut', '2026-03-29', { now })[0]!.start.toUTC().toISO()).toBe('2026-03-29T07:00:00.000Z');
      expect(slotsOn(day('Europe/Berlin'), 'haircut', '2026-10-25', { now })[0]!.start.toUTC().toISO()).toBe('2026-10-25T08:00:00.000Z');
    });
  });

  it('nearestSlots picks the closest slots to a target, in time order', () => {
    const s = slotsOn(base, 'haircut', '2026-03-05');
    expect(hhmm(nearestSlots(s, ms('2026-03-05T12:40'), 3))).toEqual(['13:00', '13:30', '14:00']);
  });
});

describe('speakableTime', () => {
  const zone = 'America/New_York';
  const now = DateTime.fromISO('2026-03-04T10:00', { zone });
  it.each([
    ['2026-03-04T15:00', 'en', 'today at 3:00 PM'],
    ['2026-03-05T15:00', 'en', 'tomorrow at 3:00 PM'],
    ['2026-03-06T09:30', 'en', 'on Friday at 9:30 AM'],
    ['2026-03-20T14:00', 'en', 'on Friday, March 20 at 2:00 PM'],
    ['2026-03-05T15:00', 'ru', 'завтра в 15:00'],
    ['2026-03-06T11:00', 'ru', 'послезавтра в 11:00'],
    ['2026-03-10T09:00', 'ru', 'во вторник в 9:00'],
    ['2026-03-20T14:00', 'ru', 'в пятницу, 20 марта, в 14:00'],
  ] as const)('%s (%s) → %s', (iso, lang, label) => {
    expect(speakableTime(DateTime.fromISO(iso, { zone }), now, lang)).toBe(label);
  });
});

describe('a spoken time and the slot offered for it are one instant', () => {
  it('on a fall-back night, "tomorrow at 1:30 am" is the 01:30 slot the schedule offers (01:30 comes twice)', () => {
    const night: BookingConfig = { ...base, hours: { sun: { open: '00:00', close: '06:00' } }, blackoutDates: [], leadTimeMin: 0 };
    const slots = slotsOn(night, 'haircut', '2026-11-01', { now: ms('2026-10-31T10:00') });
    const offered = slots.filter((s) => s.start.toFormat('HH:mm') === '01:30');
    expect(offered.length).toBeGreaterThan(0);
    const heard = parseWhen('tomorrow at 1:30 am', { now: ms('2026-10-31T10:00'), zone: night.timezone });
    expect(heard?.kind).toBe('exact');
    expect(offered.map((s) => s.start.toMillis())).toContain(heard?.kind === 'exact' ? heard.start.toMillis() : NaN);
  });
});

describe('computeSlots against a plain reading of the schedule', () => {
  // Every resource checked against every busy interval, and every wall time placed on its own: the definition
  // the indexed check and the steady-day arithmetic must agree with, DST days and overlapping intervals included.
  const zone = 'Europe/London';
  const allDay = { open: '00:00', close: '24:00' };
  const config: BookingConfig = {
    timezone: zone,
    services: [{ id: 'visit', name: 'Visit', durationMin: 45 }],
    resources: ['a', 'b', 'c'].map((id) => ({ id, name: id, services: ['visit'] })),
    hours: { mon: allDay, tue: allDay, wed: allDay, thu: allDay, fri: allDay, sat: allDay, sun: { open: '00:30', close: '23:30', breaks: [{ start: '12:00', end: '12:40' }] } },
    slotGranularityMin: 15,
    leadTimeMin: 0,
    horizonDays: 400,
  };
  const settings = bookingSettings(config);
  const now = ms('2026-03-27T00:00', zone);
  const from = now;
  const to = ms('2026-04-01T00:00', zone); // the spring-forward night of 29 March inside
  let seed = 11;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const busy: BusyInterval[] = Array.from({ length: 120 }, () => {
    const start = from + Math.floor(random() * 5 * 96) * 15 * 60_000 + 7 * 60_000;
    // Some long ones, overlapping many others of their resource.
    const long = random() < 0.1;
    return { resourceId: ['a', 'b', 'c'][Math.floor(random() * 3)]!, start, end: start + (long ? 6 * 3_600_000 : 20 * 60_000) };
  });

  function plainSlots(): string[] {
    const out: string[] = [];
    for (let day = DateTime.fromMillis(from, { zone }).startOf('day'); day.toMillis() < to; day = day.plus({ days: 1 })) {
      const h = config.hours[(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const)[day.weekday - 1]!]!;
      const [oh, om] = h.open.split(':').map(Number) as [number, number];
      const [ch, cm] = h.close.split(':').map(Number) as [number, number];
      const close = ch === 24 ? day.plus({ days: 1 }).toMillis() : day.set({ hour: ch, minute: cm }).toMillis();
      for (let m = oh * 60 + om; m < ch * 60 + cm; m += 15) {
        const start = DateTime.fromObject({ year: day.year, month: day.month, day: day.day, hour: Math.floor(m / 60), minute: m % 60 }, { zone });
        if (start.hour * 60 + start.minute !== m) continue;
        const s = start.toMillis();
        const e = s + 45 * 60_000;
        if (e > close || s < from || s >= to) continue;
        if ((h.breaks ?? []).some((b) => day.set({ hour: +b.start.slice(0, 2), minute: +b.start.slice(3) }).toMillis() < e && day.set({ hour: +b.end.slice(0, 2), minute: +b.end.slice(3) }).toMillis() > s)) continue;
        const free = ['a', 'b', 'c'].filter((r) => !busy.some((b) => b.resourceId === r && b.start < e && b.end > s));
        if (free.length) out.push(`${new Date(s).toISOString()} ${free.join('')}`);
      }
    }
    return out;
  }

  it('finds exactly the slots, and the free resources of each, that the plain reading finds', () => {
    const slots = computeSlots({ settings, serviceId: 'visit', from, to, busy, now });
    expect(slots.map((s) => `${s.start.toJSDate().toISOString()} ${s.freeResourceIds.join('')}`)).toEqual(plainSlots());
    expect(slots.every((s) => s.start.zoneName === zone && s.end.toMillis() - s.start.toMillis() === 45 * 60_000)).toBe(true);
  });

  it('nearestSlotsAround gives what the nearest of the whole three weeks are', () => {
    for (const target of [from + 3_600_000, ms('2026-03-29T01:30', zone), ms('2026-03-30T12:10', zone), to + 5 * 86_400_000]) {
      const wide = computeSlots({ settings, serviceId: 'visit', from: target - 7 * 86_400_000, to: target + 14 * 86_400_000, busy, now });
      const key = (s: { start: DateTime; freeResourceIds: string[] }) => `${s.start.toMillis()} ${s.freeResourceIds.join('')}`;
      expect(nearestSlotsAround({ settings, serviceId: 'visit', busy, now }, target, 3).map(key)).toEqual(nearestSlots(wide, target, 3).map(key));
    }
  });
});
