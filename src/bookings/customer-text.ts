/**
 * What a caller (or the model speaking for one) gives the booking tools as free text — a name, notes, a reason —
 * as the database stores it (migrations/0020_bookings.sql; the REST API's limits in api/routes/bookings.ts) and as
 * it may be read back: the tools' argument schemas carry these limits, and the tools clean and check the text
 * again themselves, so a value the database would refuse never reaches the caller's "yes".
 */
import { storableText } from '../util/storable-text.js';

/** bookings.customer_name: 1–200 characters. */
export const NAME_MAX = 200;
/** bookings.notes: at most 2,000 characters. */
export const NOTES_MAX = 2000;
/** A reason recorded in booking_events (the REST API's limit). */
export const REASON_MAX = 500;
/** A spoken phone number (the REST API's limit for customer_phone). */
export const PHONE_MAX = 40;
/** A service as the caller named it; a time in the caller's words: a sentence at most. */
export const SERVICE_MAX = 200;
export const WHEN_MAX = 200;
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
