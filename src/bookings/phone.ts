import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { badRequest } from '../errors.js';

/** Region assumed for numbers without a country code: the config's, else from the bot's language. */
export function defaultRegionFor(language: 'en' | 'ru', configured?: string): CountryCode {
  return (configured ?? (language === 'ru' ? 'RU' : 'US')) as CountryCode;
}

/**
 * E.164 form of a customer's phone number; PARLEY_ERR_VALIDATION when it is not a possible number. Possible, not
 * valid (util/phone.ts, for numbers Parley dials or blocks): a customer's booking is kept even when the phone
 * metadata does not know the number's range yet; the E.164 form is the same either way.
 */
export function normalizePhone(raw: string, region: CountryCode): string {
  const parsed = parsePhoneNumberFromString(raw.trim(), region);
  if (!parsed || !parsed.isPossible()) throw badRequest('customer phone is not a valid phone number', { field: 'customerPhone' });
  return parsed.number;
}

/**
 * The E.164 forms of a number as read in each of `regions` (one when it has a country code);
 * PARLEY_ERR_VALIDATION when it is a possible number in none.
 */
export function phoneForms(raw: string, regions: readonly CountryCode[]): string[] {
  const forms = new Set<string>();
  for (const region of regions.length ? regions : (['US'] as CountryCode[])) {
    const parsed = parsePhoneNumberFromString(raw.trim(), region);
    if (parsed?.isPossible()) forms.add(parsed.number);
  }
  if (forms.size === 0) throw badRequest('phone is not a valid phone number', { field: 'phone' });
  return [...forms];
}

/**
 * What Twilio puts in `From` when the caller's number is withheld or unknown: made-up numbers ("+266696687"
 * RESTRICTED, "+86282452253" UNKNOWN, "+7378742833" PRIVATE, "+2562533" BLOCKED — some of them possible numbers)
 * or words. None of them is anyone's number: two callers who withheld theirs must not share one identity.
 */
const WITHHELD_CALLER_IDS = new Set([
  '+266696687', '+86282452253', '+7378742833', '+2562533',
  'anonymous', 'restricted', 'unavailable', 'unknown', 'private', 'blocked', 'withheld',
]);

/**
 * The caller's own number from caller ID, E.164: null on a web call, when the number is withheld (Twilio's
 * made-up numbers above) or not a phone number at all. The one place the booking tools read `ctx.callerNumber`.
 */
export function callerIdNumber(callerNumber: string | null | undefined, region: CountryCode): string | null {
  const raw = callerNumber?.trim() ?? '';
  if (!raw || WITHHELD_CALLER_IDS.has(raw.toLowerCase())) return null;
  try {
    const phone = normalizePhone(raw, region);
    return WITHHELD_CALLER_IDS.has(phone) ? null : phone;
  } catch {
    return null;
  }
}
