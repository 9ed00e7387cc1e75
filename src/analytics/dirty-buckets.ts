/**
 * The machinery every bucketed rollup shares (analytics: rollup.ts; usage: src/usage/rollup.ts). Triggers mark the
 * 15-minute buckets (company, bot, bucket) a change touches in a marks table shaped like analytics_dirty
 * (migrations/0130, 0240); this claims marked buckets (a lease, FOR UPDATE SKIP LOCKED, so several instances can run
 * it), recomputes each from the source tables with the rollup's own statements in one transaction, and clears the
 * marks. A bucket changed again while it was being recomputed stays marked (its mark is newer than the claimed one)
 * and is recomputed once more. Recomputing from the source (not adding deltas) keeps a rollup exact after any change.
 */
import type { Db, RootSql } from '../db/sql.js';
import type { Logger } from '../log.js';
import { LeasedPoller } from '../util/leased-poller.js';
import { ALL_BOTS } from './buckets.js';

export interface DirtyBucket {
  company_id: string;
  bot_id: string;
  /** Text, so the exact microseconds travel back (a JS Date would lose them). */
  bucket: string;
  marked_at: string;
}

export interface BucketRollup {
  /** What the rollup is called in logs. */
  name: string;
  /** The marks table: (company_id, bot_id, bucket, marked_at, locked_until), primary key (company_id, bot_id, bucket). */
  dirtyTable: string;
  /** Seed of the advisory lock taken per company and UTC day (one per rollup, so two rollups never wait on each other). */
  lockSeed: number;
  /** Statements run in order in the recompute's transaction, each given $1: the claimed buckets as JSON (CLAIMED). */
  statements: readonly string[];
}

const LEASE_MS = 120_000;

/** The claimed buckets as a relation `b`, from $1. */
export const CLAIMED = `b as (select * from jsonb_to_recordset($1::text::jsonb) as b(company_id uuid, bot_id uuid, bucket timestamptz, marked_at timestamptz))`;

/** The instant a UTC day `d.day` starts (running daily totals are kept per UTC day, per bot and for ALL_BOTS). */
export const DAY_START = `(d.day::timestamp at time zone 'UTC')`;

/** Deletes the running daily totals in `table` of the UTC days the claimed buckets are on, their bots' and ALL_BOTS'. */
export const deleteDailyTotalsSql = (table: string): string => `
with ${CLAIMED}, d as (
  select distinct company_id, bot_id, (bucket at time zone 'UTC')::date as day from b
  union select distinct company_id, '${ALL_BOTS}'::uuid, (bucket at time zone 'UTC')::date from b)
delete from ${table} r using d where r.company_id = d.company_id and r.bot_id = d.bot_id and r.day = d.day`;

/** Claims up to `limit` marked buckets (optionally of one company), leased for LEASE_MS. */
async function claim(sql: Db, rollup: BucketRollup, limit: number, companyId?: string): Promise<DirtyBucket[]> {
  return sql<DirtyBucket[]>`
    update ${sql(rollup.dirtyTable)} d set locked_until = now() + ${LEASE_MS} * interval '1 millisecond'
    from (
      select company_id, bot_id, bucket from ${sql(rollup.dirtyTable)}
      where (locked_until is null or locked_until < now())
        ${companyId ? sql`and company_id = ${companyId}` : sql``}
      order by company_id, bucket
      limit ${limit}
      for update skip locked) s
    where d.company_id = s.company_id and d.bot_id = s.bot_id and d.bucket = s.bucket
    returning d.company_id, d.bot_id, d.bucket::text as bucket, d.marked_at::text as marked_at`;
}

/** Recomputes the claimed buckets and clears their marks (unless marked again meanwhile). */
async function recompute(sql: RootSql, rollup: BucketRollup, buckets: DirtyBucket[]): Promise<void> {
  if (buckets.length === 0) return;
  const json = JSON.stringify(buckets);
  await sql.begin(async (tx) => {
    // The planner cannot see how many buckets $1 holds (it guesses 100) and overrates these statements into JIT
    // compiling them: ~0.1 s of compiling per statement per batch, more than most batches' work.
    await tx`set local jit = off`;
    // Two workers never recompute one company-day at once (a lease that ran out, a refresh by the API, two bots'
    // buckets feeding the same all-bots totals): the later one waits, then reads what the earlier one wrote.
    await tx.unsafe(
      `select count(pg_advisory_xact_lock(k)) from (
         select distinct hashtextextended(b.company_id::text || (b.bucket at time zone 'UTC')::date::text, ${rollup.lockSeed}) as k
         from jsonb_to_recordset($1::text::jsonb) as b(company_id uuid, bot_id uuid, bucket timestamptz)
         order by k) s`,
      [json],
    );
    for (const statement of rollup.statements) await tx.unsafe(statement, [json]);
    // The marks are cleared without waiting: a transaction marking several buckets (a sweep ending many calls)
    // may hold one of them and want another this transaction holds — a deadlock, which PostgreSQL ends by
    // aborting one side, possibly the call's own write. A mark held by a writer is being renewed: it stays
    // (the writer's mark also frees its lease, migrations/0240) and is recomputed again.
    await tx.unsafe(
      `with ${CLAIMED}, free as (
         select d.company_id, d.bot_id, d.bucket, d.marked_at = b.marked_at as unchanged from ${rollup.dirtyTable} d
         join b on d.company_id = b.company_id and d.bot_id = b.bot_id and d.bucket = b.bucket
         for update of d skip locked),
       cleared as (
         delete from ${rollup.dirtyTable} d using free f
         where f.unchanged and d.company_id = f.company_id and d.bot_id = f.bot_id and d.bucket = f.bucket)
       update ${rollup.dirtyTable} d set locked_until = null from free f
       where not f.unchanged and d.company_id = f.company_id and d.bot_id = f.bot_id and d.bucket = f.bucket`,
      [json],
    );
  });
}

/**
 * Recomputes marked buckets now, in batches, until none is left that nobody else holds (or `maxBatches` ran);
 * with `companyId`, only that company's. Returns the number of buckets recomputed.
 */
export async function refreshRollup(
  sql: RootSql,
  rollup: BucketRollup,
  options: { companyId?: string; batchSize?: number; maxBatches?: number } = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 500;
  let done = 0;
  for (let i = 0; i < (options.maxBatches ?? Number.POSITIVE_INFINITY); i++) {
    const batch = await claim(sql, rollup, batchSize, options.companyId);
    if (batch.length === 0) break;
    await recompute(sql, rollup, batch);
    done += batch.length;
    if (batch.length < batchSize) break;
  }
  return done;
}

/** The background worker of a rollup: the leased poller, one batch of marked buckets at a time. */
export function rollupWorker(sql: RootSql, log: Logger, rollup: BucketRollup, options: { pollMs?: number; batchSize?: number } = {}): LeasedPoller<DirtyBucket[]> {
  return new LeasedPoller<DirtyBucket[]>({
    concurrency: 1,
    pollMs: options.pollMs ?? 5_000,
    claim: async () => {
      const batch = await claim(sql, rollup, options.batchSize ?? 500);
      return batch.length ? [batch] : [];
    },
    run: (batch) => recompute(sql, rollup, batch),
    onError: (err) => log.warn({ err }, `${rollup.name} rollup failed`),
  });
}
