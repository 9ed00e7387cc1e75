/**
 * Autovacuum for the embedded database. PGlite runs PostgreSQL as one backend with no background processes, so no
 * autovacuum: the rows a queue-like table deletes or updates (campaign statistics' deltas, analytics' dirty
 * buckets, jobs, webhook events, leases, heartbeats) stay as dead space until a VACUUM, the table and its indexes
 * grow without bound, and every scan of them slows (campaign_stat_deltas: ~1.9 MB more per 20k deltas folded).
 *
 * One poller does autovacuum's job, with autovacuum's rule: a table is vacuumed (and analysed) once its dead rows
 * pass a threshold plus a share of its live rows, analysed alone once as many rows changed since its last ANALYZE.
 * The choice reads the database's own statistics (pg_stat_user_tables), so every table is covered, present and
 * future, without a list to keep. PGlite's thread runs one statement at a time, calls' queries included: each
 * statement is one plain VACUUM of one table (not FULL: nothing rewritten), one table per poll,
 * each table at most once per interval. PostgreSQL has its own autovacuum: there is no poller there.
 */
import type { Logger } from '../log.js';
import type { Database } from './connect.js';
import type { RootSql } from './sql.js';
import { LeasedPoller } from '../util/leased-poller.js';

/** How often the statistics are read when no table is due (and the least time between two vacuums of one table). */
export const VACUUM_POLL_MS = 60_000;
/** Dead rows before a table is worth a VACUUM: more than autovacuum's 50, for a table of a page or two is not. */
const VACUUM_BASE = 1_000;
/** …plus this share of its live rows (autovacuum_vacuum_scale_factor's default). */
const VACUUM_SCALE = 0.2;
/** Rows changed since the last ANALYZE before one (autovacuum_analyze_threshold and _scale_factor's defaults, base raised alike). */
const ANALYZE_BASE = 1_000;
const ANALYZE_SCALE = 0.1;

export interface TableDue {
  /** The table as regclass prints it: quoted where it must be, safe to splice into the statement. */
  table: string;
  /** true: VACUUM (ANALYZE); false: ANALYZE only. */
  vacuum: boolean;
}

/**
 * The tables due for upkeep, the most dead rows first, none maintained in the last `minIntervalMs` (a table whose
 * dead rows a VACUUM cannot yet remove is not vacuumed again at once).
 */
export async function tablesDue(sql: RootSql, limit: number, minIntervalMs = VACUUM_POLL_MS): Promise<TableDue[]> {
  // PGlite's backend sends its statistics only when asked (it is never idle long enough to do it itself); the
  // flush happens after this statement, so the next one reads them.
  await sql`select pg_stat_force_next_flush()`;
  return sql<TableDue[]>`
    select relid::regclass::text as "table", n_dead_tup > ${VACUUM_BASE}::float8 + ${VACUUM_SCALE}::float8 * n_live_tup as vacuum
    from pg_stat_user_tables
    where (n_dead_tup > ${VACUUM_BASE}::float8 + ${VACUUM_SCALE}::float8 * n_live_tup or n_mod_since_analyze > ${ANALYZE_BASE}::float8 + ${ANALYZE_SCALE}::float8 * n_live_tup)
      and greatest(last_vacuum, last_analyze, 'epoch') < now() - make_interval(secs => ${minIntervalMs / 1000}::float8)
    order by n_dead_tup desc, n_mod_since_analyze desc
    limit ${limit}`;
}

/** One statement for one table: plain VACUUM, not FULL (the table is not rewritten; the space it frees is reused). */
export async function maintainTable(sql: RootSql, due: TableDue): Promise<void> {
  await sql.unsafe(due.vacuum ? `vacuum (analyze) ${due.table}` : `analyze ${due.table}`);
}

/**
 * The embedded database's vacuum poller, one table per poll while tables are due, then every `pollMs`; null on
 * PostgreSQL, whose autovacuum does this.
 */
export function embeddedVacuumWorker(db: Pick<Database, 'kind' | 'sql'>, log: Logger, options: { pollMs?: number } = {}): LeasedPoller<TableDue> | null {
  if (db.kind !== 'pglite') return null;
  const pollMs = options.pollMs ?? VACUUM_POLL_MS;
  return new LeasedPoller<TableDue>({
    concurrency: 1,
    pollMs,
    claim: (free) => tablesDue(db.sql, free, pollMs),
    run: (due) => maintainTable(db.sql, due),
    onError: (err) => log.warn({ err }, 'vacuuming the embedded database failed'),
  });
}
