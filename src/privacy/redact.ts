/**
 * Redaction of personal data in stored text (transcript turns, outcome summaries and extracted values): card
 * numbers, email addresses and phone numbers become `[card]`, `[email]`, `[phone]`. Pure functions, no I/O.
 *
 * - cards: a run of digits, grouped by single spaces, dashes or commas, whose first 13–19 digits pass the Luhn
 *   check; the whole run goes, so the security code or expiry said straight after the number goes with it (order
 *   and booking numbers are left alone unless they happen to begin Luhn-valid).
 * - emails: local@domain.tld, Unicode letters allowed (иван@пример.рф).
 * - phones: "+" and 8–15 digits (E.164, with spaces, dashes, dots or parentheses); national formats of 10–11
 *   digits with or without separators ((555) 123-4567, 8 912 345-67-89); US local 555-1234; and seven or more
 *   digits said as words in a row ("five five five one two three four", "восемь девять один два…").
 *   Dates (2024-05-01) and short numbers (order 12345) are not hit.
 */

export const REDACT_RULES = ['cards', 'emails', 'phones'] as const;
export type RedactRule = (typeof REDACT_RULES)[number];

/** What a bot redacts when its config has no `privacy.redact`: card numbers only. */
export const DEFAULT_REDACT_RULES: readonly RedactRule[] = ['cards'];

/** Up to 30 digits: a card number with its security code and expiry said in one breath is 23. */
const CARD = /(?<!\d)\d(?:(?:[ -]|, ?)?\d){12,29}(?!\d)/g;
/** An email address (the one pattern for redaction and the safe-speech check; linear on any input). */
export const EMAIL_PATTERN = /(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]{1,64}@[\p{L}\p{N}-]{1,63}(?:\.[\p{L}\p{N}-]{1,63})*\.\p{L}{2,24}(?![\p{L}\p{N}])/gu;
// A run that starts with "+", "(" or a digit and continues with digits and phone separators.
const PHONE = /(?<![\p{L}\p{N}+])(?:\+\s?)?\(?\d(?:[\s().-]{0,2}\d){6,16}(?![\p{L}\p{N}])/gu;
const DATE = /\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}/;
const US_LOCAL = /^\d{3}[-. ]\d{4}$/;

const DIGIT_WORDS = [
  'zero', 'oh', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine',
  'ноль', 'нуль', 'один', 'одна', 'два', 'две', 'три', 'четыре', 'пять', 'шесть', 'семь', 'восемь', 'девять',
];
const DIGIT_WORD = `(?:${DIGIT_WORDS.join('|')}|\\d)`;
// Seven or more digit words (or single digits among them) separated by spaces, commas or dashes.
const SPOKEN = new RegExp(`(?<![\\p{L}\\p{N}])${DIGIT_WORD}(?:[\\s,-]{1,3}${DIGIT_WORD}){6,}(?![\\p{L}\\p{N}])`, 'giu');

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * Whether a digit run is, or begins with, a Luhn-valid card number of 13–19 digits. A grouped run ("4111 1111 1111
 * 1111 123") may be cut only where a group ends: the card, then its security code or expiry. An ungrouped run is
 * judged whole: 20 digits or more in one piece is a reference number, not a card.
 */
function startsWithCardNumber(run: string): boolean {
  const groups = run.split(/[ ,-]+/);
  const digits = groups.join('');
  let n = 0;
  for (const g of groups) {
    n += g.length;
    if (n > 19) break;
    if (n >= 13 && luhnValid(digits.slice(0, n))) return true;
  }
  return false;
}

function looksLikePhone(candidate: string): boolean {
  const digits = candidate.replace(/\D/g, '');
  if (digits.length < 7 || digits.length > 15) return false;
  if (candidate.trimStart().startsWith('+')) return digits.length >= 8;
  if (DATE.test(candidate)) return false;
  if (US_LOCAL.test(candidate)) return true;
  return digits.length >= 10 && digits.length <= 11;
}

/** `text` with the data the rules name replaced. */
export function redact(text: string, rules: readonly RedactRule[]): string {
  if (rules.length === 0 || text.length === 0) return text;
  let out = text;
  // Emails first (their local part may hold digits), then cards (before phones: a card is a long digit run).
  if (rules.includes('emails')) out = out.replace(EMAIL_PATTERN, '[email]');
  if (rules.includes('cards')) {
    out = out.replace(CARD, (m) => (startsWithCardNumber(m) ? '[card]' : m));
  }
  if (rules.includes('phones')) {
    out = out.replace(PHONE, (m) => (looksLikePhone(m) ? '[phone]' : m));
    out = out.replace(SPOKEN, '[phone]');
  }
  return out;
}

/** Every string inside a JSON value redacted (objects and arrays walked; keys kept). */
export function redactDeep<T>(value: T, rules: readonly RedactRule[]): T {
  if (rules.length === 0) return value;
  if (typeof value === 'string') return redact(value, rules) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, rules)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redactDeep(v, rules);
    return out as T;
  }
  return value;
}

/** The rules a bot's config asks for (`config.privacy.redact`), the default when it says nothing. */
export function redactRulesOf(config: { privacy?: { redact?: readonly string[] } } | null | undefined): RedactRule[] {
  const asked = config?.privacy?.redact;
  if (!Array.isArray(asked)) return [...DEFAULT_REDACT_RULES];
  return REDACT_RULES.filter((r) => asked.includes(r));
}
