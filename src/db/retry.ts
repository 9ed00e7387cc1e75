/**
 * Deadlocks (40P01) and serialisation failures (40001) mean "the database rolled this transaction back; run it
 * again". Transactions that can meet them run through retryTransient: a few attempts with jittered backoff,
 * then the error goes up (the API answers 503, never 500).
 */
import type postgres from 'postgres';
import { backoffDelayMs, sleep } from '../util/backoff.js';
import type { Db } from './sql.js';

export const isTransientConflict = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
};

/** postgres.js's connection errors, the socket's, and SQLSTATE class 08 / 57P01–57P03 (the server going away). */
const CONNECTION_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', '57P01', '57P02', '57P03']);

/** The database could not be reached (it went away, or is coming back): the same work may succeed later. */
export const isDatabaseUnreachable = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (CONNECTION_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code));
};

export async function retryTransient<T>(run: () => Promise<T>, options: { attempts?: number; baseMs?: number } = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      if (attempt >= attempts || !isTransientConflict(e)) throw e;
      await sleep(backoffDelayMs(attempt, { baseMs: options.baseMs ?? 10, maxMs: 200 }));
    }
  }
}

/**
 * Runs fn in a transaction, or a savepoint when db already is one. A transaction of its own is retried on a
 * deadlock or serialisation failure (the enclosing transaction's owner retries a savepoint's).
 */
export function atomically<T>(db: Db, fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  if ('savepoint' in db) return (db as postgres.TransactionSql).savepoint(fn) as Promise<T>;
  return retryTransient(() => (db as postgres.Sql).begin(fn) as Promise<T>);
}

/** How long work waits for an unreachable database before it is given up: a failover or a restart fits. */
export const RETRY_UNREACHABLE_MS = 10 * 60_000;

/**
 * Runs `work` until it succeeds, trying again (backoff 250 ms → 5 s) while the database cannot be reached, for up
 * to `maxMs`; any other error, or the last one past `maxMs`, goes up. For writes a live call must not lose to a
 * database blip (its turns, its end, its usage).
 */
export async function retryWhileUnreachable<T>(work: () => Promise<T>, maxMs = RETRY_UNREACHABLE_MS): Promise<T> {
  const giveUpAt = Date.now() + maxMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (!isDatabaseUnreachable(err) || Date.now() >= giveUpAt) throw err;
      await sleep(backoffDelayMs(attempt, { baseMs: 250, maxMs: 5_000 }));
    }
  }
}
