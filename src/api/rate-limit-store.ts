/**
 * Counts in the database, so every process of the server (PROCESSES > 1) and every instance on one PostgreSQL count
 * against one budget: the /v1 rate limit (a store for @fastify/rate-limit, one upsert per /v1 request) and the
 * failed-authentication throttle (auth.ts, one upsert per 401 only). Counting in each process's memory lets a client
 * through N times the limit with N processes. Fixed windows (the window `now` falls in, e.g. the clock's minute), one
 * row per key and window in rate_limit_counts. Embedded PGlite serves one process: it keeps counting in memory.
 */
import type { RootSql } from '../db/sql.js';

type Counted = { current: number; ttl: number };
type Callback = (err: Error | null, result?: Counted) => void;

/** Past windows are deleted at most this often per counter. */
const CLEANUP_EVERY_MS = 60_000;

/** A key's count in the current window, after this hit, and when that window ends (epoch ms). */
export interface WindowCount {
  hits: number;
  resetAt: number;
}

/** One more hit for a key in the current window of `windowMs`, counted in the database. */
export type SharedCounter = (key: string, windowMs: number) => Promise<WindowCount>;

/**
 * A SharedCounter on `sql`. It also deletes rows of windows that ended before the previous one, for every key: the
 * table's users all count in windows of one length (a minute), so none of them loses a live row.
 */
export function databaseCounter(sql: RootSql, now: () => number = Date.now): SharedCounter {
  let lastCleanup = 0;
  return async (key, windowMs) => {
    const at = now();
    const start = at - (at % windowMs);
    if (at - lastCleanup > CLEANUP_EVERY_MS) {
      lastCleanup = at;
      void sql`delete from rate_limit_counts where window_start < ${new Date(start - windowMs)}`.catch(() => {});
    }
    const [row] = await sql<{ hits: number }[]>`
      insert into rate_limit_counts (key, window_start, hits) values (${key}, ${new Date(start)}, 1)
      on conflict (key, window_start) do update set hits = rate_limit_counts.hits + 1
      returning hits`;
    return { hits: row!.hits, resetAt: start + windowMs };
  };
}

/**
 * A SharedCounter in this process's memory (embedded PGlite serves one process): fixed windows as databaseCounter's.
 * Past windows are dropped as keys come back, and all at once when `maxKeys` are held.
 */
export function memoryCounter(now: () => number = Date.now, maxKeys = 10_000): SharedCounter {
  const windows = new Map<string, WindowCount>();
  return async (key, windowMs) => {
    const at = now();
    const start = at - (at % windowMs);
    let w = windows.get(key);
    if (!w || w.resetAt <= at) {
      if (windows.size >= maxKeys) for (const [k, old] of windows) if (old.resetAt <= at) windows.delete(k);
      w = { hits: 0, resetAt: start + windowMs };
      windows.set(key, w);
    }
    w.hits++;
    return { hits: w.hits, resetAt: w.resetAt };
  };
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** The plugin takes a store class and constructs it itself: this one is bound to a database. */
export function databaseRateLimitStore(sql: RootSql, now: () => number = Date.now) {
  const count = databaseCounter(sql, now);
  return class DatabaseRateLimitStore {
    incr(key: string, cb: Callback, timeWindow: number): void {
      count(key, timeWindow).then(
        ({ hits, resetAt }) => cb(null, { current: hits, ttl: Math.max(1, resetAt - now()) }),
        (err: unknown) => cb(asError(err)),
      );
    }

    read(key: string, cb: Callback, timeWindow: number): void {
      const at = now();
      const start = at - (at % timeWindow);
      sql<{ hits: number }[]>`select hits from rate_limit_counts where key = ${key} and window_start = ${new Date(start)}`.then(
        ([row]) => cb(null, row ? { current: row.hits, ttl: start + timeWindow - at } : { current: 0, ttl: 0 }),
        (err: unknown) => cb(asError(err)),
      );
    }

    child(): DatabaseRateLimitStore {
      return this;
    }
  };
}
