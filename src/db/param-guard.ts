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
 *
 * The same proxy watches every query it lets through (watchQuery): one not answered within the handle's deadline
 * is given up with QueryDeadlineError, and a database out of resources (SQLSTATE class 53) is noted for /readyz
 * (databaseOutOfResourcesAt).
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
 * A query (queued or running) was not answered within its handle's deadline (guardSql's `deadlineMs`). Its code is
 * one isDatabaseUnreachable (retry.ts) knows: the API answers 503 PARLEY_ERR_UNAVAILABLE, and work that waits out
 * an outage (retryWhileUnreachable) tries again. From here a stalled database and a query too heavy for the deadline
 * look the same (no answer in time), so the message says what is known and names both.
 */
export class QueryDeadlineError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly deadlineMs: number) {
    super(`The database did not answer within ${deadlineMs} ms (unreachable, overloaded, or the query too heavy for the deadline)`);
    this.name = 'QueryDeadlineError';
  }
}

export interface GuardOptions {
  /**
   * The most a query waits for its answer, queued for a connection and running (ms); null or absent: no deadline.
   * A transaction's own statements (BEGIN, then COMMIT or ROLLBACK) get the same.
   */
  deadlineMs?: number | null;
}

/** What every handle made from one root sql shares (its transactions, withQueryDeadline's handles). */
interface GuardState {
  /** When a query last failed with SQLSTATE class 53 (disk full, out of memory, too many connections). */
  outOfResourcesAt: number | null;
}

/** A guarded handle → the bare postgres.js object behind it, its options and its root's state. */
const guardedHandles = new WeakMap<object, { bare: Db; options: GuardOptions; state: GuardState }>();

/** SQLSTATE class 53, insufficient resources: 53100 disk full, 53200 out of memory, 53300 too many connections. */
export const isOutOfResources = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^53[0-9A-Z]{3}$/.test(code);
};

/** When a query through this handle (or any made from the same root) last met SQLSTATE class 53; null: never. */
export function databaseOutOfResourcesAt(sql: Db): number | null {
  return guardedHandles.get(sql)?.state.outOfResourcesAt ?? null;
}

/** Work nobody waits on (background jobs, a live call's transcript and usage writes): bounded, but long queries fit. */
export const BACKGROUND_QUERY_DEADLINE_MS = 120_000;

/**
 * The same database with another query deadline (null: none), for work nobody waits on: migrations, background
 * jobs, a live call's transcript writes. A bare sql comes back guarded.
 */
export function withQueryDeadline<T extends Db>(sql: T, deadlineMs: number | null): T {
  const known = guardedHandles.get(sql);
  return known ? guard(known.bare as T, { ...known.options, deadlineMs }, known.state) : guardSql(sql, { deadlineMs });
}

/**
 * The handle for work nobody waits on: BACKGROUND_QUERY_DEADLINE_MS where `sql` has a deadline (PostgreSQL), none
 * where it has none (embedded PGlite, whose queries no network can stall).
 */
export function backgroundHandle<T extends Db>(sql: T): T {
  return guardedHandles.get(sql)?.options.deadlineMs == null ? sql : withQueryDeadline(sql, BACKGROUND_QUERY_DEADLINE_MS);
}

/** SQLSTATE query_canceled: what a statement stopped by statement_timeout (or a cancel request) fails with. */
const QUERY_CANCELED = '57014';

/** The statement that holds the rest of a transaction's statements to `deadlineMs` on the server. */
export const statementTimeout = (deadlineMs: number): string => `set local statement_timeout = ${Math.max(1, Math.ceil(deadlineMs))}`;

interface PendingQuery {
  then: PromiseLike<unknown>['then'];
  /** Set by postgres.js when the query is handed to a connection (its backend's pid and secret). */
  state?: unknown;
  cancel(): unknown;
}

const isQuery = (v: unknown): v is PendingQuery =>
  typeof v === 'object' && v !== null && typeof (v as PendingQuery).then === 'function' && typeof (v as PendingQuery).cancel === 'function';

/**
 * Settles with `start`'s outcome, or past `deadlineMs` (null: never) rejects with QueryDeadlineError and calls
 * `onExpired`. A failure of class 53 is noted in `state`.
 */
function answerWithin<T>(
  state: GuardState,
  deadlineMs: number | null | undefined,
  start: (resolve: (v: T) => void, reject: (e: unknown) => void) => void,
  onExpired?: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = deadlineMs == null ? null : setTimeout(() => {
      reject(new QueryDeadlineError(deadlineMs));
      onExpired?.();
    }, deadlineMs);
    start(
      (v) => {
        if (timer) clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        if (timer) clearTimeout(timer);
        if (isOutOfResources(e)) state.outOfResourcesAt = Date.now();
        reject(e);
      },
    );
  });
}

/**
 * Watches a postgres.js query from the moment it is awaited (a query is lazy: `then` runs it; a fragment nested in
 * another query is never awaited and never runs on its own). The deadline covers the wait for a connection and
 * the run. Past it the caller gets QueryDeadlineError, and the query:
 * - still queued for a connection: is taken out of the queue (query.cancel()) and never runs;
 * - already sent: is left to finish. Its answer, whenever it comes, goes to it and is dropped: postgres.js matches
 *   answers to queries in order, so the connection never gets out of step with the server and serves the next
 *   query correctly once the server answers. It is not cancelled: a cancel request names the backend, not the
 *   statement, and one arriving after the query ended would cancel whatever another caller runs next on that
 *   connection. A write given up this way may still be applied, as with any connection lost mid-statement.
 */
function watchQuery<Q extends PendingQuery>(query: Q, state: GuardState, deadlineMs: number | null | undefined): Q {
  const run = query.then;
  let outcome: Promise<unknown> | null = null;
  const settle = (): Promise<unknown> => (outcome ??= answerWithin(
    state,
    deadlineMs,
    (resolve, reject) => void run.call(query, resolve, reject),
    () => {
      if (!query.state) query.cancel();
    },
  ));
  // await, catch and finally all go through `then`.
  query.then = ((onFulfilled, onRejected) => settle().then(onFulfilled, onRejected)) as Q['then'];
  return query;
}

/**
 * sql.begin / tx.savepoint with the deadline on the statements postgres.js sends itself: BEGIN (or SAVEPOINT)
 * before the callback runs, COMMIT or ROLLBACK after it; the callback's own queries each have theirs. A BEGIN
 * answered after its deadline (the database came back) runs nothing: the callback throws and postgres.js rolls
 * back, so a request already answered 503 leaves no writes behind.
 *
 * A transaction (not a savepoint) also gets the deadline on the server: SET LOCAL statement_timeout, sent with the
 * callback's first query (pipelined: no extra round trip). A statement given up by the deadline here would otherwise
 * run on to its end, holding the transaction's connection and locks, and the ROLLBACK would wait behind it; the
 * server now cancels it at about the same moment (SQLSTATE 57014), so the connection is back in the pool at once.
 * It names no backend, so unlike a cancel request it can never hit another caller's query.
 */
function transactionWithin(
  begin: (...a: unknown[]) => Promise<unknown>, target: unknown, args: unknown[], state: GuardState, options: GuardOptions,
  limitOnServer: boolean,
): Promise<unknown> {
  const fn = args.at(-1) as (tx: postgres.TransactionSql) => unknown;
  const { deadlineMs } = options;
  let givenUp = false;
  let timer: NodeJS.Timeout | undefined;
  return new Promise((resolve, reject) => {
    const arm = (): void => {
      if (deadlineMs == null) return;
      timer = setTimeout(() => {
        givenUp = true;
        reject(new QueryDeadlineError(deadlineMs));
      }, deadlineMs);
    };
    const body = async (tx: postgres.TransactionSql): Promise<unknown> => {
      clearTimeout(timer);
      if (givenUp) throw new QueryDeadlineError(deadlineMs!);
      try {
        if (!limitOnServer || deadlineMs == null) return await fn(guard(tx, options, state));
        const limit = tx.unsafe(statementTimeout(deadlineMs)).execute();
        const [, result] = await Promise.all([limit, fn(guard(tx, options, state))]);
        return result;
      } catch (err) {
        // The server's limit and the timer here end the same wait: whichever comes first, it is the deadline.
        if (limitOnServer && deadlineMs != null && (err as { code?: unknown }).code === QUERY_CANCELED) throw new QueryDeadlineError(deadlineMs);
        throw err;
      } finally {
        arm();
      }
    };
    arm();
    answerWithin(state, null, (ok, fail) => void begin.call(target, ...args.slice(0, -1), body).then(ok, fail)).then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/**
 * The guarded sql: the same postgres.js object, with every tagged query, fragment, helper, json(), unsafe() and
 * transaction checked as above, and every query watched (watchQuery). Guard errors are thrown before a query
 * object exists.
 */
export function guardSql<T extends Db>(sql: T, options: GuardOptions = {}): T {
  return guard(sql, options, { outOfResourcesAt: null });
}

function guard<T extends Db>(sql: T, options: GuardOptions, state: GuardState): T {
  const watched = <R>(result: R): R => (isQuery(result) ? (watchQuery(result, state, options.deadlineMs) as R) : result);
  const proxy = new Proxy(sql, {
    apply(target, thisArg, args: unknown[]) {
      if (isTemplate(args[0])) checkArgs(args.slice(1));
      else checkArgs(args.slice(0, 1));
      return watched(Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args));
    },
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      switch (prop) {
        case 'json':
          return (v: unknown) => { checkJsonValue(v); return (value as (x: unknown) => unknown).call(target, v); };
        case 'unsafe':
          return (query: string, params?: unknown[], queryOptions?: unknown) => {
            if (params) checkArgs(params);
            return watched((value as (...a: unknown[]) => unknown).call(target, query, params, queryOptions));
          };
        case 'begin':
        case 'savepoint':
          return (...a: unknown[]) => transactionWithin(value as (...x: unknown[]) => Promise<unknown>, target, a, state, options, prop === 'begin');
        default:
          return (value as (...a: unknown[]) => unknown).bind(target);
      }
    },
  });
  guardedHandles.set(proxy, { bare: sql, options, state });
  return proxy;
}
