/**
 * The booking side of one call, as the in-call tools see it: the bot's booking settings, its language, "now" in
 * the business's zone, and how a time is said and written there. Null when the bot takes no bookings.
 */
import { DateTime } from 'luxon';
import type { CallContext, ToolResult } from '../call/tool-types.js';
import { bookingSettings, type BookingSettings } from './config-schema.js';
import type { AsCalled } from './service.js';
import { speakableTime, type Language } from './labels.js';
import { foreignIsoOffset } from './when-parser.js';

export interface CallBooking {
  settings: BookingSettings;
  /** The same settings for the booking service: the call books by its copy of the bot (service.ts AsCalled). */
  asCalled: AsCalled;
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
    asCalled: { botId: ctx.botId, language, settings },
    language,
    now,
    label: (s) => speakableTime(toLocal(s), now, language),
    dated: (s) => speakableTime(toLocal(s), now, language, { dated: true }),
    local: (s) => toLocal(s).toISO()!,
  };
}

/** How the tools describe a `when` argument to the model: words, or ISO 8601 in the business's zone. */
export const WHEN_ISO_RULE =
  "or ISO 8601 in the business's time zone: a slot's `start` as check_availability gave it (its UTC offset), or a local time without " +
  'an offset; a time with another offset (such as Z) is refused';

/**
 * The model's `when` written as an ISO time with another zone's offset ("2026-03-05T15:00:00Z" for 3 pm in New
 * York): refused, with the business's zone and offset, rather than booked at the hour the offset makes it (10 am);
 * null when there is nothing to refuse.
 */
export function foreignOffsetRefusal(booking: CallBooking, when: unknown): ToolResult | null {
  if (typeof when !== 'string') return null;
  const offset = foreignIsoOffset(when, booking.settings.timezone);
  if (!offset) return null;
  return {
    content: {
      error: 'time_zone_mismatch', timezone: booking.settings.timezone, utc_offset: offset,
      hint: `Times are the business's local times (${booking.settings.timezone}, UTC${offset} then). Pass a slot's start exactly as ` +
        'check_availability gave it, the local time without an offset, or the caller\'s words; ask the caller if unsure which hour they meant.',
    },
  };
}
