/**
 * The one E.164 form numbers are stored and compared in (contacts, consents, do-not-call entries, erasure):
 * libphonenumber-js's. `+4402079460000` and `+44 20 7946 0000` are both `+442079460000`.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

/** The shape of an E.164 number (what is stored, dialled and accepted where a schema says E.164). */
export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;
export const isE164 = (s: string): boolean => E164_PATTERN.test(s);

/** E.164 of a valid number (a national one read in `defaultCountry`), or null. */
export function normalisePhone(raw: string, defaultCountry?: string): string | null {
  const p = parsePhoneNumberFromString(raw.trim(), defaultCountry as CountryCode | undefined);
  return p && p.isValid() ? p.number : null;
}

/** The form to store or look a number up in: normalised when valid, else as given (it then matches only itself). */
export const canonicalPhone = (phone: string): string => normalisePhone(phone) ?? phone;
