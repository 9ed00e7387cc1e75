import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { parseWhen } from '../../src/bookings/when-parser.js';

const zone = 'America/New_York';
// Wednesday 2026-03-04 10:00 in New York (DST starts Sunday 2026-03-08).
const now = DateTime.fromISO('2026-03-04T10:00', { zone }).toJSDate();
const local = (s: string) => DateTime.fromISO(s, { zone }).toISO();

const exact: Array<[string, string]> = [
  ['tomorrow at 3 pm', '2026-03-05T15:00'],
  ['today at 10:30', '2026-03-04T10:30'],
  ['on Friday at noon', '2026-03-06T12:00'],
  ['December 3 at 2', '2026-12-03T14:00'],
  ['Tomorrow at 3pm, please.', '2026-03-05T15:00'],
  ['day after tomorrow at nine thirty am', '2026-03-06T09:30'],
  ['at 9', '2026-03-05T09:00'],
  ['tomorrow at 7 am', '2026-03-05T07:00'],
  ['tomorrow at 12:30', '2026-03-05T12:30'],
  ['at 3 in the afternoon on Thursday', '2026-03-05T15:00'],
  ['next monday at four', '2026-03-09T16:00'],
  ['the 3rd of december at 10 am', '2026-12-03T10:00'],
  ['half past two tomorrow', '2026-03-05T14:30'],
  ['завтра в три часа дня', '2026-03-05T15:00'],
  ['послезавтра в 11', '2026-03-06T11:00'],
  ['в пятницу в 15:30', '2026-03-06T15:30'],
  ['в половине третьего', '2026-03-04T14:30'],
  ['3 декабря в 14:00', '2026-12-03T14:00'],
  ['третьего декабря в 10 утра', '2026-12-03T10:00'],
  ['через 2 дня в 10', '2026-03-06T10:00'],
  ['в час дня', '2026-03-04T13:00'],
  ['в среду в 10 утра', '2026-03-11T10:00'],
  ['в семь вечера', '2026-03-04T19:00'],
  ['Завтра в двенадцать тридцать', '2026-03-05T12:30'],
  ['2026-03-10T15:00:00-04:00', '2026-03-10T15:00'],
  // Spans and days of the month a caller says (each was read as today, or "two" as 2 PM):
  ['in two weeks at 10 am', '2026-03-18T10:00'],
  ['a week from today at 3 pm', '2026-03-11T15:00'],
  ['two weeks from Friday at noon', '2026-03-20T12:00'],
  ['on the 15th at 10 am', '2026-03-15T10:00'],
  ['the second at 10 am', '2026-04-02T10:00'],
  ['not Friday, Monday at 3 pm', '2026-03-09T15:00'],
  ['через 2 недели в 10 утра', '2026-03-18T10:00'],
];

const windows: Array<[string, string, string, string]> = [
  ['next Monday morning', 'morning', '2026-03-09T06:00', '2026-03-09T12:00'],
  ['в понедельник утром', 'morning', '2026-03-09T06:00', '2026-03-09T12:00'],
  ['tomorrow', 'day', '2026-03-05T00:00', '2026-03-06T00:00'],
  ['this evening', 'evening', '2026-03-04T17:00', '2026-03-05T00:00'],
  ['in 3 days', 'day', '2026-03-07T00:00', '2026-03-08T00:00'],
  ['next week', 'week', '2026-03-09T00:00', '2026-03-16T00:00'],
  ['на следующей неделе', 'week', '2026-03-09T00:00', '2026-03-16T00:00'],
  ['завтра после обеда', 'afternoon', '2026-03-05T12:00', '2026-03-05T17:00'],
  ['в субботу вечером', 'evening', '2026-03-07T17:00', '2026-03-08T00:00'],
  ['2026-03-10', 'day', '2026-03-10T00:00', '2026-03-11T00:00'],
  ['in two weeks', 'day', '2026-03-18T00:00', '2026-03-19T00:00'],
  ['не завтра, а в пятницу', 'day', '2026-03-06T00:00', '2026-03-07T00:00'],
];

describe('parseWhen', () => {
  it.each(exact)('%s → %s', (text, expected) => {
    const r = parseWhen(text, { now, zone });
    expect(r?.kind).toBe('exact');
    if (r?.kind === 'exact') expect(r.start.setZone(zone).toISO()).toBe(local(expected));
  });

  it.each(windows)('%s → %s window', (text, part, from, to) => {
    const r = parseWhen(text, { now, zone });
    expect(r?.kind).toBe('window');
    if (r?.kind === 'window') {
      expect(r.part).toBe(part);
      expect(r.from.toISO()).toBe(local(from));
      expect(r.to.toISO()).toBe(local(to));
    }
  });

  it('"the second one" picks an offer; it is no day of the month', () => {
    expect(parseWhen('the second one please', { now, zone })).toBeNull();
    expect(parseWhen('the first option', { now, zone })).toBeNull();
  });

  it('returns null for words without a time', () => {
    expect(parseWhen('hello there', { now, zone })).toBeNull();
    expect(parseWhen('может быть', { now, zone })).toBeNull();
  });

  it('keeps wall-clock time across the DST change (9 AM before and after 2026-03-08)', () => {
    const before = parseWhen('on Saturday at 9 am', { now, zone });
    const after = parseWhen('on Monday at 9 am', { now, zone });
    expect(before?.kind === 'exact' && before.start.offset).toBe(-300);
    expect(after?.kind === 'exact' && after.start.offset).toBe(-240);
  });
});
