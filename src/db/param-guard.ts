/**
 * Every value bound to a query passes here before postgres.js sees it.
 *
 * Why: postgres.js serialises parameters while it writes to a shared, pipelined connection. A serialiser that
 * throws there (an Invalid Date, JSON too deep for JSON.stringify, an undefined value) leaves the connection's
 * queue of in-flight queries out of step with the server, and later results are handed to the wrong queries —
 * another tenant's rows. So a bad value is refused here, before any query object exists, and the serialisers
 * installed in connect.ts cannot throw at all (a value that slips past both fails on the server, alone).
 *
 * Refused: undefined, Invalid Date and dates outside PostgreSQL's range, non-finite numbers, strings with NUL
 * (PostgreSQL text cannot hold one), JSON nested deeper than MAX_JSON_DEPTH, cyclic or not serialisable.
 */
import type postgres from 'postgres';
import type { Db } from './sql.js';

/** Deeper JSON than any document Parley stores; a request body is held to a lower limit (app.ts). */
export const MAX_JSON_DEPTH = 64;
/** Years PostgreSQL timestamptz and JavaScript Date both represent without surprises. */
const MIN_YEAR = 1;
const MAX_YEAR = 9999;

export class UnsafeParameterError extends Error {
  constructor(readonly reason: string) {
    super(`Refused a query parameter: ${reason}`);
    this.name = 'UnsafeParameterError';
  }
}

/** True for a Date PostgreSQL can store and JavaScript can print back. */
export function isStorableDate(d: Date): boolean {
  const t = d.getTime();
  if (!Number.isFinite(t)) return false;
  const y = d.getUTCFullYear();
  return y >= MIN_YEAR && y <= MAX_YEAR;
}

function checkString(s: string): void {
  if (s.includes('\u0000')) throw new UnsafeParameterError('text contains a NUL character');
}

/** Walks a JSON value iteratively (no recursion to overflow) and checks what JSON.stringify and jsonb will do with it. */
export function checkJsonValue(root: unknown, maxDepth = MAX_JSON_DEPTH): void {
  const stack: { v: unknown; depth: number }[] = [{ v: root, depth: 0 }];
  const seen = new Set<object>();
  while (stack.length) {
    const { v, depth } = stack.pop()!;
    if (v === null || typeof v === 'boolean') continue;
    if (typeof v === 'string') { checkString(v); continue; }
    if (typeof v === 'number') { if (!Number.isFinite(v)) throw new UnsafeParameterError('JSON holds a non-finite number'); continue; }
    if (typeof v === 'bigint' || typeof v === 'symbol' || typeof v === 'function') throw new UnsafeParameterError(`JSON holds a ${typeof v}`);
    if (v === undefined) continue; // dropped by JSON.stringify inside objects, null inside arrays
    if (v instanceof Date) { if (!isStorableDate(v)) throw new UnsafeParameterError('JSON holds an invalid date'); continue; }
    if (depth >= maxDepth) throw new UnsafeParameterError(`JSON is nested deeper than ${maxDepth} levels`);
    const o = v as object;
    if (seen.has(o)) throw new UnsafeParameterError('JSON is cyclic');
    seen.add(o);
    if (typeof (o as { toJSON?: unknown }).toJSON === 'function') continue;
    const children = Array.isArray(o) ? o : Object.values(o);
    for (const c of children) stack.push({ v: c, depth: depth + 1 });
    if (!Array.isArray(o)) for (const k of Object.keys(o)) checkString(k);
  }
}

/** postgres.js marks what it builds (fragments, helpers, typed parameters) with these classes' shapes. */
interface ParameterLike { value: unknown; type: number }
const isParameter = (v: object): v is ParameterLike => v.constructor?.name === 'Parameter' && 'value' in v;
const JSON_TYPES = new Set([114, 3802]);

export function checkParameter(v: unknown): void {
  if (v === undefined) throw new UnsafeParameterError('a value is undefined');
  if (v === null || typeof v === 'boolean' || typeof v === 'bigint') return;
  if (typeof v === 'string') return checkString(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new UnsafeParameterError('a number is not finite');
    return;
  }
  if (typeof v !== 'object') throw new UnsafeParameterError(`a ${typeof v} cannot be stored`);
  if (v instanceof Date) {
    if (!isStorableDate(v)) throw new UnsafeParameterError('a date is invalid or out of range');
    return;
  }
  if (v instanceof Uint8Array) return;
  if (Array.isArray(v)) {
    for (const x of v) checkParameter(x);
    return;
  }
  if (isParameter(v)) {
    if (JSON_TYPES.has(v.type)) return checkJsonValue(v.value);
    return checkParameter(v.value);
  }
  // Fragments and helpers built by the guarded sql were checked when they were made; a plain object is
  // a helper's row (sql(obj)): check its values.
  if (v.constructor === Object) for (const x of Object.values(v)) checkParameter(x);
}

function checkArgs(args: readonly unknown[]): void {
  for (const a of args) checkParameter(a);
}

const isTemplate = (a: unknown): a is TemplateStringsArray => Array.isArray(a) && 'raw' in a;

/**
 * The guarded sql: the same postgres.js object, with every tagged query, fragment, helper, json(),
 * unsafe() and transaction checked as above. Guard errors are thrown before a query object exists.
 */
export function guardSql<T extends Db>(sql: T): T {
  return new Proxy(sql, {
    apply(target, thisArg, args: unknown[]) {
      if (isTemplate(args[0])) checkArgs(args.slice(1));
      else checkArgs(args.slice(0, 1));
      return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args);
    },
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      switch (prop) {
        case 'json':
          return (v: unknown) => { checkJsonValue(v); return (value as (x: unknown) => unknown).call(target, v); };
        case 'unsafe':
          return (query: string, params?: unknown[], options?: unknown) => {
            if (params) checkArgs(params);
            return (value as (...a: unknown[]) => unknown).call(target, query, params, options);
          };
        case 'begin':
        case 'savepoint':
          return (...a: unknown[]) => {
            const fn = a.at(-1) as (tx: postgres.TransactionSql) => unknown;
            return (value as (...x: unknown[]) => unknown).call(target, ...a.slice(0, -1), (tx: postgres.TransactionSql) => fn(guardSql(tx)));
          };
        default:
          return (value as (...a: unknown[]) => unknown).bind(target);
      }
    },
  });
}
