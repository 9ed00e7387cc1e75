/**
 * Turns a caller's words about a time ("tomorrow at 3 pm", "в понедельник утром", ISO 8601) into either an
 * exact local time or a window, relative to `now` in the business time zone. English and Russian, digits
 * or number words. Deliberately small: a date part, a time part and a part of day, each found by scanning
 * tokens; anything it cannot place returns null so the agent asks again — so does a number, a date or a word of a
 * date or time the parse left unread ("at 11 or 12", "next month at 3"), since booking a guess is worse than
 * asking. A self-correction ("at 10, no wait, 11") is read part by part, the later part winning.
 */
import { DateTime } from 'luxon';
import { localAt } from './local-time.js';
import { AMBIGUOUS, dateOrderOfZone, DOTTED_PAIR, isNumericDateToken, numericDate, type DateOrder } from './when-numeric-date.js';
import { laterByAt, periodAt, portionAt, spanAt, weekendAt, type Period } from './when-relative.js';

/** A part of one day, the whole day, or a whole week, month or year ("next week", "next month", "next year"). */
export type DayPart = 'morning' | 'midday' | 'afternoon' | 'evening' | 'day' | Period;
export type { Period } from './when-relative.js';
/** Whether a window is a whole week, month or year (no one day of it was said). */
export const isPeriod = (part: DayPart): part is Period => part === 'week' || part === 'month' || part === 'year';

export type WhenResult =
  | { kind: 'exact'; start: DateTime }
  | { kind: 'window'; from: DateTime; to: DateTime; part: DayPart };

export interface ParseWhenOptions {
  now: Date | number;
  zone: string;
  /** A time without a date lands on this local day (YYYY-MM-DD): a correction "no, eleven" keeps the day. */
  defaultDay?: string | undefined;
  /** A lone number is an hour ("eleven", "в 11") — when the bot just asked for a time. */
  bareHour?: boolean | undefined;
}

const PART_HOURS: Record<Exclude<DayPart, Period>, [number, number]> = {
  morning: [6, 12],
  /** Lunchtime: "at lunch", "в обед". */
  midday: [12, 14],
  afternoon: [12, 17],
  evening: [17, 24],
  day: [0, 24],
};

// ---------- vocabulary ----------

/** Ordinals: days of the month ("the fifteenth"), never an hour or minutes ("the second one" picks an offer). */
const EN_ORDINALS: Record<string, number> = {
  first: 1, second: 2, third: 3, fourth: 4, fifth: 5, sixth: 6, seventh: 7, eighth: 8, ninth: 9, tenth: 10,
  eleventh: 11, twelfth: 12, thirteenth: 13, fourteenth: 14, fifteenth: 15, sixteenth: 16, seventeenth: 17,
  eighteenth: 18, nineteenth: 19, twentieth: 20, thirtieth: 30,
};

const EN_NUMBERS: Record<string, number> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18,
  nineteen: 19, twenty: 20, thirty: 30, forty: 40, fifty: 50,
  ...EN_ORDINALS,
};

const RU_NUMBERS: Record<string, number> = {
  ноль: 0, один: 1, одна: 1, одного: 1, одной: 1, два: 2, две: 2, двух: 2, три: 3, трех: 3, четыре: 4, четырех: 4,
  пять: 5, пяти: 5, шесть: 6, шести: 6, семь: 7, семи: 7, восемь: 8, восьми: 8, девять: 9, девяти: 9,
  десять: 10, десяти: 10, одиннадцать: 11, одиннадцати: 11, двенадцать: 12, двенадцати: 12,
  тринадцать: 13, тринадцати: 13, четырнадцать: 14, четырнадцати: 14, пятнадцать: 15, пятнадцати: 15,
  шестнадцать: 16, шестнадцати: 16, семнадцать: 17, семнадцати: 17, восемнадцать: 18, восемнадцати: 18,
  девятнадцать: 19, девятнадцати: 19, двадцать: 20, двадцати: 20, тридцать: 30, тридцати: 30, сорок: 40,
  сорока: 40, пятьдесят: 50, пятидесяти: 50,
  // genitive ordinals: dates ("третьего декабря") and "половина третьего"
  первого: 1, второго: 2, третьего: 3, четвертого: 4, пятого: 5, шестого: 6, седьмого: 7, восьмого: 8,
  девятого: 9, десятого: 10, одиннадцатого: 11, двенадцатого: 12, тринадцатого: 13, четырнадцатого: 14,
  пятнадцатого: 15, шестнадцатого: 16, семнадцатого: 17, восемнадцатого: 18, девятнадцатого: 19,
  двадцатого: 20, тридцатого: 30,
};

/** Words that are ordinals (for "половина третьего" = 2:30). */
const RU_ORDINAL_GENITIVE = new Set(
  ['первого', 'второго', 'третьего', 'четвертого', 'пятого', 'шестого', 'седьмого', 'восьмого', 'девятого',
    'десятого', 'одиннадцатого', 'двенадцатого'],
);

const MONTHS: Record<string, number> = {
  january: 1, jan: 1, february: 2, feb: 2, march: 3, mar: 3, april: 4, apr: 4, may: 5, june: 6, jun: 6,
  july: 7, jul: 7, august: 8, aug: 8, september: 9, sep: 9, sept: 9, october: 10, oct: 10, november: 11,
  nov: 11, december: 12, dec: 12,
  января: 1, январь: 1, февраля: 2, февраль: 2, марта: 3, март: 3, апреля: 4, апрель: 4, мая: 5, май: 5,
  июня: 6, июнь: 6, июля: 7, июль: 7, августа: 8, август: 8, сентября: 9, сентябрь: 9, октября: 10,
  октябрь: 10, ноября: 11, ноябрь: 11, декабря: 12, декабрь: 12,
};

const WEEKDAY_WORDS: Record<string, number> = {
  monday: 1, mon: 1, tuesday: 2, tue: 2, tues: 2, wednesday: 3, wed: 3, thursday: 4, thu: 4, thurs: 4,
  friday: 5, fri: 5, saturday: 6, sat: 6, sunday: 7, sun: 7,
  понедельник: 1, понедельника: 1, вторник: 2, вторника: 2, среда: 3, среду: 3, среды: 3, четверг: 4, четверга: 4,
  пятница: 5, пятницу: 5, пятницы: 5, суббота: 6, субботу: 6, субботы: 6, воскресенье: 7, воскресенья: 7,
};

const PM_WORDS = new Set(['pm', 'p.m.', 'p.m', 'дня', 'вечера']);
const AM_WORDS = new Set(['am', 'a.m.', 'a.m', 'утра']);
/**
 * "11 at night", "в 11 ночи": a late hour, the night's small hours ("2 ночи" = 2:00) or midnight ("12 at night").
 * How many tokens the marker at `i` takes (0 when none).
 */
const nightMarkerAt = (tokens: string[], i: number): number =>
  tokens[i] === 'ночи' ? 1 : tokens[i] === 'at' && tokens[i + 1] === 'night' ? 2 : 0;
/** The night's small hours end at 5:00: "5 at night" is 17:00, "4 at night" 4:00. */
const SMALL_HOURS_END = 5;
/** The clock hour a 12-hour hour said "at night" is: 5–11 the evening's, 12 midnight, 1–4 the small hours. */
const nightHour = (hour: number): number => (hour === 12 ? 0 : hour >= SMALL_HOURS_END && hour < 12 ? hour + 12 : hour);
/** Whether the word(s) at `i` say which half of the day an hour is in: "pm", "утра", "at night". */
const saysHalfOfDayAt = (tokens: string[], i: number): boolean =>
  PM_WORDS.has(tokens[i] ?? '') || AM_WORDS.has(tokens[i] ?? '') || nightMarkerAt(tokens, i) > 0;
/** "9ish", "nine-ish" (split off in tokenize): said after an hour as "o'clock" is, and read as "around 9" is. */
const APPROX_WORD = 'ish';
const HOUR_WORDS = new Set(["o'clock", 'oclock', 'час', 'часа', 'часов', 'h', APPROX_WORD]);
const TIME_PREPOSITIONS = new Set(['at', 'в', 'во', 'к', 'around', 'about', 'около', 'by']);
const DAY_UNIT_WORDS = new Set(['day', 'days', 'день', 'дня', 'дней']);
/** What may follow "the 15th" when it is a day of the month. */
const DATE_ENDS = new Set(['', 'at', 'in', 'for', 'around', 'about', 'by', 'please', 'morning', 'afternoon', 'evening', 'then']);
/** "not tomorrow, Thursday": a date said only to be refused. */
const NEGATIONS = new Set(['not', 'не']);
const NEXT_WORDS = new Set(['next', 'следующий', 'следующую', 'следующее', 'следующей', 'следующая']);
/** "this coming Friday", "в ближайшую пятницу": the next such weekday, as "next Friday" is here. */
const COMING_WORDS = new Set(['coming', 'ближайший', 'ближайшую', 'ближайшее', 'ближайшей', 'ближайшая']);
const THIS_WORDS = new Set(['this', 'эту', 'этот', 'это', 'этим']);
/** "this week", "на этой неделе", "эту неделю". */
const THIS_WEEK_WORDS = new Set(['this', 'этой', 'эту']);
/** "next month", "следующего месяца", "в следующем месяце"; "this month", "этого месяца". */
const NEXT_MONTH_WORDS = new Set(['next', 'следующего', 'следующем', 'следующий', 'будущего', 'будущем']);
const THIS_MONTH_WORDS = new Set(['this', 'этого', 'этом', 'текущего', 'текущем']);
const MONTH_UNIT_WORDS = new Set(['month', 'месяца', 'месяце', 'месяц']);

/**
 * What a caller says to take back what came before ("tomorrow at 10, no wait, 11"; "в 10, то есть в 11"): the words
 * after the last of these win. "no wait" is "no" followed by a word that is no time.
 */
const CORRECTIONS: readonly (readonly string[])[] = [
  ['no'], ['sorry'], ['i', 'mean'], ['actually'], ['or', 'rather'], ['нет'], ['то', 'есть'], ['вернее'], ['точнее'],
];
/** A number before these counts something else ("for 2 people", "for 2 hours"): it is no time or date left unread. */
const COUNTED_WORDS = new Set([
  'people', 'persons', 'person', 'guests', 'adults', 'kids', 'children', 'hours', 'hour',
  'человек', 'человека', 'гостей', 'взрослых', 'детей',
]);
/** Whether the number at `i` counts people or hours ("2 people", "3 of us") rather than naming a time or date. */
const countsSomething = (tokens: string[], i: number): boolean =>
  COUNTED_WORDS.has(tokens[i + 1] ?? '') || (tokens[i + 1] === 'of' && ['us', 'them', 'you'].includes(tokens[i + 2] ?? ''));
/** Words for a date on their own; one the parse left unread means two dates were said. */
const DAY_WORDS = new Set(['today', 'tomorrow', 'tonight', 'сегодня', 'завтра', 'послезавтра']);

const PART_WORDS: Record<string, Exclude<DayPart, Period | 'day'>> = {
  morning: 'morning', утром: 'morning', утро: 'morning',
  afternoon: 'afternoon', днем: 'afternoon',
  evening: 'evening', tonight: 'evening', вечером: 'evening', вечер: 'evening',
  // "ближе к вечеру", "к утру"
  вечеру: 'evening', утру: 'morning',
};
/** "at lunch", "around lunch", "в обед", "к обеду": lunchtime — not "after my lunch" (a word between). */
const LUNCH_BEFORE: Record<string, ReadonlySet<string>> = {
  lunch: new Set(['at', 'around', 'about', 'over', 'by']), обед: new Set(['в', 'на']), обеду: new Set(['к']),
};

// ---------- tokenising ----------

interface Tokens {
  tokens: string[];
  /** Where "one" or "a second" was said: a number word that is as often no number ("can I book one"). */
  loose: Set<number>;
  /** Where an ordinal was said ("second", "2nd", "15-го"): a day of the month or a pick, never an hour or minutes. */
  ordinal: Set<number>;
}

/** "15th", "2nd", "15-го", "2-е": a day of the month written with its ordinal ending. */
const DIGIT_ORDINAL = /^(\d+)-?(?:ого|го|ое|е|st|nd|rd|th)$/u;
/**
 * Words after which "one" is a pronoun, not a number: "the second one", "that one", "the last one", "the 2nd one"
 * (ordinals are checked apart) — unless a time goes on after it ("the one thirty", "the one o'clock").
 */
const ONE_AS_PRONOUN_AFTER = new Set([
  'the', 'that', 'this', 'which', 'other', 'another', 'last', 'next', 'earlier', 'later', 'earliest', 'latest', 'same', 'either', 'any',
]);
const isOrdinalWord = (w: string | undefined): boolean => w !== undefined && (EN_ORDINALS[w] !== undefined || DIGIT_ORDINAL.test(w));
/** Whether the word after a number makes it a time: minutes ("thirty", "30"), "o'clock", "pm". */
const goesOnAsTime = (w: string | undefined): boolean =>
  w !== undefined && (EN_NUMBERS[w] !== undefined || /^\d/.test(w) || HOUR_WORDS.has(w) || PM_WORDS.has(w) || AM_WORDS.has(w));

/** An hour said with "ish" ("9ish", "10:30-ish", "nine-ish", "twelvish"). */
const APPROX_HOUR = /\b(\d{1,2}(?::\d{2})?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twelv|thirty|fifteen|forty|forty-five)-?ish\b/g;
/** "first thing" as one token: the start of the working day. */
const FIRST_THING = 'first-thing';

/**
 * "twenty-first", "thirty-one": two number words written as one, split so they join as "twenty first" does; "half-three"
 * as "half three" is.
 */
function splitHyphenatedNumber(word: string): string[] {
  const parts = word.split('-');
  const numbers = parts.length === 2 && parts.every((p, k) => EN_NUMBERS[p] !== undefined || (k === 0 && p === 'half'));
  return numbers ? parts : [word];
}

function tokenize(text: string): Tokens {
  const cleaned = text
    .toLowerCase()
    .replace(/ё/g, 'е')
    // "12.06.2026" is a date, not 12:06 and a year: written as "12/06/2026", read by the locale's order.
    .replace(/\b(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})\b/g, '$1/$2/$3')
    .replace(/(\d)(am|pm|a\.m\.|p\.m\.)/g, '$1 $2')
    // "17h", "17h30" (a 24-hour clock written the French way): "17 h", "17:30" — not a length ("for 4h").
    .replace(/\b([01]?\d|2[0-3])h([0-5]\d)?\b/g, (whole: string, h: string, m: string | undefined, at: number, all: string) =>
      /(?:^|\s)(?:for|на)\s+$/.test(all.slice(0, at)) ? whole : m ? `${h}:${m}` : `${h} h`)
    // "17-00", "в 9-30" (the Russian way of writing a time): "17:00" — on the hour, or said as a time; "10-12" alone
    // may be a range.
    .replace(/(?<![\d/.:-])([01]?\d|2[0-3])-([0-5]\d)(?![\d/.:-])/g, (whole: string, h: string, m: string, at: number, all: string) =>
      m === '00' || /(?:^|\s)(?:в|во|к|at|by|around)\s+$/.test(all.slice(0, at)) ? `${h}:${m}` : whole)
    .replace(/\b([ap]) m\b/g, '$1m')
    // "9ish", "9:30ish", "nine-ish", "twelvish": the hour and "ish" apart — not "English", "dish", "Irish".
    .replace(APPROX_HOUR, (_whole: string, hour: string) => `${hour === 'twelv' ? 'twelve' : hour} ${APPROX_WORD}`)
    // "first thing tomorrow": one word, a part of the day (findPart) — not the ordinal "first" (a pick or a day).
    .replace(/\bfirst thing\b/g, FIRST_THING)
    // "12.06" stays whole: a date or a time, decided per piece (readDottedPairs); a dot ending a sentence goes.
    .replace(/[,!?;"()«»]/g, ' ')
    .replace(/(?<![ap])\.(?!m)(?!(?<=\d\.)\d\d\b)/g, ' ');
  const raw = cleaned.split(/\s+/).filter(Boolean).flatMap(splitHyphenatedNumber);
  // Number words → digits, joining tens and units ("twenty five", "двадцать пять").
  const out: string[] = [];
  const loose = new Set<number>();
  const ordinal = new Set<number>();
  for (let i = 0; i < raw.length; i++) {
    const w = raw[i]!;
    const written = DIGIT_ORDINAL.exec(w);
    if (written) {
      ordinal.add(out.length);
      out.push(written[1]!);
      continue;
    }
    const n = EN_NUMBERS[w] ?? RU_NUMBERS[w];
    const pronoun = w === 'one' && (ONE_AS_PRONOUN_AFTER.has(raw[i - 1] ?? '') || isOrdinalWord(raw[i - 1])) && !goesOnAsTime(raw[i + 1]);
    if (n === undefined || RU_ORDINAL_GENITIVE.has(w) || pronoun) {
      out.push(w);
      continue;
    }
    if (w === 'one' || (w === 'second' && (raw[i - 1] === 'a' || raw[i - 1] === 'one'))) loose.add(out.length);
    else if (EN_ORDINALS[w] !== undefined) ordinal.add(out.length);
    const next = raw[i + 1];
    const nextN = next === undefined ? undefined : EN_NUMBERS[next] ?? RU_NUMBERS[next];
    // "twenty five", "twenty first" (an ordinal as a whole); "the twentieth one" joins nothing.
    if (n >= 20 && n % 10 === 0 && EN_ORDINALS[w] === undefined && nextN !== undefined && nextN < 10 && nextN > 0) {
      if (EN_ORDINALS[next!] !== undefined) ordinal.add(out.length);
      out.push(String(n + nextN));
      i++;
    } else {
      out.push(String(n));
    }
  }
  return { tokens: out, loose, ordinal };
}

const isInt = (t: string | undefined): t is string => t !== undefined && /^\d{1,4}$/.test(t);

// ---------- parts ----------

interface DatePart {
  day: DateTime;
  /** "next week", "next month", "next year": the whole of it is the window, from `day` to `to`. */
  period?: { period: Period; to: DateTime };
  /** "this week": a week that has begun, read only with a weekday in it ("Friday this week"). */
  thisWeek?: boolean;
  /** Named by a weekday (1 = Monday): "next week on Friday" is that week's Friday. */
  weekday?: number;
  /** Named by a month and day without a year ("December 12", "12 декабря"): a year said apart places it in that year. */
  yearless?: { month: number; day: number };
}

interface TimePart {
  /** The hour the caller named: 8 in "quarter to eight", 4 in "двадцать минут четвертого". Morning or afternoon is
   * decided on it (as "at eight" would be), and only then is `offset` applied. */
  hour: number;
  /** Minutes from that hour: 30 in "3:30", 20 in "twenty past three", -15 in "quarter to eight". */
  offset: number;
  /** The meridiem was stated (pm/утра…) or implied by a 24-hour clock, so no guessing. */
  explicit: boolean;
  /** Said as the night's ("2 at night", "в 2 ночи"): for today, the small hours of the night that ends it. */
  night?: boolean;
}

/** The day a weekday word names from `today` (the next one; "this Friday" may be today). */
function weekdayAhead(today: DateTime, weekday: number, thisWeek: boolean): DateTime {
  let ahead = (weekday - today.weekday + 7) % 7;
  if (ahead === 0 && !thisWeek) ahead = 7;
  return today.plus({ days: ahead });
}

/** Two ways of naming a date that name different days ("Friday the 13th" on a Saturday, "6/12" where unsure). */
const CONFLICT = Symbol('conflicting dates');

/**
 * The date said, from every way it was named ("Friday, June 12th" names it twice); CONFLICT when they disagree or a
 * numeric date is ambiguous here.
 */
function findDate(tokens: string[], used: Set<number>, today: DateTime, order: DateOrder): DatePart | typeof CONFLICT | null {
  let found: DatePart | null = null;
  for (let i = 0; i < tokens.length; i++) {
    if (used.has(i)) continue;
    const date = dateAt(tokens, i, used, today, order);
    if (date === CONFLICT) return CONFLICT;
    if (!date) continue;
    const merged: DatePart | typeof CONFLICT = found ? sameDate(found, date, today) : date;
    if (merged === CONFLICT) return CONFLICT;
    found = merged;
  }
  return found;
}

/**
 * One date named twice: the same day, a weekday inside "next week" or "this week" (not one already past), a date
 * inside the week, month or year named ("March 3 next year"), or a weekday that a date falls on ("Friday, June 12th",
 * "Friday the 13th"); CONFLICT otherwise — "next month on Friday" is asked again (which Friday?).
 */
function sameDate(a: DatePart, b: DatePart, today: DateTime): DatePart | typeof CONFLICT {
  if (a.period && b.period) return +a.day === +b.day && a.period.period === b.period.period ? a : CONFLICT;
  const [whole, day] = a.period ? [a, b] : b.period ? [b, a] : [null, null];
  if (whole?.period && day) {
    // "December 12 next year", "12 декабря следующего года": that day of the year named, not the next December 12.
    const inYear = whole.period.period === 'year' && day.yearless
      ? DateTime.fromObject({ year: whole.day.year, ...day.yearless }, { zone: day.day.zone })
      : day.day;
    if (!inYear.isValid) return CONFLICT;
    if (day.weekday === undefined) return inYear >= whole.day && inYear < whole.period.to ? { day: inYear } : CONFLICT;
    if (whole.period.period !== 'week') return CONFLICT;
    const inWeek = whole.day.startOf('week').plus({ days: day.weekday - 1 });
    // "Tuesday this week" said on a Wednesday: that day has passed, and any other would be a guess; so is a weekday
    // outside the part of the week said ("Monday at the end of next week").
    return inWeek < today || inWeek < whole.day || inWeek >= whole.period.to ? CONFLICT : { day: inWeek };
  }
  if (+a.day === +b.day) return a;
  const [named, dated] = a.weekday !== undefined ? [a, b] : [b, a];
  return named.weekday !== undefined && dated.weekday === undefined && dated.day.weekday === named.weekday ? dated : CONFLICT;
}

/** The date named by the words starting at `i` (marked used), or null. */
function dateAt(tokens: string[], i: number, used: Set<number>, today: DateTime, order: DateOrder): DatePart | typeof CONFLICT | null {
  const t = tokens[i]!;
  // "not tomorrow, Thursday at 3": the refused date is skipped (and not taken for anything else).
  if (NEGATIONS.has(tokens[i - 1] ?? '') && (DAY_WORDS.has(t) || WEEKDAY_WORDS[t] !== undefined)) {
    used.add(i - 1).add(i);
    return null;
  }
  // "6/12", "12.06.2026", "2026-06-12": the order by the company's country, or asked again where unsure.
  if (isNumericDateToken(t)) {
    const day = numericDate(t, today, order);
    if (day === AMBIGUOUS) return CONFLICT;
    return day ? mark(used, tokens[i - 1] === 'on' ? [i - 1, i] : [i], { day }) : null;
  }
  // "in two weeks", "in 3 days", "in two months", "in a year", "in three weeks' time", "через 2 недели", "через месяц",
  // "через полгода" (the day): never an hour.
  const ahead = t === 'in' || t === 'через' ? spanAt(tokens, i + 1, t === 'через') : null;
  if (ahead) return mark(used, indexes(i, 1 + ahead.length), { day: today.plus(ahead.span) });
  // "a week from today", "two weeks from Friday", "3 days from tomorrow", "a month from now", "a year from today"; the
  // British "a week on Friday", "two weeks on Monday", "a week tomorrow", "a fortnight today".
  const span = spanAt(tokens, i);
  if (span) {
    const link = tokens[i + span.length] ?? '';
    const linked = link === 'from' || link === 'on';
    const baseIdx = i + span.length + (linked ? 1 : 0);
    const base = tokens[baseIdx] ?? '';
    const from = base === 'today' || (base === 'now' && link === 'from') ? today
      : base === 'tomorrow' ? today.plus({ days: 1 })
        : WEEKDAY_WORDS[base] !== undefined && linked ? weekdayAhead(today, WEEKDAY_WORDS[base]!, false) : null;
    // Said "on" or with no word between, only weeks: "a week tomorrow" — not "3 days today", "a day on Friday" (a whole
    // day that Friday).
    if (from && (link === 'from' || span.span.weeks !== undefined)) return mark(used, indexes(i, baseIdx - i + 1), { day: from.plus(span.span) });
  }
  // "the 15th of next month", "пятнадцатого следующего месяца", "next month on the 15th"
  const ofMonth = dayOfNamedMonthAt(tokens, i, used, today);
  if (ofMonth) return ofMonth;
  // "on the 15th", "the fifteenth" (ordinal endings are gone by now): this month's, or next month's once past.
  // Only where a date can end: "the second one" picks an offer, "the 3rd of December" is a month's (below).
  if (t === 'the' && isInt(tokens[i + 1]) && Number(tokens[i + 1]) >= 1 && Number(tokens[i + 1]) <= 31 && DATE_ENDS.has(tokens[i + 2] ?? '')) {
    const dom = Number(tokens[i + 1]);
    if (saidAsPick(tokens, i, dom)) return null;
    const thisMonth = dayOfMonth(today, dom);
    // Past this month: next month's — asked again when next month has no such day (the 30th said on 31 January).
    const day = thisMonth && thisMonth >= today ? thisMonth : dayOfMonth(today.plus({ months: 1 }), dom);
    if (!day) return CONFLICT;
    return mark(used, tokens[i - 1] === 'on' ? [i - 1, i, i + 1] : [i, i + 1], { day });
  }
  if (t === 'today' || t === 'сегодня' || t === 'tonight') return movedOn(tokens, used, [i], { day: today });
  if (t === 'послезавтра') return movedOn(tokens, used, [i], { day: today.plus({ days: 2 }) });
  if (t === 'tomorrow' || t === 'завтра') {
    // "day after tomorrow"
    if (tokens[i - 1] === 'after' && tokens[i - 2] === 'day') return movedOn(tokens, used, [i - 2, i - 1, i], { day: today.plus({ days: 2 }) });
    return movedOn(tokens, used, [i], { day: today.plus({ days: 1 }) });
  }
  // "the end of next month", "early next week", "в конце месяца": that part of it (one already over is asked again).
  const portion = portionAt(tokens, i, today);
  if (portion === 'past') return CONFLICT;
  if (portion) return mark(used, portion.idx, { day: portion.from, period: { period: portion.period, to: portion.to } });
  // "next week", "next month", "в следующем году", "the month after next", "this month": the whole of it; "this
  // weekend", "на выходных": its Saturday and Sunday.
  const period = periodAt(tokens, i, today) ?? weekendAt(tokens, i, today);
  if (period) return mark(used, period.idx, { day: period.from, period: { period: period.period, to: period.to } });
  // "this week", "на этой неделе": a weekday in it is this week's.
  const weekWord = tokens[i + 1] === 'week' || tokens[i + 1] === 'неделе' || tokens[i + 1] === 'неделю';
  if (weekWord && THIS_WEEK_WORDS.has(t)) {
    const monday = today.startOf('week');
    return mark(used, [i, i + 1], { day: monday, period: { period: 'week', to: monday.plus({ weeks: 1 }) }, thisWeek: true });
  }
  const weekday = WEEKDAY_WORDS[t];
  if (weekday !== undefined) {
    const prev = tokens[i - 1] ?? '';
    const thisWeek = THIS_WORDS.has(prev);
    const idx = [i];
    if (NEXT_WORDS.has(prev) || COMING_WORDS.has(prev) || thisWeek || prev === 'on') idx.push(i - 1);
    // "this coming Friday"
    if (COMING_WORDS.has(prev) && THIS_WORDS.has(tokens[i - 2] ?? '')) idx.push(i - 2);
    // "the Tuesday after next": a week after the next Tuesday.
    const afterNext = tokens[i + 1] === 'after' && tokens[i + 2] === 'next' && !thisWeek;
    if (afterNext) idx.push(i + 1, i + 2);
    return movedOn(tokens, used, idx, { day: weekdayAhead(today, weekday, thisWeek).plus({ weeks: afterNext ? 1 : 0 }), weekday });
  }
  const month = MONTHS[t];
  if (month !== undefined) {
    // "december 3", "3 декабря", "3rd of december"
    let dayIdx = -1;
    if (isInt(tokens[i + 1]) && Number(tokens[i + 1]) <= 31 && !used.has(i + 1)) dayIdx = i + 1;
    else if (isInt(tokens[i - 1]) && Number(tokens[i - 1]) <= 31 && !used.has(i - 1)) dayIdx = i - 1;
    else if (tokens[i - 1] === 'of' && isInt(tokens[i - 2]) && !used.has(i - 2)) dayIdx = i - 2;
    let dom: number | undefined;
    if (dayIdx >= 0) dom = Number(tokens[dayIdx]);
    else if (RU_NUMBERS[tokens[i - 1] ?? ''] !== undefined) {
      dayIdx = i - 1;
      dom = RU_NUMBERS[tokens[i - 1]!];
    }
    if (dom === undefined || dom < 1) return null;
    // "June 12 2026", "12 декабря 2026 года"
    const yearIdx = Math.max(i, dayIdx) + 1;
    const year = /^\d{4}$/.test(tokens[yearIdx] ?? '') ? Number(tokens[yearIdx]) : undefined;
    let day = DateTime.fromObject({ year: year ?? today.year, month, day: dom }, { zone: today.zone });
    if (!day.isValid) return null;
    if (day < today && year === undefined) day = day.plus({ years: 1 });
    const idx = [i, dayIdx];
    if (tokens[i - 1] === 'of') idx.push(i - 1);
    if (year !== undefined) idx.push(yearIdx, ...(tokens[yearIdx + 1] === 'года' || tokens[yearIdx + 1] === 'г' ? [yearIdx + 1] : []));
    return mark(used, idx, year === undefined ? { day, yearless: { month, day: dom } } : { day });
  }
  return null;
}

/**
 * A day said at `idx` (marked used), moved on by a length of time said right after it: "Friday week", "tomorrow
 * week", "во вторник через неделю" (when-relative.ts laterByAt). Moved, it is no longer the weekday's next one, so
 * "next week" around it is checked against the day itself.
 */
function movedOn(tokens: string[], used: Set<number>, idx: number[], date: DatePart): DatePart {
  const end = Math.max(...idx) + 1;
  const later = used.has(end) ? null : laterByAt(tokens, end);
  if (!later) return mark(used, idx, date);
  return mark(used, [...idx, ...indexes(end, later.length)], { day: date.day.plus(later.span) });
}

/** What may follow "the first" when it picks one of the times offered ("the first, please"). */
const PICK_ENDS = new Set(['', 'please', 'then']);

/**
 * "the first", "the second, please": as likely a pick among the (up to three) times offered as a day of the month,
 * so neither — the caller is asked again. "on the first", "the first at 10" and "the 15th" are days.
 */
const saidAsPick = (tokens: string[], theIdx: number, dom: number): boolean =>
  dom <= 3 && tokens[theIdx - 1] !== 'on' && PICK_ENDS.has(tokens[theIdx + 2] ?? '');

/** Day `dom` of the month `inMonth` is in; null when that month has no such day (a 31st in April). */
function dayOfMonth(inMonth: DateTime, dom: number): DateTime | null {
  const start = inMonth.startOf('month');
  return dom >= 1 && dom <= (start.daysInMonth ?? 28) ? start.set({ day: dom }) : null;
}

/** A day of the month as said: "15" (from "15th", "fifteenth", "пятнадцатого"), "первого"…"двенадцатого". */
function dayNumberAt(tokens: string[], i: number): number | null {
  const t = tokens[i] ?? '';
  const n = isInt(t) ? Number(t) : RU_ORDINAL_GENITIVE.has(t) ? RU_NUMBERS[t]! : null;
  return n !== null && n >= 1 && n <= 31 ? n : null;
}

/** The first day of the month "next month" / "this month" at `i` names (two tokens), or null. */
function namedMonthAt(tokens: string[], i: number, today: DateTime): DateTime | null {
  if (!MONTH_UNIT_WORDS.has(tokens[i + 1] ?? '')) return null;
  const t = tokens[i] ?? '';
  if (NEXT_MONTH_WORDS.has(t)) return today.plus({ months: 1 }).startOf('month');
  return THIS_MONTH_WORDS.has(t) ? today.startOf('month') : null;
}

/**
 * A day of next (or this) month: "[on] [the] 15th [of] [the] next month", "пятнадцатого [числа] следующего месяца",
 * "[in] next month [on] [the] 15th", "в следующем месяце пятнадцатого". CONFLICT (asked again) when that month has no
 * such day or, this month, it is past.
 */
function dayOfNamedMonthAt(tokens: string[], i: number, used: Set<number>, today: DateTime): DatePart | typeof CONFLICT | null {
  const skip = (k: number, words: readonly string[]): number => (words.includes(tokens[k] ?? '') ? k + 1 : k);
  const free = (from: number, to: number): boolean => Array.from({ length: to - from }, (_, k) => from + k).every((k) => !used.has(k));
  let first = tokens[i - 1] === 'on' ? i - 1 : i;
  let dayIdx: number;
  let month: DateTime | null;
  let end: number;
  const monthFirst = namedMonthAt(tokens, i, today);
  if (monthFirst) {
    if (tokens[i - 1] === 'in' || tokens[i - 1] === 'в') first = i - 1;
    dayIdx = skip(skip(i + 2, ['on']), ['the']);
    month = monthFirst;
    end = skip(dayIdx + 1, ['числа']);
  } else {
    dayIdx = skip(i, ['the']);
    const monthIdx = skip(skip(skip(dayIdx + 1, ['числа']), ['of']), ['the']);
    month = namedMonthAt(tokens, monthIdx, today);
    end = monthIdx + 2;
  }
  const dom = dayNumberAt(tokens, dayIdx);
  if (!month || dom === null || !free(first, end)) return null;
  const day = dayOfMonth(month, dom);
  if (!day || day < today) return CONFLICT;
  return mark(used, Array.from({ length: end - first }, (_, k) => first + k), { day });
}

function findTime({ tokens, ordinal }: Tokens, used: Set<number>, bareHour = false): TimePart | null {
  const found = findTimeStrict(tokens, used);
  if (found || !bareHour) return found;
  // "no, eleven" / "eleven thirty" / "11": a lone number when a time was asked for. An ordinal is no hour or
  // minutes: "the second one" with nothing offered is asked again, not 2:01 PM.
  for (let i = 0; i < tokens.length; i++) {
    if (used.has(i) || !isInt(tokens[i]) || ordinal.has(i) || countsSomething(tokens, i)) continue;
    const h = Number(tokens[i]);
    if (h < 1 || h > 23) continue;
    const m = tokens[i + 1];
    const idx = [i];
    let minute = 0;
    if (isInt(m) && Number(m) < 60 && !used.has(i + 1) && !ordinal.has(i + 1)) {
      minute = Number(m);
      idx.push(i + 1);
    }
    return withMeridiem(tokens, used, idx, idx[idx.length - 1]! + 1, h, minute, h >= 13);
  }
  return null;
}

/** A time said as minutes before or after an hour: where the hour is, and the minutes from it. */
interface HourAndOffset {
  idx: number[];
  /** The first token after the hour (where "pm", "вечера" may follow). */
  after: number;
  hour: number;
  offset: number;
  /** The hour needs no am/pm: a 24-hour clock's ("20 past 13"), or noon or midnight. */
  explicit: boolean;
}

const PAST_WORDS = new Set(['past', 'after']);
const TO_WORDS = new Set(['to', 'till', 'til']);
const MINUTE_WORDS = new Set(['minutes', 'minute', 'минут', 'минуты', 'минуту', 'минута']);
const RU_HALF_WORDS = new Set(['половина', 'половину', 'половине', 'пол']);
/** "полпятого", "пол-шестого": half past the hour before. */
const RU_JOINED_HALF = /^пол-?(.+)$/;
const RANGE_STARTS = new Set(['from', 'between', 'in', 'через', 'с']);

const NOON_WORDS = new Set(['noon', 'midday', 'полдень']);
const MIDNIGHT_WORDS = new Set(['midnight', 'полночь']);

/**
 * The hour a caller counts minutes to or past: a number (1–12 spoken, 0–23 on a 24-hour clock), or noon or
 * midnight ("a quarter to noon" = 11:45, "half past midnight" = 0:30).
 */
function clockHourAt(tokens: string[], i: number): { hour: number; explicit: boolean } | null {
  const t = tokens[i];
  if (NOON_WORDS.has(t ?? '')) return { hour: 12, explicit: true };
  if (MIDNIGHT_WORDS.has(t ?? '')) return { hour: 0, explicit: true };
  return isInt(t) && Number(t) <= 23 ? { hour: Number(t), explicit: Number(t) >= 13 } : null;
}

/** Minutes said by name: "half past", "quarter to", "без четверти". */
const EN_NAMED_MINUTES: Record<string, number> = { half: 30, quarter: 15 };
const RU_NAMED_MINUTES: Record<string, number> = { четверти: 15 };

/**
 * How many minutes the words at `i` count (up to half an hour: "ten", "20 minutes", "a quarter"), and how many
 * tokens that took.
 */
function minutesAt(tokens: string[], i: number, named: Record<string, number>): { minutes: number; length: number } | null {
  const t = tokens[i] ?? '';
  let minutes: number | null = null;
  let length = 1;
  if (named[t] !== undefined) minutes = named[t]!;
  else if (t === 'a' && named[tokens[i + 1] ?? ''] !== undefined) [minutes, length] = [named[tokens[i + 1]!]!, 2];
  else if (isInt(t) && Number(t) >= 1 && Number(t) <= 30) minutes = Number(t);
  if (minutes === null) return null;
  if (MINUTE_WORDS.has(tokens[i + length] ?? '')) length++;
  return { minutes, length };
}

/**
 * "half three", "half 10" (British: half past the hour, never the German half to it): any hour 1–12, morning or
 * afternoon decided on that hour as "at three" is. Not "half 3 hours", "half 2 people", "from half 3 to 5".
 */
function halfHourAt(tokens: string[], i: number): HourAndOffset | null {
  if (tokens[i] !== 'half' || tokens[i - 1] === 'a') return null;
  const hourIdx = i + 1;
  const t = tokens[hourIdx];
  if (!isInt(t) || Number(t) < 1 || Number(t) > 12) return null;
  if (RANGE_STARTS.has(tokens[i - 1] ?? '') || countsSomething(tokens, hourIdx) || MINUTE_WORDS.has(tokens[hourIdx + 1] ?? '')) return null;
  return { idx: [i, hourIdx], after: hourIdx + 1, hour: Number(t), offset: 30, explicit: false };
}

/** "ten past nine", "20 past 3", "five to six", "a quarter to eight", "quarter of eight", "half past two". */
function englishOffsetAt(tokens: string[], i: number): HourAndOffset | null {
  const half = halfHourAt(tokens, i);
  if (half) return half;
  const count = minutesAt(tokens, i, EN_NAMED_MINUTES);
  if (!count) return null;
  const word = tokens[i + count.length] ?? '';
  const hourIdx = i + count.length + 1;
  const clock = clockHourAt(tokens, hourIdx);
  if (clock === null) return null;
  // "from 2 to 3", "2 to 3 people", "in 5 to 10 minutes": a range, not a time.
  if (RANGE_STARTS.has(tokens[i - 1] ?? '') || countsSomething(tokens, hourIdx) || MINUTE_WORDS.has(tokens[hourIdx + 1] ?? '')) return null;
  const idx = Array.from({ length: count.length + 2 }, (_, k) => i + k);
  if (PAST_WORDS.has(word)) return { idx, after: hourIdx + 1, ...clock, offset: count.minutes };
  // "quarter of eight" is the American "quarter to eight"; "half to" is no English.
  const before = TO_WORDS.has(word) || (word === 'of' && (tokens[i] === 'quarter' || tokens[i] === 'a'));
  if (!before || tokens[i] === 'half') return null;
  return { idx, after: hourIdx + 1, ...clock, offset: -count.minutes };
}

/**
 * "без четверти восемь" = 7:45, "без десяти (минут) три" = 2:50, "без пяти час" = 12:55, "без двадцати полночь" =
 * 23:40.
 */
function russianBeforeAt(tokens: string[], i: number): HourAndOffset | null {
  if (tokens[i] !== 'без') return null;
  const count = minutesAt(tokens, i + 1, RU_NAMED_MINUTES);
  if (!count) return null;
  const hourIdx = i + 1 + count.length;
  const clock = tokens[hourIdx] === 'час' ? { hour: 1, explicit: false } : clockHourAt(tokens, hourIdx);
  // "без пяти 0" is no way to say it; "без пяти полночь" is.
  if (clock === null || (clock.hour < 1 && !clock.explicit)) return null;
  const idx = Array.from({ length: count.length + 2 }, (_, k) => i + k);
  return { idx, after: hourIdx + 1, ...clock, offset: -count.minutes };
}

/**
 * Russian counts into the hour named by an ordinal: "половина третьего" = 2:30, "четверть четвертого" = 3:15,
 * "двадцать минут четвертого" = 3:20, "полпятого" = 4:30. The hour named is the ordinal's (3 in "третьего").
 */
function russianIntoHourAt(tokens: string[], i: number): HourAndOffset | null {
  const t = tokens[i]!;
  const joined = RU_JOINED_HALF.exec(t);
  if (joined && RU_ORDINAL_GENITIVE.has(joined[1]!)) return { idx: [i], after: i + 1, hour: clockHourOfOrdinal(joined[1]!), offset: 30, explicit: false };
  let into: number | null = null;
  let hourIdx = i + 1;
  if (RU_HALF_WORDS.has(t)) into = 30;
  else if (t === 'четверть') into = 15;
  else if (isInt(t) && Number(t) >= 1 && Number(t) < 60 && MINUTE_WORDS.has(tokens[i + 1] ?? '')) [into, hourIdx] = [Number(t), i + 2];
  const ordinal = tokens[hourIdx] ?? '';
  if (into === null || !RU_ORDINAL_GENITIVE.has(ordinal)) return null;
  const idx = Array.from({ length: hourIdx - i + 1 }, (_, k) => i + k);
  return { idx, after: hourIdx + 1, hour: clockHourOfOrdinal(ordinal), offset: into, explicit: false };
}

/**
 * "половина восьмого" is half past seven: the ordinal names the hour under way, and the clock shows the one
 * before it. Morning or afternoon is decided on that clock hour, as for "half past seven" — not on the eight
 * the words count towards ("первого" → 12).
 */
function clockHourOfOrdinal(ordinal: string): number {
  const counting = RU_NUMBERS[ordinal]!;
  return counting === 1 ? 12 : counting - 1;
}

function findTimeStrict(tokens: string[], used: Set<number>): TimePart | null {
  for (let i = 0; i < tokens.length; i++) {
    if (used.has(i)) continue;
    const t = tokens[i]!;
    // "в час дня" = 1 pm
    if (t === 'час' && TIME_PREPOSITIONS.has(tokens[i - 1] ?? '')) return withMeridiem(tokens, used, [i], i + 1, 1, 0);

    // Minutes before or after an hour: checked before a plain number or noon, since "at ten past nine" is not "at
    // ten" and "a quarter to noon" is not noon.
    const counted = russianIntoHourAt(tokens, i) ?? englishOffsetAt(tokens, i) ?? russianBeforeAt(tokens, i);
    if (counted && !counted.idx.some((k) => used.has(k))) {
      return withMeridiem(tokens, used, counted.idx, counted.after, counted.hour, counted.offset, counted.explicit);
    }
    // "after noon", "до полудня" are parts of the day (findPart), not noon.
    if (NOON_WORDS.has(t) && !NOON_BOUNDS.has(tokens[i - 1] ?? '')) return mark(used, [i], { hour: 12, offset: 0, explicit: true });
    if (MIDNIGHT_WORDS.has(t)) return mark(used, [i], { hour: 0, offset: 0, explicit: true });

    const clock = /^(\d{1,2}):(\d{2})$/.exec(t);
    if (clock) {
      const h = Number(clock[1]);
      const m = Number(clock[2]);
      if (h > 23 || m > 59) continue;
      const approx = tokens[i + 1] === APPROX_WORD ? 1 : 0;
      return withMeridiem(tokens, used, indexes(i, 1 + approx), i + 1 + approx, h, m, h >= 13 || h === 0 || clock[1]!.length === 2 && h < 10);
    }

    if (!isInt(t)) continue;
    // "at 1700", "1700 hours", "17 hundred (hours)": a 24-hour clock said the military way.
    const military = militaryTimeAt(tokens, i);
    if (military) return mark(used, military.idx, { hour: military.hour, offset: military.minute, explicit: true });
    const n = Number(t);
    if (n > 23) continue;
    const prev = tokens[i - 1];
    const next = tokens[i + 1];
    const afterPreposition = prev !== undefined && TIME_PREPOSITIONS.has(prev);
    const beforeMarker = next !== undefined && (HOUR_WORDS.has(next) || saysHalfOfDayAt(tokens, i + 1) ||
      (next === 'in' && tokens[i + 2] === 'the' && PART_WORDS[tokens[i + 3] ?? ''] !== undefined) ||
      // "nine thirty-ish"
      (isInt(next) && tokens[i + 2] === APPROX_WORD));
    // "через 3 дня" is a date, handled above; "in 2 hours" is not a clock time.
    if (prev === 'in' || prev === 'через') continue;
    if (!afterPreposition && !beforeMarker) continue;
    const idx = [i];
    let minute = 0;
    let after = i + 1;
    if (next !== undefined && HOUR_WORDS.has(next)) {
      idx.push(i + 1);
      after = i + 2;
    }
    // "3 30", "три тридцать", "в 3 часа 30 минут"
    const mTok = tokens[after];
    if (isInt(mTok) && Number(mTok) < 60 && !used.has(after) && !MONTHS[tokens[after + 1] ?? ''] && !DAY_UNIT_WORDS.has(tokens[after + 1] ?? '')) {
      minute = Number(mTok);
      idx.push(after);
      after++;
      if (tokens[after] === 'минут' || tokens[after] === 'minutes' || tokens[after] === APPROX_WORD) {
        idx.push(after);
        after++;
      }
    }
    return withMeridiem(tokens, used, idx, after, n, minute, n >= 13 || n === 0);
  }
  return null;
}

/**
 * "at 1700", "0930 hours", "17 hundred", "seventeen hundred hours": four digits (or an hour and "hundred") said as a
 * time — after "at"/"в", or before "hours" / "hundred" — never a year or a count.
 */
function militaryTimeAt(tokens: string[], i: number): { hour: number; minute: number; idx: number[] } | null {
  const t = tokens[i]!;
  const hoursAfter = (k: number): number[] => (tokens[k] === 'hours' || tokens[k] === 'часов' ? [k] : []);
  if (tokens[i + 1] === 'hundred' && Number(t) <= 23 && /^\d{1,2}$/.test(t)) return { hour: Number(t), minute: 0, idx: [i, i + 1, ...hoursAfter(i + 2)] };
  const four = /^([01]\d|2[0-3])([0-5]\d)$/.exec(t);
  if (!four) return null;
  const said = TIME_PREPOSITIONS.has(tokens[i - 1] ?? '') || hoursAfter(i + 1).length > 0;
  return said ? { hour: Number(four[1]), minute: Number(four[2]), idx: [i, ...hoursAfter(i + 1)] } : null;
}

/** Applies am/pm (or утра/дня/вечера/ночи) found right after the hour said; `offset` is kept as said. */
function withMeridiem(
  tokens: string[],
  used: Set<number>,
  idx: number[],
  after: number,
  hour: number,
  offset: number,
  explicit = false,
): TimePart {
  const marker = tokens[after];
  const night = nightMarkerAt(tokens, after);
  let h = hour;
  if (marker !== undefined && PM_WORDS.has(marker) && hour <= 12) {
    idx.push(after);
    if (hour < 12) h = hour + 12;
    explicit = true;
  } else if (marker !== undefined && AM_WORDS.has(marker) && hour <= 12) {
    idx.push(after);
    if (hour === 12) h = 0;
    explicit = true;
  } else if (night > 0 && hour <= 12) {
    idx.push(...Array.from({ length: night }, (_, k) => after + k));
    h = nightHour(hour);
    explicit = true;
    return mark(used, idx, { hour: h, offset, explicit, night: true });
  } else if (marker !== undefined && hour === 12 && (NOON_WORDS.has(marker) || MIDNIGHT_WORDS.has(marker))) {
    // "12 noon", "twelve midnight"
    idx.push(after);
    if (MIDNIGHT_WORDS.has(marker)) h = 0;
    explicit = true;
  } else if (marker === 'in' && tokens[after + 1] === 'the' && PART_WORDS[tokens[after + 2] ?? '']) {
    const part = PART_WORDS[tokens[after + 2]!]!;
    idx.push(after, after + 1, after + 2);
    if (part !== 'morning' && hour < 12) h = hour + 12;
    explicit = true;
  }
  return mark(used, idx, { hour: h, offset, explicit });
}

/** "after lunch", "после обеда", "after noon", "до полудня": the afternoon or the morning. */
const MIDDAY_WORDS = new Set(['обеда', 'lunch', 'noon', 'midday', 'полудня']);
/** Words before noon that make it the edge of a part of the day, not a time. */
const NOON_BOUNDS = new Set(['after', 'before', 'после', 'до']);

function findPart(tokens: string[], used: Set<number>): Exclude<DayPart, Period | 'day'> | null {
  for (let i = 0; i < tokens.length; i++) {
    if (used.has(i)) continue;
    const t = tokens[i]!;
    const part = PART_WORDS[t];
    // "this evening", "этим вечером"
    if (part) return mark(used, THIS_WORDS.has(tokens[i - 1] ?? '') ? [i - 1, i] : [i], part);
    if (t === 'lunchtime' || LUNCH_BEFORE[t]?.has(tokens[i - 1] ?? '')) return mark(used, [i], 'midday');
    // "first thing tomorrow": the morning, whose first free slots are offered first — the business's opening hour
    // where it is free. "first thing in the morning", "first thing tomorrow morning" say the morning twice.
    if (t === FIRST_THING) return mark(used, [i, ...morningSaidAgain(tokens)], 'morning');
    if (t === 'утра') return mark(used, [i], 'morning');
    if (t === 'вечера') return mark(used, [i], 'evening');
    if ((t === 'после' || t === 'after') && MIDDAY_WORDS.has(tokens[i + 1] ?? '')) return mark(used, [i, i + 1], 'afternoon');
    if ((t === 'до' || t === 'before') && MIDDAY_WORDS.has(tokens[i + 1] ?? '')) return mark(used, [i, i + 1], 'morning');
    if (t === 'tonight') return mark(used, [i], 'evening');
  }
  // "tonight" was consumed as a date; it still means evening.
  return tokens.includes('tonight') ? 'evening' : null;
}

/** Where the morning is said ("in the morning", "morning", "утром"): with "first thing", no second part of the day. */
function morningSaidAgain(tokens: string[]): number[] {
  return tokens.flatMap((t, k) => {
    if (PART_WORDS[t] !== 'morning' && t !== 'утра') return [];
    return tokens[k - 1] === 'the' && tokens[k - 2] === 'in' ? [k - 2, k - 1, k] : [k];
  });
}

/** `length` token indexes from `from`. */
const indexes = (from: number, length: number): number[] => Array.from({ length }, (_, k) => from + k);

function mark<T>(used: Set<number>, idx: number[], value: T): T {
  for (const i of idx) used.add(i);
  return value;
}

/** Hours 1–7 without am/pm are afternoon in a business context ("at 2" → 14:00, "в три" → 15:00). */
function resolveHour(time: TimePart, part: DayPart | null): number {
  if (time.explicit) return time.hour;
  if (part === 'afternoon' || part === 'evening') return time.hour < 12 ? time.hour + 12 : time.hour;
  if (part === 'morning') return time.hour === 12 ? 0 : time.hour;
  if (time.hour >= 1 && time.hour <= 7) return time.hour + 12;
  return time.hour;
}

function relativeHours(tokens: string[], now: DateTime): DateTime | null {
  for (let i = 0; i < tokens.length - 2; i++) {
    if ((tokens[i] === 'in' || tokens[i] === 'через') && isInt(tokens[i + 1])) {
      const unit = tokens[i + 2]!;
      if (['hour', 'hours', 'час', 'часа', 'часов'].includes(unit)) return now.plus({ hours: Number(tokens[i + 1]) });
      if (['minutes', 'minute', 'минут', 'минуты', 'минуту'].includes(unit)) return now.plus({ minutes: Number(tokens[i + 1]) });
    }
  }
  if (tokens.includes('через') && tokens.includes('час') && !tokens.some(isInt)) return now.plus({ hours: 1 });
  if (tokens.join(' ').includes('in an hour')) return now.plus({ hours: 1 });
  return null;
}

/**
 * The zone's own UTC offset ("-05:00") when the text is an ISO 8601 time written with another one ("…T15:00:00Z",
 * "+03:00") — a model that wrote the local time with a Z means another hour than it says; null when it has no
 * offset (read in the zone), the zone's own, or is no ISO time.
 */
export function foreignIsoOffset(text: string, zone: string): string | null {
  const t = text.trim();
  if (!/^\d{4}-\d{2}-\d{2}T\S*?(Z|[+-]\d{2}(:?\d{2})?)$/i.test(t)) return null;
  const stated = DateTime.fromISO(t, { setZone: true });
  if (!stated.isValid) return null;
  const there = stated.setZone(zone);
  return there.offset === stated.offset ? null : there.toFormat('ZZ');
}

export function parseWhen(text: string, options: ParseWhenOptions): WhenResult | null {
  const zone = options.zone;
  const now = DateTime.fromMillis(typeof options.now === 'number' ? options.now : options.now.getTime(), { zone });
  const trimmed = text.trim();
  // ISO 8601 as a whole; "2026-06-12 14:00" and "2026-06-12 at 2pm" are read as words below.
  if (/^\d{4}-\d{2}-\d{2}(T\S*)?$/.test(trimmed)) {
    const iso = DateTime.fromISO(trimmed, { zone });
    if (!iso.isValid) return null;
    if (/^\d{4}-\d{2}-\d{2}$/.test(trimmed)) return dayWindow(iso.startOf('day'), 'day');
    return { kind: 'exact', start: iso.setZone(zone) };
  }

  const words = tokenize(trimmed);
  if (words.tokens.length === 0) return null;
  const relative = relativeHours(words.tokens, now);
  if (relative) return { kind: 'exact', start: relative.set({ second: 0, millisecond: 0 }) };

  const today = now.startOf('day');
  const heard = hearCorrected(splitAtCorrections(words), today, dateOrderOfZone(zone), options.bareHour ?? false);
  if (!heard) return null;
  const { date, time, part } = heard;

  // "This week" names a day only with a weekday ("Friday this week"): alone, which day is asked again. So does a time
  // said for a whole week, month or year ("next month at 3"): which day is not known.
  if (date?.period) return date.thisWeek || time ? null : { kind: 'window', from: date.day, to: date.period.to, part: date.period.period };

  if (time) {
    // Morning or afternoon on the hour said, then the minutes to or past it ("quarter to eight" = 7:45 like "at eight").
    const minutes = (((resolveHour(time, part) * 60 + time.offset) % 1440) + 1440) % 1440;
    // Placed as the schedule's slots are (local-time.ts): an ambiguous wall time on a fall-back night is then the
    // same instant as the slot the caller heard offered.
    const at = (day: DateTime) => localAt(day.setZone(zone), minutes);
    // Today's 00:00 has passed: "tonight at midnight", "сегодня в полночь" are the midnight that ends today; so are
    // the small hours said as tonight's ("сегодня в 2 ночи", "tonight at 1 am") once today's have passed.
    const smallHoursSaidForTonight = minutes === 0 || (minutes < SMALL_HOURS_END * 60 && (time.night === true || part === 'evening'));
    const tonight = smallHoursSaidForTonight && date !== null && +date.day === +today && at(today) <= now;
    // Another date's night ("tomorrow night at 1", "Friday night at 12"): its small hours are the next day's.
    const laterNight = smallHoursSaidForTonight && heard.nightOf === true && date !== null && +date.day !== +today;
    if (date) return { kind: 'exact', start: at(tonight || laterNight ? date.day.plus({ days: 1 }) : date.day) };
    if (options.defaultDay) {
      const day = DateTime.fromISO(options.defaultDay, { zone });
      if (day.isValid) return { kind: 'exact', start: at(day.startOf('day')) };
    }
    const start = at(today);
    return { kind: 'exact', start: start > now ? start : at(today.plus({ days: 1 })) };
  }
  if (part) {
    const day = date?.day ?? today;
    const window = dayWindow(day, part);
    // "this evening" asked after the evening ended means tomorrow's; so does "first thing" once the morning has begun.
    const begun = words.tokens.includes(FIRST_THING) ? window.from <= now : window.to <= now;
    if (!date && begun) return dayWindow(today.plus({ days: 1 }), part);
    return window;
  }
  if (date) return dayWindow(date.day, 'day');
  return null;
}

/** What one stretch of the utterance names. */
interface Heard {
  date: DatePart | null;
  time: TimePart | null;
  part: Exclude<DayPart, Period | 'day'> | null;
  /** The date was said as its night: "tonight", "tomorrow night", "Friday night" (nightOfDateAt). */
  nightOf?: boolean;
}

/** The utterance cut at each correction ("at 10, no wait, 11" → "at 10" | "wait 11"), the markers dropped. */
function splitAtCorrections({ tokens, loose, ordinal }: Tokens): Tokens[] {
  const empty = (): Tokens => ({ tokens: [], loose: new Set(), ordinal: new Set() });
  const pieces: Tokens[] = [empty()];
  for (let i = 0; i < tokens.length;) {
    const marker = CORRECTIONS.find((m) => m.every((w, k) => tokens[i + k] === w));
    if (marker) {
      pieces.push(empty());
      i += marker.length;
      continue;
    }
    const piece = pieces[pieces.length - 1]!;
    if (loose.has(i)) piece.loose.add(piece.tokens.length);
    if (ordinal.has(i)) piece.ordinal.add(piece.tokens.length);
    piece.tokens.push(tokens[i]!);
    i++;
  }
  return pieces;
}

/**
 * Each piece read in turn, a later one replacing what it names: its date the date, its time (or part of day) the
 * time. After a time was said, a lone number in a correction is the new hour ("no wait, 11"). null when any piece
 * cannot be placed safely.
 */
function hearCorrected(pieces: Tokens[], today: DateTime, order: DateOrder, bareHour: boolean): Heard | null {
  let heard: Heard = { date: null, time: null, part: null };
  for (const piece of pieces) {
    const next = hear(piece, today, order, bareHour || heard.time !== null);
    if (!next) return null;
    const timeSaid = next.time !== null || next.part !== null;
    heard = {
      date: next.date ?? heard.date, time: timeSaid ? next.time : heard.time, part: timeSaid ? next.part : heard.part,
      nightOf: next.date ? next.nightOf === true : heard.nightOf === true || next.nightOf === true,
    };
  }
  return heard;
}

/** The date, time and part of day one piece names; null when two dates disagree or a number or date was left unread. */
function hear(said: Tokens, today: DateTime, order: DateOrder, bareHour: boolean): Heard | null {
  const piece = { ...said, tokens: readDottedPairs(said.tokens, today, order) };
  const used = new Set<number>();
  const date = findDate(piece.tokens, used, today, order);
  if (date === CONFLICT) return null;
  const nightOf = piece.tokens.includes('tonight') || nightOfDateAt(piece.tokens, used);
  const heardTime = findTime(piece, used, bareHour);
  // An hour said for a date's night without am/pm is read as "at night" is: "tomorrow night at 8" is 20:00, "at 12"
  // its midnight, "at 1" its small hours.
  const time = heardTime && nightOf && !heardTime.explicit && !heardTime.night
    ? { ...heardTime, hour: nightHour(heardTime.hour), explicit: true, night: true }
    : heardTime;
  const part = findPart(piece.tokens, used) ?? (nightOf ? 'evening' : null);
  // "this afternoon at 2" names today: once 2:00 has passed it is a time gone by, not tomorrow's as a bare "at 2" is.
  const saidToday = time !== null && date === null && piece.tokens.some((t, i) => PART_WORDS[t] !== undefined && THIS_WORDS.has(piece.tokens[i - 1] ?? ''));
  return leftUnread(piece, used) ? null : { date: saidToday ? { day: today } : date, time, part, nightOf };
}

/**
 * "tomorrow night", "Friday night": "night" right after a day or weekday word names that date's night (marked read).
 * Russian "завтра ночью" is left unread: whether it is the night before or after the day is asked.
 */
function nightOfDateAt(tokens: string[], used: Set<number>): boolean {
  for (let i = 1; i < tokens.length; i++) {
    const before = tokens[i - 1]!;
    const namesDay = (DAY_WORDS.has(before) && before !== 'tonight' && /^[a-z]+$/.test(before)) || (WEEKDAY_WORDS[before] !== undefined && /^[a-z]+$/.test(before));
    if (tokens[i] === 'night' && !used.has(i) && namesDay) return mark(used, [i], true);
  }
  return false;
}

/**
 * "12.06" is kept for the date it names where it names one (day.month, by the company's country:
 * when-numeric-date.ts) — unless it was said as a time ("в 12.06", "at 10.05", "12.06 pm") — and is read as the time
 * 12:06 otherwise ("10.30", "12.06" in New York). A pair that is neither stays, left unread: the agent asks.
 */
function readDottedPairs(tokens: string[], today: DateTime, order: DateOrder): string[] {
  return tokens.map((t, i) => {
    const pair = DOTTED_PAIR.exec(t);
    if (!pair) return t;
    const next = tokens[i + 1] ?? '';
    const saidAsTime = TIME_PREPOSITIONS.has(tokens[i - 1] ?? '') || HOUR_WORDS.has(next) || saysHalfOfDayAt(tokens, i + 1);
    if (!saidAsTime && numericDate(t, today, order) !== null) return t;
    return Number(pair[1]) <= 23 && Number(pair[2]) <= 59 ? `${pair[1]}:${pair[2]}` : t;
  });
}

/** Month names that are also other words or abbreviations ("may I", "march"): not taken for a date left unread. */
const MONTH_LOOKALIKES = new Set(['may', 'march', 'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']);

/**
 * Words that name a time or a part of one: left unread, the time said was not understood ("at quarter to", "noon
 * thirty", "at half past"), and what was read of it — the hour without its minutes — would be a guess. ("am" is also
 * "I am", "пол" a floor.)
 */
const TIME_ONLY_WORDS = new Set([
  ...NOON_WORDS, ...MIDNIGHT_WORDS, 'quarter', 'half', "o'clock", 'oclock', 'pm', 'p.m.', 'p.m', 'a.m.', 'a.m',
  'полудня', 'полуночи', 'четверть', 'четверти', 'половина', 'половину', 'половине',
]);
/** "half an hour", "a quarter of an hour", "четверть часа": a length of time, not a time of day. */
const DURATION_AFTER = new Set(['an', 'a', 'hour', 'часа']);

/** Whether the word at `i` names a time of day ("quarter" in "quarter to", not in "a quarter of an hour"). */
function isTimeWordAt(tokens: string[], i: number): boolean {
  const t = tokens[i]!;
  if (RU_ORDINAL_GENITIVE.has(RU_JOINED_HALF.exec(t)?.[1] ?? '')) return true;
  if (!TIME_ONLY_WORDS.has(t)) return false;
  const next = tokens[i + 1] === 'of' ? tokens[i + 2] : tokens[i + 1];
  return !DURATION_AFTER.has(next ?? '');
}

/**
 * Units a date is counted or picked in, and the night: left unread, the date said was not understood ("a month or
 * two", "the last Friday of the month", "next weekend", "tomorrow night"), and the day read would be a guess.
 */
const DATE_UNIT_WORDS = new Set([
  'month', 'months', 'year', 'years', 'week', 'weeks', 'fortnight', 'fortnights', 'weekend', 'weekends', 'night', 'nights', 'полгода',
  'месяц', 'месяца', 'месяце', 'месяцу', 'месяцев', 'год', 'года', 'году', 'лет', 'неделя', 'неделю', 'недели',
  'неделе', 'недель', 'выходные', 'выходных', 'ночь', 'ночью', 'ночи',
]);
/**
 * Words that name a day the parse has no place for: a past one ("yesterday", "вчера", "two days ago") or a holiday
 * ("Christmas Eve", "New Year's Day", "на Пасху"). Left unread, what was read without them — "at 10" as the next
 * 10:00, "Monday" as the next Monday — would be another day than the one meant.
 */
const UNPLACED_DAY_WORDS = new Set([
  'yesterday', 'ago', 'christmas', 'xmas', 'eve', 'easter', 'thanksgiving', 'halloween', "valentine's", 'valentines',
  'valentine', "year's", 'holiday', 'holidays', 'вчера', 'позавчера', 'назад', 'рождество', 'рождества', 'пасха',
  'пасху', 'пасхи', 'праздник', 'праздники', 'праздников',
]);
/** Words that pick which day, week or month is meant: unread only right before one ("last Friday", "this week"). */
const DATE_PICKERS = new Set([
  ...NEXT_WORDS, ...NEXT_MONTH_WORDS, ...THIS_MONTH_WORDS, ...COMING_WORDS, 'this', 'эту', 'этот', 'этой', 'last',
  'following', 'previous', 'прошлый', 'прошлую', 'прошлой', 'прошлом', 'прошлого', 'прошлая', 'прошлое',
  'последний', 'последнюю', 'последней', 'последнем', 'последнего', 'последняя', 'будущий', 'будущую', 'будущей',
]);
/** A Russian ordinal in any case ("пятнадцатое", "двадцать первое", "третьем"): a day of the month said. */
const RU_ORDINAL_WORD =
  /^(?:перв|втор|трет|четверт|пят|шест|седьм|восьм|девят|десят|(?:один|две|три|четыр|пят|шест|сем|восем|девят)надцат|двадцат|тридцат)(?:ый|ий|ой|ое|ье|ая|ья|ую|ью|ого|ьего|ому|ьему|ом|ьем|ые|ьи|ых|ьих)$/u;

const isPartWord = (t: string): boolean => PART_WORDS[t] !== undefined || t === 'утра' || t === 'вечера';
const isMonthWord = (t: string): boolean => MONTHS[t] !== undefined && !MONTH_LOOKALIKES.has(t);

/** Words a date picker ("next", "last", "прошлую") picks among: a unit, a day, a weekday, a part of the day, a month. */
const isPickedDateWord = (t: string): boolean =>
  DATE_UNIT_WORDS.has(t) || DAY_UNIT_WORDS.has(t) || WEEKDAY_WORDS[t] !== undefined || isPartWord(t) || isMonthWord(t);

/**
 * Whether the word at `i` belongs to the words of a date or a part of the day: a month, a unit ("month", "недели"), a
 * day ("tomorrow"), a weekday, a part of the day, an ordinal, a day the parse cannot place ("yesterday", "Easter"), or
 * a picker before one of these ("next", "last").
 */
function isDateWordAt(tokens: string[], i: number): boolean {
  const t = tokens[i]!;
  if (isMonthWord(t) || DATE_UNIT_WORDS.has(t) || DAY_WORDS.has(t) || WEEKDAY_WORDS[t] !== undefined || isPartWord(t)) return true;
  if (RU_ORDINAL_GENITIVE.has(t) || RU_ORDINAL_WORD.test(t) || UNPLACED_DAY_WORDS.has(t)) return true;
  // "Tuesday after next": the week after the next one, not read.
  if (t === 'next' && tokens[i - 1] === 'after') return true;
  return DATE_PICKERS.has(t) && isPickedDateWord(tokens[i + 1] ?? '');
}

/**
 * Whether a number, a written date or time, or a word of a time or a date the parse did not use is left: "at 11 or
 * 12", "10 tomorrow", "in June at 3", "tomorrow at quarter to", "next month at 3", "на пятнадцатое в 14". What was
 * read without it would be a guess, so the agent asks again. A count of something else ("for 2 people") and a loose
 * "one" are no time.
 */
function leftUnread({ tokens, loose }: Tokens, used: Set<number>): boolean {
  return tokens.some((t, i) => {
    if (used.has(i) || loose.has(i)) return false;
    if (/^\d/.test(t)) return !countsSomething(tokens, i);
    return isTimeWordAt(tokens, i) || isDateWordAt(tokens, i);
  });
}

function dayWindow(day: DateTime, part: Exclude<DayPart, Period>): Extract<WhenResult, { kind: 'window' }> {
  const [from, to] = PART_HOURS[part];
  return {
    kind: 'window',
    from: day.set({ hour: from, minute: 0, second: 0, millisecond: 0 }),
    to: to === 24 ? day.plus({ days: 1 }).startOf('day') : day.set({ hour: to, minute: 0, second: 0, millisecond: 0 }),
    part,
  };
}
