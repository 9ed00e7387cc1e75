/** Schemas shared by several routes. Everything here shows up in /openapi.json. */
import { Type, type TSchema } from '@sinclair/typebox';
import { isStorableDate } from '../db/param-guard.js';
import { badRequest } from '../errors.js';
import { LABEL_PATTERN } from '../util/label.js';
import { E164_PATTERN } from '../util/phone.js';
import { UUID_PATTERN } from '../util/uuid.js';

/** A UUID in its plain form: the `uuid` format alone also accepts a `urn:uuid:` prefix, which PostgreSQL refuses. */
export const Uuid = Type.String({ format: 'uuid', pattern: UUID_PATTERN.source.replace(/\[0-9a-f\]/g, '[0-9a-fA-F]') });
export const IdParams = Type.Object({ id: Uuid });
export const E164 = Type.String({ pattern: E164_PATTERN.source, description: 'Phone number in E.164, e.g. +15551234567' });
export const Timestamp = Type.String({ format: 'date-time' });
/** A name people read in lists and logs: no control characters nor direction overrides (util/label.ts). */
export const Label = (o: { minLength: number; maxLength: number; default?: string; description?: string }) => Type.String({ ...o, pattern: LABEL_PATTERN });
/** A date-time a client sends: RFC 3339 with a year PostgreSQL stores (0001–9999). Parse it with parseInstant. */
export const DateTimeInput = (description?: string) =>
  Type.String({ format: 'date-time', pattern: '^(?!0000)[0-9]{4}-', maxLength: 40, ...(description ? { description } : {}) });

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code, PARLEY_ERR_…' }),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { $id: 'ErrorResponse' },
);

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'next_cursor from the previous page' })),
};

export function Page<T extends TSchema>(item: T) {
  return Type.Object({ data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) });
}

/** Standard error responses a route can produce, for the OpenAPI document. */
export function errors(...codes: number[]): Record<number, typeof ErrorResponse> {
  return Object.fromEntries(codes.map((c) => [c, ErrorResponse]));
}

/** A validated instant from a DateTimeInput value, or a 400 naming the field. */
export function parseInstant(value: string, field: string): Date {
  const d = new Date(value);
  if (!isStorableDate(d)) throw badRequest(`${field} is not a valid date-time`, { field });
  return d;
}

/**
 * A list's optional time range from its query (`from`, `to`), each a DateTimeInput: a `to` before `from` is a 400
 * naming `querystring.to` (an empty list would read as "nothing happened then").
 */
export function parseRange(q: { from?: string | undefined; to?: string | undefined }): { from?: Date; to?: Date } {
  const from = q.from ? parseInstant(q.from, 'querystring.from') : undefined;
  const to = q.to ? parseInstant(q.to, 'querystring.to') : undefined;
  if (from && to && to < from) throw badRequest('to is before from', { field: 'querystring.to' });
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}

/**
 * The list a cursor was made by. A cursor names it, and another list refuses it (400): the parts of many lists have
 * the same kinds (a time and an id), so a cursor given to the wrong list was read as a position in it — a page of
 * plausible rows, silently not the next one.
 */
export type CursorList =
  | 'calls' | 'bookings' | 'bots' | 'api_keys' | 'phone_numbers' | 'documents' | 'campaigns' | 'campaign_contacts'
  | 'campaign_attempts' | 'dnc' | 'audit_log' | 'webhook_deliveries' | 'admin_companies' | 'admin_phone_numbers';

/** Opaque keyset cursor of `list`. */
export function encodeCursor(list: CursorList, parts: (string | number)[]): string {
  return Buffer.from(JSON.stringify([list, ...parts])).toString('base64url');
}

type CursorKind = 'timestamp' | 'uuid' | 'int' | 'e164';
type CursorValue<K extends CursorKind> = K extends 'timestamp' ? Date : K extends 'int' ? number : string;

/**
 * Decodes a cursor made by encodeCursor for `list` into exactly the parts a route expects, each checked, or throws a
 * 400. A cursor is client input: nothing in it reaches a query unchecked.
 */
export function decodeCursor<const K extends readonly CursorKind[]>(cursor: string, list: CursorList, kinds: K): { [I in keyof K]: CursorValue<K[I]> } {
  const invalid = () => badRequest('cursor is not valid', { field: 'querystring.cursor' });
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parts) || parts[0] !== list || parts.length !== kinds.length + 1) throw invalid();
  return kinds.map((kind, i) => {
    const v: unknown = parts[i + 1];
    if (kind === 'int') {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid();
      return v;
    }
    if (typeof v !== 'string' || v.length > 64) throw invalid();
    if (kind === 'uuid' || kind === 'e164') {
      if (!(kind === 'uuid' ? UUID_PATTERN : E164_PATTERN).test(v)) throw invalid();
      return v;
    }
    const d = new Date(v);
    if (!isStorableDate(d)) throw invalid();
    return d;
  }) as { [I in keyof K]: CursorValue<K[I]> };
}

/** The last row of the previous page of a list ordered by (created_at desc, id desc), from its cursor. */
export function createdKeysetAfter(list: CursorList, cursor: string | undefined): { createdAt: Date; id: string } | undefined {
  if (!cursor) return undefined;
  const [createdAt, id] = decodeCursor(cursor, list, ['timestamp', 'uuid']);
  return { createdAt, id };
}

/**
 * One page of such a list, from `limit + 1` rows read: the first `limit`, and the cursor of the next page when
 * the extra row shows there is one.
 */
export function createdKeysetPage<R extends { created_at: Date; id: string }>(list: CursorList, rows: R[], limit: number): { page: R[]; next_cursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, next_cursor: rows.length > limit && last ? encodeCursor(list, [last.created_at.toISOString(), last.id]) : null };
}
