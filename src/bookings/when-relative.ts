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

/** Units said right after a day for that day a week or two on: "Friday week", "tomorrow week", "Monday fortnight". */
const WEEKS_AFTER_DAY = new Set(['week', 'fortnight']);

/**
 * A length of time said right after a day, that day moved on by it (British "Friday week" = a week on Friday, "Monday
 * fortnight"; Russian "во вторник через неделю", "в пятницу через две недели"): the span and how many tokens it took
 * from `i`. Not "Friday, week after next" (the week after next, another date).
 */
export function laterByAt(tokens: string[], i: number): { span: DurationLikeObject; length: number } | null {
  const t = tokens[i] ?? '';
  if (WEEKS_AFTER_DAY.has(t) && tokens[i + 1] !== 'after') return { span: { weeks: UNITS[t]![1] }, length: 1 };
  if (t !== 'через') return null;
  const span = spanAt(tokens, i + 1, true);
  return span ? { span: span.span, length: 1 + span.length } : null;
}

/** Which words of a unit name a whole week, month or year ("next week", "в следующем месяце", "на следующий год"). */
const PERIOD_WORDS: Record<string, Period> = {
  week: 'week', неделе: 'week', неделю: 'week', недели: 'week',
  month: 'month', месяц: 'month', месяца: 'month', месяце: 'month',
  year: 'year', год: 'year', года: 'year', году: 'year',
};

/** "next", "следующий", "в будущем году". */
export const NEXT_PERIOD_WORDS = new Set([
  'next', 'следующий', 'следующую', 'следующее', 'следующей', 'следующая', 'следующего', 'следующем',
  'будущий', 'будущую', 'будущей', 'будущего', 'будущем',
]);
/** "this month", "в этом году", "текущего месяца" (a week has its own "this week", read with a weekday only). */
const THIS_PERIOD_WORDS = new Set(['this', 'этот', 'этом', 'этого', 'этой', 'текущий', 'текущем', 'текущего', 'текущей']);

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
  const whole = wholePeriodAt(tokens, i, today);
  if (!whole || whole.ahead === 0) return whole && whole.period !== 'week' ? { ...whole, from: today } : null;
  return whole;
}

/** The week, month or year `ahead` of today's (0: this one), whole. */
function periodWindow(today: DateTime, period: Period, ahead: number): { from: DateTime; to: DateTime } {
  const from = today.startOf(period).plus({ [`${period}s`]: ahead });
  return { from, to: from.plus({ [`${period}s`]: 1 }) };
}

/** "next month", "the week after next", "this year", "этой недели": the whole period, and how far ahead it is. */
function wholePeriodAt(tokens: string[], i: number, today: DateTime): (PeriodSaid & { ahead: number }) | null {
  const t = tokens[i] ?? '';
  // "the week after next", "the month after next"
  const unit = PERIOD_WORDS[t];
  if (unit && tokens[i + 1] === 'after' && tokens[i + 2] === 'next') return { period: unit, ...periodWindow(today, unit, 2), idx: [i, i + 1, i + 2], ahead: 2 };
  const period = PERIOD_WORDS[tokens[i + 1] ?? ''];
  if (!period) return null;
  const ahead = NEXT_PERIOD_WORDS.has(t) ? 1 : THIS_PERIOD_WORDS.has(t) ? 0 : null;
  return ahead === null ? null : { period, ...periodWindow(today, period, ahead), idx: [i, i + 1], ahead };
}

type Portion = 'beginning' | 'middle' | 'end' | 'later';

/** Words for a part of a period: "the end of next month", "early next week", "в конце месяца", "в начале года". */
const PORTION_OF: Record<string, Portion> = { beginning: 'beginning', start: 'beginning', middle: 'middle', end: 'end' };
const PORTION_BEFORE: Record<string, Portion> = { early: 'beginning', mid: 'middle', late: 'end', later: 'later' };
const RU_PORTION: Record<string, Portion> = { начале: 'beginning', середине: 'middle', конце: 'end' };
/** A period named alone after "the end of" / "в конце": this one ("the end of the month", "в конце недели"). */
const BARE_PERIOD: Record<string, Period> = { week: 'week', month: 'month', year: 'year', недели: 'week', месяца: 'month', года: 'year' };

/**
 * Where a part of a period falls, in days from its start (a week: Monday–Wednesday, Wednesday–Friday, Thursday–Sunday;
 * a month: the 1st–10th, 11th–20th, 21st–end; a year: January, June–July, December).
 */
function portionWindow(whole: { from: DateTime; to: DateTime }, period: Period, portion: Portion, today: DateTime): { from: DateTime; to: DateTime } {
  if (portion === 'later') return { from: today.plus({ days: 1 }), to: whole.to };
  if (period === 'week') {
    const [a, b] = portion === 'beginning' ? [0, 3] : portion === 'middle' ? [2, 5] : [3, 7];
    return { from: whole.from.plus({ days: a }), to: whole.from.plus({ days: b }) };
  }
  if (period === 'month') {
    if (portion === 'end') return { from: whole.from.plus({ days: 20 }), to: whole.to };
    const a = portion === 'beginning' ? 0 : 10;
    return { from: whole.from.plus({ days: a }), to: whole.from.plus({ days: a + 10 }) };
  }
  const [a, b] = portion === 'beginning' ? [0, 1] : portion === 'middle' ? [5, 7] : [11, 12];
  return { from: whole.from.plus({ months: a }), to: whole.from.plus({ months: b }) };
}

/**
 * A part of a week, month or year at `i`: "[at] [the] end of [the / this / next] month", "the beginning of next week",
 * "the middle of next month", "early next week", "late next month", "later this week", "в конце месяца", "в начале
 * следующего месяца", "в середине следующей недели". Its window starts no earlier than today; 'past' when it has
 * ended ("the beginning of this month" on the 25th: which day is asked).
 */
export function portionAt(tokens: string[], i: number, today: DateTime): PeriodSaid | 'past' | null {
  const t = tokens[i] ?? '';
  let portion: Portion | undefined;
  let at: number;
  if (PORTION_OF[t] && tokens[i + 1] === 'of') [portion, at] = [PORTION_OF[t], tokens[i + 2] === 'the' ? i + 3 : i + 2];
  else if (RU_PORTION[t]) [portion, at] = [RU_PORTION[t], i + 1];
  else if (PORTION_BEFORE[t]) [portion, at] = [PORTION_BEFORE[t], i + 1];
  else return null;
  const named = wholePeriodAt(tokens, at, today);
  const bare = PORTION_BEFORE[t] ? undefined : BARE_PERIOD[tokens[at] ?? ''];
  const whole = named ?? (bare ? { period: bare, ...periodWindow(today, bare, 0), idx: [at], ahead: 0 } : null);
  // "later" is said of this period only ("later this week"); "early" / "late" need a period named ("early next week").
  if (!whole || (portion === 'later' && whole.ahead !== 0)) return null;
  const part = portionWindow(whole, whole.period, portion, today);
  const from = part.from < today ? today : part.from;
  if (from >= part.to) return 'past';
  const idx = Array.from({ length: Math.max(...whole.idx) - i + 1 }, (_, k) => i + k);
  return { period: whole.period, from, to: part.to, idx };
}

/** Words before "weekend" / "выходные" that name the coming one: "this weekend", "on the weekend", "на выходных". */
const THIS_WEEKEND_BEFORE = new Set(['this', 'the', 'coming', 'эти', 'этих', 'ближайшие', 'ближайших', 'на', 'в']);
/** "next weekend", "в следующие выходные", "на следующих выходных", "в будущие выходные". */
const NEXT_WEEKEND_BEFORE = new Set(['next', 'следующие', 'следующих', 'будущие', 'будущих']);
const WEEKEND_WORDS = new Set(['weekend', 'выходные', 'выходных']);

/**
 * A weekend named at `i`, its Saturday and Sunday: "this weekend", "on the weekend", "на выходных", "в эти выходные"
 * — the coming one (from today when it is one of them); "next weekend", "в следующие выходные" — next week's, a week
 * after this week's, as "next week" is the week after this one (said on a Sunday, the coming Saturday); "the weekend
 * after next" — the one after that. The days offered name the dates, so a caller who meant another weekend hears it.
 */
export function weekendAt(tokens: string[], i: number, today: DateTime): PeriodSaid | null {
  if (!WEEKEND_WORDS.has(tokens[i] ?? '')) return null;
  const saturday = today.startOf('week').plus({ days: 5 });
  const weeksOn = (weeks: number, idx: number[]): PeriodSaid => {
    const from = saturday.plus({ weeks });
    return { period: 'week', from: today > from ? today : from, to: from.plus({ days: 2 }), idx };
  };
  const before = tokens[i - 1] ?? '';
  // "the weekend after next"
  if (tokens[i + 1] === 'after' && tokens[i + 2] === 'next') return weeksOn(2, [...(before === 'the' ? [i - 1] : []), i, i + 1, i + 2]);
  if (NEXT_WEEKEND_BEFORE.has(before)) return weeksOn(1, THIS_WEEKEND_BEFORE.has(tokens[i - 2] ?? '') ? [i - 2, i - 1, i] : [i - 1, i]);
  if (!THIS_WEEKEND_BEFORE.has(before)) return null;
  return weeksOn(0, THIS_WEEKEND_BEFORE.has(tokens[i - 2] ?? '') && before !== tokens[i - 2] ? [i - 2, i - 1, i] : [i - 1, i]);
}
