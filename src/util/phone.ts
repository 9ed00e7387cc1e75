/**
 * The one E.164 form numbers are stored and compared in (contacts, consents, do-not-call entries, erasure):
 * libphonenumber-js's. `+4402079460000` and `+44 20 7946 0000` are both `+442079460000`.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { parsePhoneNumberFromString as parseWithTypes, type PhoneNumberType } from 'libphonenumber-js/max';

/** The shape of an E.164 number (what is stored, dialled and accepted where a schema says E.164). */
export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;
export const isE164 = (s: string): boolean => E164_PATTERN.test(s);

/** E.164 of a valid number (a national one read in `defaultCountry`), or null. */
export function normalisePhone(raw: string, defaultCountry?: string): string | null {
  const p = parsePhoneNumberFromString(raw.trim(), defaultCountry as CountryCode | undefined);
  return p && p.isValid() ? p.number : null;
}

const PLAIN_NUMBER = /^[\d\s()+\-./]*$/;

/**
 * The extension written after a number ("ext 5", "x12", ";ext=7", "доб. 123"), or undefined. normalisePhone drops
 * it: right for a number looked up or suppressed, wrong for one to dial, which would reach the switchboard.
 */
export function phoneExtension(raw: string, defaultCountry?: string): string | undefined {
  // Digits and punctuation alone carry no extension marker: the common row is not parsed a second time.
  if (PLAIN_NUMBER.test(raw)) return undefined;
  return parsePhoneNumberFromString(raw.trim(), defaultCountry as CountryCode | undefined)?.ext;
}

/** The form to store or look a number up in: normalised when valid, else as given (it then matches only itself). */
export const canonicalPhone = (phone: string): string => normalisePhone(phone) ?? phone;

/**
 * What kind of line an E.164 number is (fixed line, mobile, premium rate…), by libphonenumber-js's full ("max")
 * metadata (the default metadata checks little more than a number's length and cannot tell a type).
 * Undefined for a number the metadata does not know.
 */
export function phoneNumberType(e164: string): PhoneNumberType | undefined {
  return parseWithTypes(e164)?.getType();
}

/**
 * Numbers the caller pays extra to reach (premium rate, shared cost, and the universal access numbers some
 * countries charge that way): a leaked API key dialling them costs real money, so the dialer refuses them unless
 * OUTBOUND_ALLOW_PREMIUM_RATE says otherwise.
 */
const CALLER_CHARGED_TYPES: ReadonlySet<PhoneNumberType> = new Set(['PREMIUM_RATE', 'SHARED_COST', 'UAN']);

/** The shortest E.164 number (`+` and 7 digits): no shorter leading part of a number is looked up. */
const SHORTEST_E164 = 8;

/**
 * Also true for a number the metadata does not know as valid whose leading digits are a caller-charged number:
 * many networks take digits dialled after a complete number as an extension (overdialling), so
 * +49 900 1 234567 8 reaches +49 900 1 234567 — and the metadata, which knows no type for it, let it through.
 * A valid number is what it is; only an invalid one (a few parses more, once per dial) is read this way.
 */
export function isCallerChargedNumber(e164: string): boolean {
  const parsed = parseWithTypes(e164);
  if (parsed?.isValid()) return isCallerChargedType(parsed.getType());
  for (let end = e164.length - 1; end >= SHORTEST_E164; end--) {
    if (isCallerChargedType(phoneNumberType(e164.slice(0, end)))) return true;
  }
  return false;
}

const isCallerChargedType = (type: PhoneNumberType | undefined): boolean => type !== undefined && CALLER_CHARGED_TYPES.has(type);
