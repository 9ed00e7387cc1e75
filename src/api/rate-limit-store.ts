/**
 * A store for @fastify/rate-limit that counts in the database: every process of the server (PROCESSES > 1) and every
 * instance on one PostgreSQL count a company's requests against one budget. The plugin's own store counts in each
 * process's memory, so N processes let a company through N times RATE_LIMIT_PER_MIN. One upsert per /v1 request, a
 * fixed window (the minute the request falls in). Embedded PGlite serves one process: it keeps the plugin's store.
 */
import type { RootSql } from '../db/sql.js';

type Counted = { current: number; ttl: number };
type Callback = (err: Error | null, result?: Counted) => void;

/** Past windows are deleted at most this often per process. */
const CLEANUP_EVERY_MS = 60_000;

/** The plugin takes a store class and constructs it itself: this one is bound to a database. */
export function databaseRateLimitStore(sql: RootSql, now: () => number = Date.now) {
  let lastCleanup = 0;
  return class DatabaseRateLimitStore {
    incr(key: string, cb: Callback, timeWindow: number): void {
      const at = now();
      const start = at - (at % timeWindow);
      if (at - lastCleanup > CLEANUP_EVERY_MS) {
        lastCleanup = at;
        void sql`delete from rate_limit_counts where window_start < ${new Date(start - timeWindow)}`.catch(() => {});
      }
      sql<{ hits: number }[]>`
        insert into rate_limit_counts (key, window_start, hits) values (${key}, ${new Date(start)}, 1)
        on conflict (key, window_start) do update set hits = rate_limit_counts.hits + 1
        returning hits`.then(
        ([row]) => cb(null, { current: row!.hits, ttl: start + timeWindow - at }),
        (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
      );
    }

    read(key: string, cb: Callback, timeWindow: number): void {
      const at = now();
      const start = at - (at % timeWindow);
      sql<{ hits: number }[]>`select hits from rate_limit_counts where key = ${key} and window_start = ${new Date(start)}`.then(
        ([row]) => cb(null, row ? { current: row.hits, ttl: start + timeWindow - at } : { current: 0, ttl: 0 }),
        (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
      );
    }

    child(): DatabaseRateLimitStore {
      return this;
    }
  };
}
