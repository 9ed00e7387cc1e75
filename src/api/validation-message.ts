/**
 * The message of a schema failure, as a client reads it: the field as a dotted path (`body.config.greeting`), and
 * what it must be in words. Ajv's own text names a format by its regular expression (`must match pattern
 * "^(?!0000)[0-9]{4}-"`), lists every branch of a choice (`must match pattern …, must be null, must match a schema
 * in anyOf`) and leaves an unknown field unnamed (`must NOT have additional properties`).
 */
import { E164_PATTERN } from '../util/phone.js';
import { UUID_PATTERN } from '../util/uuid.js';
import { LABEL_PATTERN } from '../util/label.js';

export interface SchemaError {
  keyword?: string;
  instancePath?: string;
  message?: string;
  params?: {
    missingProperty?: string;
    additionalProperty?: string;
    allowedValue?: unknown;
    allowedValues?: unknown[];
    pattern?: string;
    format?: string;
    type?: string | string[];
    limit?: number;
    multipleOf?: number;
    i?: number;
    j?: number;
  };
}

const UUID = 'a UUID (such as 3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e)';
const PHONE = 'a phone number in E.164 (+, country code, number: +15551234567)';
const DATE_TIME = 'a date-time in RFC 3339 (2026-12-01T09:00:00Z)';
const DATE = 'a date, YYYY-MM-DD (2026-12-01)';
const TIME_OF_DAY = 'a time of day, HH:MM (09:30)';
const SLUG = '1 to 64 letters, digits, _ . or -';

/**
 * What each `pattern` of the API's schemas means. Keyed by the pattern's text; a test checks that every pattern in
 * /openapi.json has its words here (a new one fails it until it does).
 */
export const PATTERN_TEXT: Record<string, string> = {
  [UUID_PATTERN.source]: UUID,
  [UUID_PATTERN.source.replace(/\[0-9a-f\]/g, '[0-9a-fA-F]')]: UUID,
  [E164_PATTERN.source]: PHONE,
  '^\\+[1-9][0-9]{6,14}$': PHONE,
  '^\\+[0-9]{1,14}$': 'a number prefix in E.164 (+ and up to 14 digits: +1900)',
  '^(?!0000)[0-9]{4}-': DATE_TIME,
  '^[0-9]{4}-[0-9]{2}-[0-9]{2}$': DATE,
  '^\\d{4}-\\d{2}-\\d{2}$': DATE,
  '^([01][0-9]|2[0-3]):[0-5][0-9]$': TIME_OF_DAY,
  '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$': `${TIME_OF_DAY}, or 24:00 for midnight`,
  '^[A-Za-z][A-Za-z0-9_+\\-]*(/[A-Za-z0-9_+\\-]+){0,2}$': 'an IANA time zone (Europe/Berlin)',
  '^[A-Z]{2}$': 'a two-letter country code in capitals (ISO 3166: US)',
  '^[A-Z]{3}$': 'a three-letter currency code in capitals (ISO 4217: USD)',
  '^evt_[0-9a-f]{32}$': 'a webhook event id (evt_ and 32 hex digits)',
  '^(admin|system|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$': 'an API key id (a UUID), admin or system',
  '^[a-zA-Z0-9_.-]{1,64}$': SLUG,
  '^[a-z][a-z0-9_]{0,39}$': '1 to 40 lowercase letters, digits or _, starting with a letter',
  '^[a-z_][a-z0-9_]{0,39}$': '1 to 40 lowercase letters, digits or _, not starting with a digit',
  '^[A-Za-z_][A-Za-z0-9_]{0,63}$': '1 to 64 letters, digits or _, not starting with a digit',
  '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F]*$': 'text without control characters',
  [LABEL_PATTERN]: 'a name without control characters or direction overrides (U+202A–U+202E, U+2066–U+2069)',
  '^[\\x21-\\x7E]+$': 'a name of printable ASCII characters without spaces (a voice or model id: sonic-2, gpt-4o-mini)',
};

const FORMAT_TEXT: Record<string, string> = { uuid: UUID, 'date-time': DATE_TIME, date: DATE, email: 'an email address', uri: 'a URL' };

/** `/config/greeting` → `body.config.greeting`. */
function dotted(context: string, instancePath: string | undefined): string {
  return `${context}${instancePath ?? ''}`.replace(/\//g, '.');
}

/** A value outside a list of choices fails each choice separately: say the choices instead. */
function choicesMessage(errors: SchemaError[], path: string): string | null {
  const allowed: unknown[] = [];
  for (const e of errors) {
    if (e.keyword === 'const') allowed.push(e.params?.allowedValue);
    else if (e.keyword === 'enum') allowed.push(...(e.params?.allowedValues ?? []));
    else if (e.keyword !== 'anyOf' && e.keyword !== 'oneOf' && e.keyword !== 'type') return null;
  }
  const choices = allowed.filter((v) => v !== null && v !== undefined).map(String);
  return choices.length ? `${path} must be one of: ${choices.join(', ')}` : null;
}

/** JSON Schema's type names, as a client reads them. */
const TYPE_TEXT: Record<string, string> = {
  integer: 'a whole number',
  number: 'a number',
  string: 'text (a JSON string)',
  boolean: 'true or false',
  object: 'an object ({…})',
  array: 'a list ([…])',
  null: 'null',
};

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** Ajv's words for a size, a bound or a type ("must NOT have fewer than 1 items", "must be integer"), said plainly. */
function limitPhrase(e: SchemaError): string | null {
  const limit = e.params?.limit;
  switch (e.keyword) {
    case 'type': {
      const types = [e.params?.type ?? []].flat().flatMap((t) => String(t).split(','));
      return types.length ? `must be ${types.map((t) => TYPE_TEXT[t] ?? t).join(' or ')}` : null;
    }
    case 'minimum':
      return limit === undefined ? null : `must be at least ${limit}`;
    case 'maximum':
      return limit === undefined ? null : `must be at most ${limit}`;
    case 'exclusiveMinimum':
      return limit === undefined ? null : `must be more than ${limit}`;
    case 'exclusiveMaximum':
      return limit === undefined ? null : `must be less than ${limit}`;
    case 'multipleOf':
      return e.params?.multipleOf === undefined ? null : `must be a multiple of ${e.params.multipleOf}`;
    case 'minLength':
      return limit === undefined ? null : limit === 1 ? 'must not be empty' : `must be at least ${count(limit, 'character', 'characters')} long`;
    case 'maxLength':
      return limit === undefined ? null : `must be at most ${count(limit, 'character', 'characters')} long`;
    case 'minItems':
      return limit === undefined ? null : limit === 1 ? 'must list at least one item' : `must list at least ${count(limit, 'item', 'items')}`;
    case 'maxItems':
      return limit === undefined ? null : `must list at most ${count(limit, 'item', 'items')}`;
    case 'minProperties':
      return limit === undefined ? null : `must have at least ${count(limit, 'field', 'fields')}`;
    case 'maxProperties':
      return limit === undefined ? null : `must have at most ${count(limit, 'field', 'fields')}`;
    case 'uniqueItems':
      return e.params?.i === undefined || e.params.j === undefined ? null : `must not list the same item twice (items ${e.params.j} and ${e.params.i} are the same)`;
    default:
      return null;
  }
}

/** One failed keyword, as "must be …" where it can say so. */
function phrase(e: SchemaError): string {
  const plain = limitPhrase(e);
  if (plain) return plain;
  if (e.keyword === 'pattern') {
    const text = PATTERN_TEXT[e.params?.pattern ?? ''];
    if (text) return `must be ${text}`;
  }
  if (e.keyword === 'format') {
    const text = FORMAT_TEXT[e.params?.format ?? ''];
    if (text) return `must be ${text}`;
  }
  return e.message ?? 'is not valid';
}

/** The field a failure is about, as `details.field`: the missing or unknown property's own path where there is one. */
export function validationField(errors: SchemaError[], context: string): string {
  const first = errors[0];
  const path = dotted(context, first?.instancePath);
  const property = first?.params?.missingProperty ?? first?.params?.additionalProperty;
  return property ? `${path}.${property}` : path;
}

export function validationMessage(errors: SchemaError[], context: string): string {
  const first = errors[0];
  const path = dotted(context, first?.instancePath);
  if (!first) return `${context} is not valid`;
  if (first.params?.missingProperty) return `${path}.${first.params.missingProperty} is required`;
  const unknown = first.params?.additionalProperty;
  if (unknown && path === 'querystring') return `${path}.${unknown} is not a parameter of this route (unknown parameters are refused)`;
  if (unknown) return `${path}.${unknown} is not a field of ${path} (unknown fields are refused)`;
  // The branches of a choice (anyOf: an E.164 number or null) fail at the same value, then the choice itself.
  const same = errors.filter((e) => e.instancePath === first.instancePath);
  const choices = choicesMessage(same, path);
  if (choices) return choices;
  const phrases = [...new Set(same.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf').map(phrase))];
  if (phrases.length > 1 && phrases.every((p) => p.startsWith('must be '))) {
    return `${path} must be ${phrases.map((p) => p.slice('must be '.length)).join(', or ')}`;
  }
  return `${path} ${phrases.join(', or ')}`;
}
