/**
 * Dates said relative to today, for the when-parser (its tokens: lower case, number words already digits). A length
 * of time ahead names a day: "in two months", "in 3 weeks' time", "a year from now", "через два месяца", "через
 * полгода", "через пару недель". A whole week, month or year names a window: "next month", "в следующем году", "the
 * month after next", "this month". Each is what the caller means however far ahead it is: past how far ahead the
 * business books, the agent says so rather than "didn't catch that".
 */
import { DateTime, type DurationLikeObject } from 'luxon';

export type Period = 'week' | 'month' | 'year';

type Unit = 'days' | 'weeks' | 'months' | 'years';

/** A unit of a length of time, and how many of it one word stands for ("fortnight" = 2 weeks). */
const UNITS: Record<string, [Unit, number]> = {
  day: ['days', 1], days: ['days', 1], день: ['days', 1], дня: ['days', 1], дней: ['days', 1], сутки: ['days', 1], суток: ['days', 1],
  week: ['weeks', 1], weeks: ['weeks', 1], неделю: ['weeks', 1], недели: ['weeks', 1], недель: ['weeks', 1], неделя: ['weeks', 1],
  fortnight: ['weeks', 2], fortnights: ['weeks', 2],
  month: ['months', 1], months: ['months', 1], месяц: ['months', 1], месяца: ['months', 1], месяцев: ['months', 1],
  year: ['years', 1], years: ['years', 1], год: ['years', 1], года: ['years', 1], лет: ['years', 1],
};

/** The most of a unit read as a date (a year of days, ten years): anything more is no booking anyone asks for. */
const MOST: Record<Unit, number> = { days: 366, weeks: 53, months: 120, years: 10 };

/** The words of "a" or "two" before a unit: 1, 2 ("a couple of", "пару"). */
const ONE_WORDS = new Set(['a', 'an', '1']);
const COUPLE_WORDS = new Set(['пару', 'пара']);

/** "weeks'" / "month's" before "time" ("in three weeks' time", "in a month's time"): the unit. */
const unitOf = (tokens: string[], i: number): { unit: [Unit, number]; length: number } | null => {
  const word = tokens[i] ?? '';
  const direct = UNITS[word];
  if (direct) return { unit: direct, length: tokens[i + 1] === 'time' && /'s?$/.test(word) ? 2 : 1 };
  const possessive = UNITS[word.replace(/'s?$/, '')];
  return possessive && tokens[i + 1] === 'time' ? { unit: possessive, length: 2 } : null;
};

/**
 * A length of time said at `i` — "3 days", "a week", "two months", "a couple of weeks", "пару недель", "half a year",
 * "полгода" — and how many tokens it took; `bare`: the count may be left out ("через месяц", "через год").
 */
export function spanAt(tokens: string[], i: number, bare = false): { span: DurationLikeObject; length: number } | null {
  const t = tokens[i] ?? '';
  if (t === 'полгода') return { span: { months: 6 }, length: 1 };
  if (t === 'half' && ONE_WORDS.has(tokens[i + 1] ?? '') && tokens[i + 2] === 'year') return { span: { months: 6 }, length: 3 };
  let count: number | null = null;
  let at = i + 1;
  if (/^\d{1,3}$/.test(t)) count = Number(t);
  else if (ONE_WORDS.has(t) && tokens[i + 1] === 'couple' && tokens[i + 2] === 'of') [count, at] = [2, i + 3];
  else if (t === 'couple' && tokens[i + 1] === 'of') [count, at] = [2, i + 2];
  else if (COUPLE_WORDS.has(t)) count = 2;
  else if (ONE_WORDS.has(t)) count = 1;
  else if (bare) [count, at] = [1, i];
  const unit = count === null ? null : unitOf(tokens, at);
  if (!unit || count === null || count < 1) return null;
  const [name, times] = unit.unit;
  const n = count * times;
  if (n > MOST[name]) return null;
  return { span: { [name]: n }, length: at - i + unit.length };
}

/** Which words of a unit name a whole week, month or year ("next week", "в следующем месяце", "на следующий год"). */
const PERIOD_WORDS: Record<string, Period> = {
  week: 'week', неделе: 'week', неделю: 'week',
  month: 'month', месяц: 'month', месяца: 'month', месяце: 'month',
  year: 'year', год: 'year', года: 'year', году: 'year',
};

/** "next", "следующий", "в будущем году". */
export const NEXT_PERIOD_WORDS = new Set([
  'next', 'следующий', 'следующую', 'следующее', 'следующей', 'следующая', 'следующего', 'следующем',
  'будущий', 'будущую', 'будущей', 'будущего', 'будущем',
]);
/** "this month", "в этом году", "текущего месяца" (a week has its own "this week", read with a weekday only). */
const THIS_PERIOD_WORDS = new Set(['this', 'этот', 'этом', 'этого', 'текущий', 'текущем', 'текущего']);

export interface PeriodSaid {
  period: Period;
  /** The window: from the period's first day (today for this one's) to the next period's first day. */
  from: DateTime;
  to: DateTime;
  /** The tokens it took. */
  idx: number[];
}

/**
 * A whole week, month or year named at `i`: "next month", "в следующем году", "the month after next", "this month",
 * "этом году". Null for anything else — "this week" too, which names a day only with a weekday (the when-parser's).
 */
export function periodAt(tokens: string[], i: number, today: DateTime): PeriodSaid | null {
  const t = tokens[i] ?? '';
  const unitWord = tokens[i + 1] ?? '';
  const start = (period: Period, ahead: number): DateTime => today.startOf(period).plus({ [`${period}s`]: ahead });
  // "the week after next", "the month after next"
  const unit = PERIOD_WORDS[t];
  if (unit && tokens[i + 1] === 'after' && tokens[i + 2] === 'next') {
    const from = start(unit, 2);
    return { period: unit, from, to: from.plus({ [`${unit}s`]: 1 }), idx: [i, i + 1, i + 2] };
  }
  const period = PERIOD_WORDS[unitWord];
  if (!period) return null;
  if (NEXT_PERIOD_WORDS.has(t)) {
    const from = start(period, 1);
    return { period, from, to: from.plus({ [`${period}s`]: 1 }), idx: [i, i + 1] };
  }
  if (THIS_PERIOD_WORDS.has(t) && period !== 'week') return { period, from: today, to: start(period, 1), idx: [i, i + 1] };
  return null;
}
