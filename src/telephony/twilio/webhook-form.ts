/**
 * Reading the fields of a Twilio webhook, after its signature was checked. Twilio sends each field once, as text.
 * The form parser turns a repeated field (`CallSid=CA1&CallSid=CA2`) into an array, and the signature check
 * accepts one — Twilio's scheme even signs `CallSid=CA1&CallSid=CA1` like `CallSid=CA1`, so a captured request
 * replayed with a field doubled still passes — and an array read as text was stored joined ('CA1,CA2') as the
 * call's SID or number. A field that is not one piece of text (repeated, or an object of a JSON body) is refused
 * with 400 here, before anything is read or written.
 *
 * Counts (a duration, a sequence number) are read as what the database column holds: digits only, at most `max`;
 * anything else is absent (null), never an out-of-range value that fails the whole update — a status callback
 * whose SequenceNumber overflowed an integer once lost the call's end with it.
 */
import { ParleyError } from '../../errors.js';

/** The largest value of a PostgreSQL `integer` column. */
export const MAX_INT4 = 2_147_483_647;

export class TwilioForm {
  private readonly fields: Record<string, unknown>;

  constructor(body: unknown) {
    this.fields = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  }

  /** The field's text; undefined when it is absent. */
  text(name: string): string | undefined {
    if (!Object.hasOwn(this.fields, name)) return undefined;
    const value = this.fields[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') {
      throw new ParleyError('PARLEY_ERR_VALIDATION', `Twilio webhook field ${name} must be sent once, as text`);
    }
    return value;
  }

  /** The field as a whole number from 0 to `max`; null when it is absent or anything else. */
  count(name: string, max = MAX_INT4): number | null {
    const value = this.text(name);
    if (value === undefined || !/^\d{1,10}$/.test(value)) return null;
    const n = Number(value);
    return n <= max ? n : null;
  }
}
