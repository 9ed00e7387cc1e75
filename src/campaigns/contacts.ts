/**
 * Contacts and do-not-call entries from a client (JSON or CSV), checked before anything is stored: numbers
 * normalised to E.164 with libphonenumber-js (a national number needs `default_country`), time zones IANA,
 * variables short strings with simple names. Bad rows are reported by row number, never stored; CSV uploads
 * are bounded in bytes (route body limit) and rows.
 */
import { parse } from 'csv-parse/sync';
import { badRequest } from '../errors.js';
import { normalisePhone, phoneExtension } from '../util/phone.js';
import type { ContactInput } from './repo.js';
import type { VoiceConsent } from './suppression.js';
import { canonicalZone } from '../util/time-zone.js';
import { LABEL_PATTERN } from '../util/label.js';

export const MAX_ROWS = 10_000;
export const MAX_CSV_BYTES = 2 * 1024 * 1024;
export const VARIABLE_NAME = /^[a-z_][a-z0-9_]{0,39}$/;
const MAX_VARIABLES = 20;
/** A contact's name, as the API's names (api/schemas.ts Label): a bad one is its row's error, not the upload's. */
const LABEL = new RegExp(LABEL_PATTERN, 'u');
/** phone, name, time_zone and the three consent columns, then the variables. */
const MAX_CSV_COLUMNS = 6 + MAX_VARIABLES;
const MAX_VARIABLE_LENGTH = 200;

export interface RawContact {
  phone: string;
  name?: string | undefined;
  time_zone?: string | undefined;
  variables?: Record<string, string> | undefined;
  consent?: { voice: VoiceConsent; source?: string | undefined; recorded_at?: string | undefined } | undefined;
}

export interface CheckedContact extends ContactInput {
  consent: { voice: VoiceConsent; source: string | null; recordedAt: Date } | null;
}

export interface RowError {
  row: number;
  error: string;
}

export function checkContacts(raw: RawContact[], defaultCountry?: string): { contacts: CheckedContact[]; errors: RowError[] } {
  const contacts: CheckedContact[] = [];
  const errors: RowError[] = [];
  raw.forEach((r, i) => {
    const row = i + 1;
    const phone = normalisePhone(r.phone ?? '', defaultCountry);
    if (!phone) return void errors.push({ row, error: `not a valid phone number: ${String(r.phone).slice(0, 40)}` });
    // A campaign dials the number alone: the extension would be lost and the switchboard rung, not the person.
    const ext = phoneExtension(r.phone, defaultCountry);
    if (ext) return void errors.push({ row, error: `the number has an extension ${ext.slice(0, 10)}: campaigns dial numbers without extensions; give the person's direct number` });
    const given = r.time_zone?.trim() || null;
    // Stored (and listed) in its canonical spelling: "europe/berlin" is Europe/Berlin.
    const zone = given ? canonicalZone(given) : null;
    if (given && !zone) return void errors.push({ row, error: `unknown time zone: ${given.slice(0, 64)}` });
    const variables: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.variables ?? {})) {
      if (!VARIABLE_NAME.test(k)) return void errors.push({ row, error: `variable names are lower-case letters, digits and _: ${k.slice(0, 40)}` });
      if (typeof v !== 'string' || v.length > MAX_VARIABLE_LENGTH || v.includes('\0')) return void errors.push({ row, error: `variable ${k} must be text of at most ${MAX_VARIABLE_LENGTH} characters` });
      variables[k] = v;
    }
    if (Object.keys(variables).length > MAX_VARIABLES) return void errors.push({ row, error: `at most ${MAX_VARIABLES} variables` });
    const name = r.name?.trim() || null;
    if (name && (name.length > 200 || name.includes('\0'))) return void errors.push({ row, error: 'name is at most 200 characters' });
    if (name && !LABEL.test(name)) return void errors.push({ row, error: 'name has control characters or direction overrides' });
    let consent: CheckedContact['consent'] = null;
    if (r.consent) {
      if (!CONSENT.has(r.consent.voice)) return void errors.push({ row, error: 'consent voice is granted, denied or unknown' });
      const at = r.consent.recorded_at ? new Date(r.consent.recorded_at) : new Date();
      if (Number.isNaN(at.getTime()) || at.getUTCFullYear() < 1970 || at.getUTCFullYear() > 9999) return void errors.push({ row, error: 'consent.recorded_at is not a date-time' });
      consent = { voice: r.consent.voice, source: r.consent.source?.slice(0, 200) ?? null, recordedAt: at };
    }
    contacts.push({ phone, name, time_zone: zone, variables, consent });
  });
  return { contacts, errors };
}

const CONSENT = new Set(['granted', 'denied', 'unknown']);

/** Rows of a CSV with a header line. Columns: phone (required), name, time_zone, consent_voice, consent_source, consent_recorded_at; every other column is a variable. */
export function contactsFromCsv(text: string): RawContact[] {
  const records = parseCsv(text);
  return records.map((r) => {
    const { phone = '', name, time_zone, consent_voice, consent_source, consent_recorded_at, ...rest } = r;
    const variables = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== ''));
    const voice = consent_voice?.trim().toLowerCase();
    return {
      phone, name, time_zone, variables,
      ...(voice ? { consent: { voice: (CONSENT.has(voice) ? voice : 'invalid') as VoiceConsent, source: consent_source, recorded_at: consent_recorded_at } } : {}),
    };
  });
}

export interface RawNumber {
  phone: string;
  reason?: string | undefined;
}

/** phone[,reason] rows with a header line. */
export function dncFromCsv(text: string): RawNumber[] {
  return parseCsv(text).map((r) => ({ phone: r.phone ?? '', reason: r.reason }));
}

/** Do-not-call numbers checked like contacts: normalised, reasons short; bad rows reported by row number. */
export function checkNumbers(raw: RawNumber[], defaultCountry?: string): { numbers: { phone: string; reason: string | null }[]; errors: RowError[] } {
  const numbers: { phone: string; reason: string | null }[] = [];
  const errors: RowError[] = [];
  raw.forEach((r, i) => {
    const phone = normalisePhone(r.phone, defaultCountry);
    if (!phone) errors.push({ row: i + 1, error: `not a valid phone number: ${r.phone.slice(0, 40)}` });
    else if (r.reason && (r.reason.length > 500 || r.reason.includes('\0'))) errors.push({ row: i + 1, error: 'reason is at most 500 characters' });
    else numbers.push({ phone, reason: r.reason ?? null });
  });
  return { numbers, errors };
}

function parseCsv(text: string): Record<string, string>[] {
  if (Buffer.byteLength(text) > MAX_CSV_BYTES) throw badRequest(`CSV uploads are at most ${MAX_CSV_BYTES} bytes`);
  let records: Record<string, string>[];
  try {
    records = parse(text, {
      // A wide header is refused before any row is read: every row becomes an object with one key per column.
      columns: (header: string[]) => {
        if (header.length > MAX_CSV_COLUMNS) throw new Error(`the header has ${header.length} columns; at most ${MAX_CSV_COLUMNS}`);
        const names = header.map((h) => h.trim().toLowerCase());
        // A column named twice would keep one of the two silently (phone,name,phone: which number?).
        const twice = names.find((n, i) => names.indexOf(n) !== i);
        if (twice !== undefined) throw new Error(`the header names the column "${twice.slice(0, 40)}" twice`);
        // Each row is an object keyed by these names: a __proto__ column's values were dropped without a word.
        if (names.includes('__proto__')) throw new Error('a column may not be named __proto__');
        return names;
      },
      skip_empty_lines: true, trim: true, bom: true, max_record_size: 8192, to: MAX_ROWS + 1, relax_column_count: false,
    }) as Record<string, string>[];
  } catch (err) {
    throw badRequest(`CSV is not valid: ${(err as Error).message.slice(0, 200)}`);
  }
  if (records.length > MAX_ROWS) throw badRequest(`CSV uploads are at most ${MAX_ROWS} rows`);
  if (records.length === 0) throw badRequest('CSV has no rows (the first line is the header)');
  const columns = Object.keys(records[0]!);
  if (!columns.includes('phone')) throw badRequest('CSV needs a phone column');
  const bad = columns.find((c) => !VARIABLE_NAME.test(c));
  if (bad !== undefined) throw badRequest(`CSV column names are lower-case letters, digits and _: ${bad.slice(0, 40)}`);
  return records;
}
