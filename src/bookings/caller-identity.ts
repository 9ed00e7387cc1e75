/**
 * Who a caller is, for reading or changing an EXISTING booking — the guided flow (flow/tool.ts) and the older
 * tools (tools.ts) alike.
 *
 * - A phone call with a real caller ID: that number, and only it. A number the caller says (or the model passes)
 *   never replaces it for existing bookings; it may still be the contact number of a new one.
 * - No usable caller ID (a web call; a withheld number, which Twilio reports as made-up numbers: phone.ts): the
 *   number the caller gives AND the name on the booking, both matching (name-sound.ts), before anything is read
 *   out or changed. A caller who fails hears the same answer whether or not the number has bookings, and after
 *   MAX_FAILED failures in one call no more lookups are made.
 */
import type { CallContext } from '../call/tool-types.js';
import type { Db } from '../db/sql.js';
import type { CallBooking } from './call-booking.js';
import { installedPronunciations, sameName } from './name-sound.js';
import { callerIdNumber, defaultRegionFor } from './phone.js';
import type { Booking } from './repo.js';
import type { BookingServiceApi } from './service.js';

/** Failed number-and-name lookups allowed in one call: enough for a misheard name, too few to try many. */
const MAX_FAILED = 3;

export type CallersBookings =
  /** The caller's upcoming bookings (possibly none, by caller ID; at least one, by number and name). */
  | { found: Booking[]; by: 'caller_id' | 'phone_and_name' }
  /** What to ask for first, without caller ID. */
  | { missing: 'phone' | 'name' }
  /** Nothing matches the number and name given (or too many tries): say no more than that. */
  | { refused: true };

/** The calling number when it identifies the caller (phone.ts: not on web calls, not when withheld). */
export function callerIdOf(ctx: CallContext, booking: CallBooking): string | null {
  return callerIdNumber(ctx.callerNumber, defaultRegionFor(ctx.bot.language, booking.settings.defaultRegion));
}

/** Failed lookups per call; calls idle for two hours are forgotten. */
export class IdentityChecks {
  private readonly failures = new Map<string, { n: number; at: number }>();

  exhausted(callId: string): boolean {
    return (this.failures.get(callId)?.n ?? 0) >= MAX_FAILED;
  }

  failed(callId: string, now: number): void {
    if (this.failures.size > 1000) for (const [k, v] of this.failures) if (now - v.at > 7_200_000) this.failures.delete(k);
    this.failures.set(callId, { n: (this.failures.get(callId)?.n ?? 0) + 1, at: now });
  }
}

/**
 * The caller's upcoming bookings with this bot, by caller ID, else by the number (E.164) and name they gave.
 * `phone` and `name` are ignored when there is a caller ID.
 */
export async function callersBookings(
  service: BookingServiceApi, db: Db, checks: IdentityChecks,
  q: { ctx: CallContext; callerId: string | null; phone: string | null; name: string | null; now: number },
): Promise<CallersBookings> {
  const { ctx } = q;
  const upcoming = (phone: string): Promise<Booking[]> => service.upcomingForPhone(db, { companyId: ctx.companyId, botId: ctx.botId, phone });
  if (q.callerId) return { found: await upcoming(q.callerId), by: 'caller_id' };
  if (!q.phone) return { missing: 'phone' };
  if (!q.name) return { missing: 'name' };
  if (checks.exhausted(ctx.callId)) return { refused: true };
  const dict = await installedPronunciations();
  const name = q.name;
  const found = (await upcoming(q.phone)).filter((b) => sameName(name, b.customerName, dict));
  if (found.length > 0) return { found, by: 'phone_and_name' };
  checks.failed(ctx.callId, q.now);
  return { refused: true };
}
