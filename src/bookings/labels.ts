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
