/**
 * What a caller (or the model speaking for one) gives the booking tools as free text — a name, notes, a reason —
 * as the database stores it (migrations/0020_bookings.sql; the REST API's limits in api/routes/bookings.ts) and as
 * it may be read back: the tools' argument schemas carry these limits, and the tools clean and check the text
 * again themselves, so a value the database would refuse never reaches the caller's "yes".
 *
 * Two kinds of limit, not to be mixed: a value stored as given (a name) is bounded as it is stored; a value the
 * tools read and normalise before storing (a phone number said in words, a time, a reason cut to fit) is bounded
 * as it is said — a sentence — and the stored form is bounded by the normalising (E.164, a timestamp, cleanText).
 */
import { storableText } from '../util/storable-text.js';

/** bookings.customer_name: 1–200 characters. */
export const NAME_MAX = 200;
/** bookings.notes: at most 2,000 characters. */
export const NOTES_MAX = 2000;
/** A reason recorded in booking_events (the REST API's limit); the caller's words for it are cut to fit (cleanText). */
export const REASON_MAX = 500;
/**
 * One value as the caller said it, before it is read: a sentence. A phone number in words is ~50 characters in
 * English ("five five five, two one two, …"), ~75 in Russian — far beyond the 40 the REST API allows for digits;
 * it is stored as E.164 (normalizePhone), so the spoken form is bounded only as speech.
 */
export const SAID_MAX = 200;
/** A phone number as the caller said it, digits or words (stored as E.164). */
export const SAID_PHONE_MAX = SAID_MAX;
/** A service as the caller named it; a time in the caller's words. */
export const SERVICE_MAX = SAID_MAX;
export const WHEN_MAX = SAID_MAX;
/** The caller's words of one turn, verbatim (a long sentence is a few hundred). */
export const WORDS_MAX = 2000;
/** A booking id: a UUID. */
export const BOOKING_ID_MAX = 36;

/** Control and format characters (NUL, newlines, bidi overrides) and unpaired surrogates: nothing a name holds. */
const NOT_IN_A_NAME = /[\p{Cc}\p{Cf}\p{Cs}]/gu;

/** A name as it may be read back and stored: such characters as spaces, spaces collapsed; null when nothing is left. */
export function cleanName(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const name = raw.replace(NOT_IN_A_NAME, ' ').replace(/\s+/g, ' ').trim();
  return name || null;
}

/** Too long for bookings.customer_name (counted in characters, as PostgreSQL and JSON Schema's maxLength count). */
export const nameTooLong = (name: string): boolean => [...name].length > NAME_MAX;

/** Free text (notes, a reason) as PostgreSQL stores it, at most `max` characters; null when empty. */
export function cleanText(raw: unknown, max: number): string | null {
  if (typeof raw !== 'string') return null;
  const text = storableText(raw).trim();
  return text ? [...text].slice(0, max).join('') : null;
}

/** The JSON Schema of a tool argument that is a string of at most `max` characters (and at least `min`). */
export const textProperty = (max: number, description: string, min?: number): Record<string, unknown> => ({
  type: 'string', ...(min ? { minLength: min } : {}), maxLength: max, description,
});
