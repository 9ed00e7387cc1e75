import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { badRequest } from '../errors.js';

/** Region assumed for numbers without a country code: the config's, else from the bot's language. */
export function defaultRegionFor(language: 'en' | 'ru', configured?: string): CountryCode {
  return (configured ?? (language === 'ru' ? 'RU' : 'US')) as CountryCode;
}

/** E.164 form of a customer's phone number; PARLEY_ERR_VALIDATION when it is not a possible number. */
export function normalizePhone(raw: string, region: CountryCode): string {
  const parsed = parsePhoneNumberFromString(raw.trim(), region);
  if (!parsed || !parsed.isPossible()) throw badRequest('customer phone is not a valid phone number', { field: 'customerPhone' });
  return parsed.number;
}
