/**
 * Date and time idioms callers say (British English and Russian), each read as a person would: every one was asked
 * again ("didn't catch that") before.
 */
import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { parseWhen } from '../../src/bookings/when-parser.js';

const zone = 'America/New_York';
// Wednesday 2026-03-04 10:00 in New York.
const now = DateTime.fromISO('2026-03-04T10:00', { zone }).toJSDate();
const local = (s: string) => DateTime.fromISO(s, { zone }).toISO();

/** What a phrase is read as: "exact <time>", "<part> <from>..<to>", or null (asked again). */
function read(text: string, when: Date = now): string | null {
  const r = parseWhen(text, { now: when, zone });
  if (!r) return null;
  return r.kind === 'exact' ? `exact ${r.start.setZone(zone).toISO()}` : `${r.part} ${r.from.toISO()}..${r.to.toISO()}`;
}
const exactAt = (s: string) => `exact ${local(s)}`;
const window = (part: string, from: string, to: string) => `${part} ${local(from)}..${local(to)}`;

const EN_HOURS = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];
const EN_WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const RU_WEEKDAYS = ['в понедельник', 'во вторник', 'в среду', 'в четверг', 'в пятницу', 'в субботу', 'в воскресенье'];
const RU_MONTHS = ['января', 'февраля', 'марта', 'апреля', 'мая', 'июня', 'июля', 'августа', 'сентября', 'октября', 'ноября', 'декабря'];
const EN_MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** The hour a bare "at N" is read as (1–7 the afternoon's), as the parser reads every hour said without am/pm. */
const bareHour = (n: number): number => (n >= 1 && n <= 7 ? n + 12 : n);
/** The next such weekday after today (Wednesday the 4th: a Wednesday is a week on). */
const nextWeekday = (weekday: number): DateTime => {
  const today = DateTime.fromJSDate(now, { zone }).startOf('day');
  return today.plus({ days: (weekday - today.weekday + 7) % 7 || 7 });
};

describe('"half three": half past any hour, morning or afternoon as for the bare hour', () => {
  it.each(EN_HOURS.map((w, k) => [w, k + 1] as const))('tomorrow at half %s', (word, n) => {
    const at = DateTime.fromISO('2026-03-05', { zone }).set({ hour: bareHour(n), minute: 30 });
    expect(read(`tomorrow at half ${word}`)).toBe(`exact ${at.toISO()}`);
    expect(read(`half ${n} tomorrow`)).toBe(`exact ${at.toISO()}`);
  });

  it('keeps am/pm and the part of the day said; "half past" is unchanged; a half of something else is no time', () => {
    expect(read('tomorrow at half seven in the morning')).toBe(exactAt('2026-03-05T07:30'));
    expect(read('half ten pm tomorrow')).toBe(exactAt('2026-03-05T22:30'));
    expect(read('tomorrow at half past three')).toBe(exactAt('2026-03-05T15:30'));
    expect(read('tomorrow at half-three')).toBe(exactAt('2026-03-05T15:30'));
    expect(read('tomorrow at 3 for half an hour')).toBe(exactAt('2026-03-05T15:00'));
    expect(read('tomorrow at half 3 hours')).toBeNull();
    expect(read('tomorrow at half')).toBeNull();
  });
});

describe('"9ish": an hour said roughly is read as "around 9" is', () => {
  it.each(EN_HOURS.map((w, k) => [w, k + 1] as const))('tomorrow %s-ish, %sish', (word, n) => {
    const at = `exact ${DateTime.fromISO('2026-03-05', { zone }).set({ hour: bareHour(n) }).toISO()}`;
    expect(read(`tomorrow ${word}-ish`)).toBe(at);
    expect(read(`tomorrow ${n}ish`)).toBe(at);
    expect(read(`tomorrow around ${n}`)).toBe(at);
  });

  it('with minutes, am/pm or "at"; a word that merely ends in "ish" is no hour', () => {
    expect(read('tomorrow 9:30ish')).toBe(exactAt('2026-03-05T09:30'));
    expect(read('tomorrow nine thirty-ish')).toBe(exactAt('2026-03-05T09:30'));
    expect(read('tomorrow 8ish pm')).toBe(exactAt('2026-03-05T20:00'));
    expect(read('friday at twelvish')).toBe(exactAt('2026-03-06T12:00'));
    expect(read('tomorrow at 10, English please')).toBe(exactAt('2026-03-05T10:00'));
    expect(read('an Irish dish')).toBeNull();
  });
});

describe('"first thing": the morning, whose earliest free slots (the opening hour) are offered first', () => {
  it('of the day said, or tomorrow once this morning has begun', () => {
    const tomorrowMorning = window('morning', '2026-03-05T06:00', '2026-03-05T12:00');
    expect(read('first thing tomorrow')).toBe(tomorrowMorning);
    expect(read('tomorrow first thing')).toBe(tomorrowMorning);
    expect(read('first thing tomorrow morning')).toBe(tomorrowMorning);
    expect(read('first thing in the morning')).toBe(tomorrowMorning);
    expect(read('first thing on Monday')).toBe(window('morning', '2026-03-09T06:00', '2026-03-09T12:00'));
    const early = DateTime.fromISO('2026-03-04T05:00', { zone }).toJSDate();
    expect(read('first thing', early)).toBe(window('morning', '2026-03-04T06:00', '2026-03-04T12:00'));
    // An hour said with it is the hour; another part of the day said with it is asked again.
    expect(read('first thing tomorrow at 8')).toBe(exactAt('2026-03-05T08:00'));
    expect(read('first thing tomorrow evening')).toBeNull();
    // "the first" alone is still a pick among the offers, not a day.
    expect(read('the first')).toBeNull();
  });
});

describe('"a week on Friday", "Friday week", "во вторник через неделю": a weekday a week (or more) on', () => {
  it.each(EN_WEEKDAYS.map((w, k) => [w, k + 1] as const))('a week on %s', (word, weekday) => {
    const day = nextWeekday(weekday).plus({ weeks: 1 });
    const whole = `day ${day.toISO()}..${day.plus({ days: 1 }).toISO()}`;
    expect(read(`a week on ${word}`)).toBe(whole);
    expect(read(`${word} week`)).toBe(whole);
    expect(read(`a week on ${word} at 10 am`)).toBe(`exact ${day.set({ hour: 10 }).toISO()}`);
    const fortnight = nextWeekday(weekday).plus({ weeks: 2 });
    expect(read(`two weeks on ${word}`)).toBe(`day ${fortnight.toISO()}..${fortnight.plus({ days: 1 }).toISO()}`);
    expect(read(`${word} fortnight`)).toBe(`day ${fortnight.toISO()}..${fortnight.plus({ days: 1 }).toISO()}`);
  });

  it.each(RU_WEEKDAYS.map((w, k) => [w, k + 1] as const))('%s через неделю', (words, weekday) => {
    const day = nextWeekday(weekday).plus({ weeks: 1 });
    expect(read(`${words} через неделю`)).toBe(`day ${day.toISO()}..${day.plus({ days: 1 }).toISO()}`);
    expect(read(`${words} через неделю в 15:00`)).toBe(`exact ${day.set({ hour: 15 }).toISO()}`);
    const two = nextWeekday(weekday).plus({ weeks: 2 });
    expect(read(`${words} через две недели`)).toBe(`day ${two.toISO()}..${two.plus({ days: 1 }).toISO()}`);
  });

  it('a week on from today or tomorrow; a week after next is no such idiom', () => {
    expect(read('a week tomorrow')).toBe(window('day', '2026-03-12T00:00', '2026-03-13T00:00'));
    expect(read('tomorrow week at 2')).toBe(exactAt('2026-03-12T14:00'));
    expect(read('a week today')).toBe(window('day', '2026-03-11T00:00', '2026-03-12T00:00'));
    expect(read('завтра через неделю')).toBe(window('day', '2026-03-12T00:00', '2026-03-13T00:00'));
    expect(read('friday, week after next')).toBe(window('day', '2026-03-20T00:00', '2026-03-21T00:00'));
    // Unchanged: a length of time and a weekday said as two dates.
    expect(read('через неделю во вторник')).toBeNull();
    expect(read('3 days today')).toBeNull();
    expect(read('a day on Friday')).toBe(window('day', '2026-03-06T00:00', '2026-03-07T00:00'));
  });
});

describe('weekends: this one, next week\'s, the one after', () => {
  it('"next weekend" is next week\'s Saturday and Sunday, as "next week" is the week after this one', () => {
    const nextWeekend = window('week', '2026-03-14T00:00', '2026-03-16T00:00');
    expect(read('next weekend')).toBe(nextWeekend);
    expect(read('в следующие выходные')).toBe(nextWeekend);
    expect(read('на следующих выходных')).toBe(nextWeekend);
    expect(read('the weekend after next')).toBe(window('week', '2026-03-21T00:00', '2026-03-23T00:00'));
    expect(read('sunday next weekend')).toBe(window('day', '2026-03-15T00:00', '2026-03-16T00:00'));
    // Said on a Sunday, the coming Saturday and Sunday; "this weekend" then is today.
    const sunday = DateTime.fromISO('2026-03-08T10:00', { zone }).toJSDate();
    expect(read('next weekend', sunday)).toBe(window('week', '2026-03-14T00:00', '2026-03-16T00:00'));
    expect(read('this weekend', sunday)).toBe(window('week', '2026-03-08T00:00', '2026-03-09T00:00'));
    // Which day of it, with an hour, is asked, as for this weekend.
    expect(read('next weekend at 10')).toBeNull();
  });
});

describe('a day and month "next year": that day of next year, not the next one', () => {
  it.each(RU_MONTHS.map((m, k) => [m, k + 1] as const))('12 %s следующего года', (month, n) => {
    const day = DateTime.fromObject({ year: 2027, month: n, day: 12 }, { zone });
    expect(read(`12 ${month} следующего года`)).toBe(`day ${day.toISO()}..${day.plus({ days: 1 }).toISO()}`);
    expect(read(`в следующем году 12 ${month} в 15:00`)).toBe(`exact ${day.set({ hour: 15 }).toISO()}`);
  });

  it.each(EN_MONTHS.map((m, k) => [m, k + 1] as const))('%s 12 next year', (month, n) => {
    const day = DateTime.fromObject({ year: 2027, month: n, day: 12 }, { zone });
    expect(read(`${month} 12 next year`)).toBe(`day ${day.toISO()}..${day.plus({ days: 1 }).toISO()}`);
  });

  it('a day next year lacks, or this year\'s already past, is asked again', () => {
    expect(read('29 февраля следующего года')).toBeNull();
    expect(read('February 10 this year')).toBeNull();
    expect(read('December 12 this year')).toBe(window('day', '2026-12-12T00:00', '2026-12-13T00:00'));
  });
});

describe('idioms already read (kept so)', () => {
  it.each([
    ['tomorrow evening', window('evening', '2026-03-05T17:00', '2026-03-06T00:00')],
    ['the day after tomorrow at quarter to five', exactAt('2026-03-06T16:45')],
    ['this weekend', window('week', '2026-03-07T00:00', '2026-03-09T00:00')],
    ['в половине четвёртого', exactAt('2026-03-04T15:30')],
    ['без четверти пять', exactAt('2026-03-04T16:45')],
    ['послезавтра вечером', window('evening', '2026-03-06T17:00', '2026-03-07T00:00')],
    ['завтра часов в 9', exactAt('2026-03-05T09:00')],
    ['завтра с утра пораньше', window('morning', '2026-03-05T06:00', '2026-03-05T12:00')],
  ])('%s', (text, expected) => {
    expect(read(text)).toBe(expected);
  });
});
