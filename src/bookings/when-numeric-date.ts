/**
 * Dates written with numbers ("6/12", "12/06/2026", "12.06.2026", "12.06", "2026-06-12") for the when-parser. Whether
 * "6/12" is June 12 or December 6 depends on where the caller is: the company's time zone names the country, and the
 * country its order. Where the order is not known and both readings are real, different days, the date is
 * AMBIGUOUS and the agent asks again rather than book either.
 *
 * "12.06" without a year is the day-first countries' way of writing a date (day.month); elsewhere it is a time
 * ("10.15" in New York is a quarter past ten), and where the order is not known it is a date only when no other day
 * could be meant. Whether the caller said it as a time ("в 12.06", "12.06 pm") the when-parser decides first.
 */
import { DateTime } from 'luxon';
import { COUNTRY_ZONES } from '../util/country-zones.js';
import { canonicalZone } from '../util/time-zone.js';

export type DateOrder = 'month-first' | 'day-first' | 'unknown';

export const AMBIGUOUS = Symbol('ambiguous date');

/** Countries whose short numeric date puts the month first (the US and the places that follow it; M/D in CJK). */
const MONTH_FIRST = new Set(['US', 'PR', 'GU', 'VI', 'AS', 'MP', 'UM', 'FM', 'MH', 'PW', 'PH', 'CN', 'JP', 'KR', 'TW']);
/** Countries where both orders are in everyday use (Canada), or whose own order is year-month-day either way. */
const MIXED = new Set(['CA', 'HU', 'LT', 'MN']);

let zoneCountries: Map<string, string> | null = null;

function countryOfZone(zone: string): string | undefined {
  if (!zoneCountries) {
    zoneCountries = new Map();
    for (const [country, zones] of Object.entries(COUNTRY_ZONES)) {
      for (const z of zones) if (!zoneCountries.has(z)) zoneCountries.set(z, country);
    }
  }
  // A link ("US/Eastern") is looked up by the zone it stands for.
  const canonical = canonicalZone(zone) ?? zone;
  return zoneCountries.get(zone) ?? zoneCountries.get(canonical);
}

/** The numeric date order of the country a time zone is in; 'unknown' for UTC, mixed countries and odd zones. */
export function dateOrderOfZone(zone: string): DateOrder {
  const country = countryOfZone(zone);
  if (!country || MIXED.has(country)) return 'unknown';
  return MONTH_FIRST.has(country) ? 'month-first' : 'day-first';
}

/** A day and month written with a dot and no year, "12.06" (the when-parser's tokens keep it whole). */
export const DOTTED_PAIR = /^(\d{1,2})\.(\d{2})$/;

/** A token that looks like a written date: "6/12", "12/6/26", "12.06" (12.06.2026 arrives as 12/06/2026), "2026-06-12". */
export function isNumericDateToken(token: string): boolean {
  return /^\d{1,2}\/\d{1,2}(?:\/(?:\d{2}|\d{4}))?$/.test(token) || /^\d{4}-\d{1,2}-\d{1,2}$/.test(token) || DOTTED_PAIR.test(token);
}

/**
 * The day a numeric date token names, from `today`; without a year the next such day (this year or the next).
 * null when the token is no real date, AMBIGUOUS when the order is unknown and both readings differ.
 */
export function numericDate(token: string, today: DateTime, order: DateOrder): DateTime | typeof AMBIGUOUS | null {
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(token);
  if (iso) return dayOf(today, Number(iso[1]), Number(iso[2]), Number(iso[3]));
  const dotted = DOTTED_PAIR.exec(token);
  if (dotted) return dottedDate(today, Number(dotted[1]), Number(dotted[2]), order);
  const slash = /^(\d{1,2})\/(\d{1,2})(?:\/(\d{2}|\d{4}))?$/.exec(token);
  if (!slash) return null;
  const [a, b] = [Number(slash[1]), Number(slash[2])];
  const year = slash[3] === undefined ? undefined : slash[3].length === 2 ? 2000 + Number(slash[3]) : Number(slash[3]);
  const monthFirst = dayOf(today, year, a, b);
  const dayFirst = dayOf(today, year, b, a);
  if (!monthFirst || !dayFirst) return monthFirst ?? dayFirst; // only one reading is a date: nothing to guess
  if (order === 'month-first') return monthFirst;
  if (order === 'day-first') return dayFirst;
  return +monthFirst === +dayFirst ? monthFirst : AMBIGUOUS;
}

/** "12.06": day.month where the country writes dates day first; no date where it writes month first (a time there). */
function dottedDate(today: DateTime, a: number, b: number, order: DateOrder): DateTime | typeof AMBIGUOUS | null {
  if (order === 'month-first') return null;
  const dayFirst = dayOf(today, undefined, b, a);
  if (!dayFirst || order === 'day-first') return dayFirst;
  const monthFirst = dayOf(today, undefined, a, b);
  return monthFirst && +monthFirst !== +dayFirst ? AMBIGUOUS : dayFirst;
}

/**
 * A real calendar day; without a year the next one on or after `today` (this year's, else next year's: a 29 February
 * that next year lacks is no date, not the 28th).
 */
function dayOf(today: DateTime, year: number | undefined, month: number, day: number): DateTime | null {
  const on = (y: number): DateTime | null => {
    const at = DateTime.fromObject({ year: y, month, day }, { zone: today.zone });
    return at.isValid ? at : null;
  };
  if (year !== undefined) return on(year);
  const thisYear = on(today.year);
  return thisYear && thisYear >= today ? thisYear : on(today.year + 1);
}
