/**
 * Speakable times in the bot's language, relative to now in the business time zone:
 * "tomorrow at 3:00 PM", "on Friday at 10:30 AM", "завтра в 15:00", "во вторник, 10 марта, в 9:00".
 * `dated`: a weekday is read with its date ("on Friday, December 4 at 10:00 AM") — for what the caller confirms,
 * where "Friday" alone may be this week's or the next one's ("next Friday").
 */
import { DateTime } from 'luxon';

export type Language = 'en' | 'ru';

const RU_WEEKDAY_ACCUSATIVE = ['понедельник', 'вторник', 'среду', 'четверг', 'пятницу', 'субботу', 'воскресенье'];

export function speakableTime(start: DateTime, now: DateTime, language: Language, options: { dated?: boolean } = {}): string {
  const local = start.setZone(now.zone);
  const days = Math.round(local.startOf('day').diff(now.setZone(local.zone).startOf('day'), 'days').days);
  if (language === 'ru') {
    const time = local.toFormat('H:mm');
    if (days === 0) return `сегодня в ${time}`;
    if (days === 1) return `завтра в ${time}`;
    if (days === 2) return `послезавтра в ${time}`;
    const weekday = RU_WEEKDAY_ACCUSATIVE[local.weekday - 1]!;
    const prep = local.weekday === 2 ? 'во' : 'в';
    if (days > 0 && days < 7 && !options.dated) return `${prep} ${weekday} в ${time}`;
    return `${prep} ${weekday}, ${local.setLocale('ru').toFormat('d MMMM')}, в ${time}`;
  }
  const time = local.setLocale('en-US').toFormat('h:mm a');
  if (days === 0) return `today at ${time}`;
  if (days === 1) return `tomorrow at ${time}`;
  const weekday = local.setLocale('en-US').toFormat('cccc');
  if (days > 0 && days < 7 && !options.dated) return `on ${weekday} at ${time}`;
  return `on ${weekday}, ${local.setLocale('en-US').toFormat('MMMM d')} at ${time}`;
}

const RU_MONTH_PREPOSITIONAL = ['январе', 'феврале', 'марте', 'апреле', 'мае', 'июне', 'июле', 'августе', 'сентябре', 'октябре', 'ноябре', 'декабре'];

/**
 * A week, month or year, or a part of one, as said after "book" / "записаться": a whole one as "in the week of March
 * 9", "in April", "in January 2027", "in 2027" ("на неделе с 9 марта", "в апреле", "в январе 2027 года", "в 2027
 * году"); a part ("the end of next month") as its days, "between April 21 and April 30" ("с 21 по 30 апреля"). A
 * window said as "next month" is no one day, so it is not read back as its first day. The year is said when it is not
 * this one.
 */
export function speakablePeriod(from: DateTime, to: DateTime, period: 'week' | 'month' | 'year', now: DateTime, language: Language): string {
  const local = from.setZone(now.zone);
  const last = to.setZone(now.zone).minus({ days: 1 });
  const otherYear = local.year !== now.year;
  const whole = +local === +local.startOf(period) && +to === +local.plus({ [`${period}s`]: 1 });
  if (language === 'ru') {
    if (!whole) {
      const ru = (d: DateTime, f: string): string => d.setLocale('ru').toFormat(f);
      const end = ru(last, otherYear ? 'd MMMM yyyy года' : 'd MMMM');
      return `с ${ru(local, local.month === last.month ? 'd' : 'd MMMM')} по ${end}`;
    }
    if (period === 'year') return `в ${local.year} году`;
    if (period === 'month') return `в ${RU_MONTH_PREPOSITIONAL[local.month - 1]}${otherYear ? ` ${local.year} года` : ''}`;
    return `на неделе с ${local.setLocale('ru').toFormat(otherYear ? 'd MMMM yyyy' : 'd MMMM')}${otherYear ? ' года' : ''}`;
  }
  const en = (d: DateTime, f: string): string => d.setLocale('en-US').toFormat(f);
  if (!whole) return `between ${en(local, 'MMMM d')} and ${en(last, otherYear ? 'MMMM d, yyyy' : 'MMMM d')}`;
  if (period === 'year') return `in ${local.year}`;
  if (period === 'month') return `in ${en(local, otherYear ? 'MMMM yyyy' : 'MMMM')}`;
  return `in the week of ${en(local, otherYear ? 'MMMM d, yyyy' : 'MMMM d')}`;
}

/** A label as speakableTime writes it: the day ("on Friday", "завтра", "во вторник, 10 марта") and the clock time. */
const LABEL_PARTS: Record<Language, RegExp> = {
  en: /^(.+?) at (\d{1,2}(?::\d{2})? ?[AP]M)$/i,
  ru: /^(.+?),? в (\d{1,2}:\d{2})$/,
};

/**
 * Times offered, as a caller would say them: a day named once for its times ("tomorrow at 12:00 PM, 2:00 PM or 4:00
 * PM", "завтра в 10:00, в 14:30 или в 19:00"), and in English without "on" ("I can offer Friday at 9:00 AM", not
 * "offer on Friday"). Labels are speakableTime's, in order; one it did not write is said as it is.
 */
export function speakableTimes(labels: readonly string[], language: Language): string {
  const or = language === 'ru' ? 'или' : 'or';
  const groups: Array<{ day: string | null; times: string[] }> = [];
  for (const label of labels) {
    const m = LABEL_PARTS[language].exec(label);
    const day = m ? (language === 'en' ? m[1]!.replace(/^on /, '') : m[1]!) : null;
    const last = groups[groups.length - 1];
    if (m && last && last.day === day) last.times.push(m[2]!);
    else groups.push({ day, times: [m ? m[2]! : label] });
  }
  const list = (items: string[]): string => (items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} ${or} ${items[items.length - 1]}`);
  const said = groups.map((g) => {
    if (g.day === null) return g.times[0]!;
    if (language === 'en') return `${g.day} at ${list(g.times)}`;
    // "во вторник, 10 марта, в 9:00": a dated day keeps its comma before the time.
    return `${g.day}${/\d/.test(g.day) ? ',' : ''} ${list(g.times.map((t) => `в ${t}`))}`;
  });
  // Days with several times each are set apart: "Friday at 3:00 PM or 4:00 PM, or Monday at 9:00 AM".
  if (groups.some((g) => g.times.length > 1) && said.length > 1) return `${said.slice(0, -1).join(', ')}, ${or} ${said[said.length - 1]}`;
  return list(said);
}
