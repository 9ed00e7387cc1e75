/**
 * The booking side of one call, as the in-call tools see it: the bot's booking settings, its language, "now" in
 * the business's zone, and how a time is said and written there. Null when the bot takes no bookings.
 */
import { DateTime } from 'luxon';
import type { CallContext } from '../call/tool-types.js';
import { bookingSettings, type BookingSettings } from './config-schema.js';
import { speakableTime, type Language } from './labels.js';

export interface CallBooking {
  settings: BookingSettings;
  language: Language;
  now: DateTime;
  /** A time as the caller hears it ("tomorrow at 3 pm"). */
  label(start: DateTime | string): string;
  /** The same with a weekday's date ("on Friday, December 4 at 10:00 AM"): what the caller confirms. */
  dated(start: DateTime | string): string;
  /** A time in the business's zone, ISO with its offset, as the caller would say it. */
  local(start: DateTime | string): string;
}

export function callBooking(ctx: CallContext, clock: () => number): CallBooking | null {
  const config = ctx.bot.config.booking;
  if (!config || config.enabled === false) return null;
  const settings = bookingSettings(config);
  const now = DateTime.fromMillis(clock(), { zone: settings.timezone });
  const language = ctx.bot.language;
  const toLocal = (s: string | DateTime): DateTime => (typeof s === 'string' ? DateTime.fromISO(s) : s).setZone(settings.timezone);
  return {
    settings,
    language,
    now,
    label: (s) => speakableTime(toLocal(s), now, language),
    dated: (s) => speakableTime(toLocal(s), now, language, { dated: true }),
    local: (s) => toLocal(s).toISO()!,
  };
}
