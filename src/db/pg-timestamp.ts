/**
 * PostgreSQL's text for date, timestamp and timestamptz (DateStyle ISO: `2026-06-01 09:30:00.25+02`,
 * `0049-06-01 00:00:00+00`, `0044-03-15 BC`) read into a Date field by field. `new Date(text)` is not ISO 8601 for
 * these strings and falls back to a guessing parser that reads years 0–49 as 2000–2049 and 50–99 as 1950–1999, so
 * a stored 0049 came back as 2049. Without an offset, a timestamp is local time and a date UTC midnight, as
 * `new Date` reads them; text that is none of these (`infinity`) is left to `new Date` (an invalid Date).
 */
const PG_DATE_TIME =
  /^(\d{4,})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?(?:([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?( BC)?$/;

export function parsePgTimestamp(text: string): Date {
  const m = PG_DATE_TIME.exec(text);
  if (!m) return new Date(text);
  const [, y, mo, d, h, mi, s, frac, sign, oh, om, os, bc] = m;
  // Year 1 BC is year 0 in ISO 8601's proleptic count, 2 BC is -1.
  const year = bc ? 1 - Number(y) : Number(y);
  const month = Number(mo) - 1;
  const day = Number(d);
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000 + 1e-6) : 0;
  const time = [Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), ms] as const;
  if (h !== undefined && sign === undefined) {
    const local = new Date(2000, 0, 1, ...time);
    local.setFullYear(year, month, day); // setFullYear keeps years 0-99 as they are; the constructor does not
    return local;
  }
  const utc = new Date(Date.UTC(2000, 0, 1, ...time));
  utc.setUTCFullYear(year, month, day);
  if (sign === undefined) return utc;
  const offsetMs = ((Number(oh) * 60 + Number(om ?? 0)) * 60 + Number(os ?? 0)) * 1000;
  return new Date(utc.getTime() - (sign === '+' ? offsetMs : -offsetMs));
}
