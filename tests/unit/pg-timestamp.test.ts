import { describe, expect, it } from 'vitest';
import { parsePgTimestamp } from '../../src/db/pg-timestamp.js';

describe("PostgreSQL's date and time text, read field by field", () => {
  it.each([
    ['0001-01-01 00:00:00+00', '0001-01-01T00:00:00.000Z'],
    ['0049-06-01 00:00:00+00', '0049-06-01T00:00:00.000Z'],
    ['0050-01-01 00:00:00+00', '0050-01-01T00:00:00.000Z'],
    ['0099-12-31 23:59:59.999+00', '0099-12-31T23:59:59.999Z'],
    ['0100-02-28 12:00:00+00', '0100-02-28T12:00:00.000Z'],
    ['2026-06-01 09:30:00.25+02', '2026-06-01T07:30:00.250Z'],
    ['2026-06-01 09:30:00.123456+05:30', '2026-06-01T04:00:00.123Z'],
    ['1890-01-01 00:00:00+01:30:15', '1889-12-31T22:29:45.000Z'],
    ['2026-06-01 09:30:00-03', '2026-06-01T12:30:00.000Z'],
    ['9999-12-31 23:59:59+00', '9999-12-31T23:59:59.000Z'],
    ['0049-06-01', '0049-06-01T00:00:00.000Z'],
    ['0001-03-15 00:00:00+00 BC', '0000-03-15T00:00:00.000Z'],
    ['0044-03-15 BC', '-000043-03-15T00:00:00.000Z'],
  ])('%s is %s', (text, iso) => {
    expect(parsePgTimestamp(text).toISOString()).toBe(iso);
  });

  it('a timestamp without an offset is local time, as new Date reads one', () => {
    const d = parsePgTimestamp('0049-06-01 10:20:30.5');
    expect([d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()]).toEqual([49, 5, 1, 10, 20, 30, 500]);
    expect(parsePgTimestamp('2026-06-01 10:20:30').getTime()).toBe(new Date(2026, 5, 1, 10, 20, 30).getTime());
  });

  it('infinity stays an invalid Date', () => {
    expect(Number.isNaN(parsePgTimestamp('infinity').getTime())).toBe(true);
  });
});
