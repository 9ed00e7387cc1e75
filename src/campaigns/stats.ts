/**
 * Folding the campaign statistics' deltas into their totals (migration 0330). Triggers append a delta row for
 * every statement that changes a campaign's counted rows — insert-only, so the many transactions that claim, dial
 * and settle one campaign's contacts at once never wait on a counter row. A read sums totals and deltas, so it is
 * exact whether or not a fold has run; the fold only keeps the deltas a read sums few (a few seconds' worth).
 *
 * A poller of the workers, as the analytics rollup is (src/analytics/rollup.ts): the job queue needs someone to
 * enqueue a job, and a trigger enqueueing one per campaign would make concurrent writers wait on the job's
 * dedupe key — the contention the deltas avoid.
 */
import type { Logger } from '../log.js';
import type { RootSql } from '../db/sql.js';
import { LeasedPoller } from '../util/leased-poller.js';

/** Delta rows one fold statement takes: a short statement, however far behind the fold is. */
export const FOLD_BATCH = 20_000;

/**
 * Folds up to `limit` delta rows, oldest first, in one statement: deleted and added to their campaigns' totals in
 * one commit (a read never sees them twice or not at all). Two folds at once are safe: SKIP LOCKED gives each its
 * own rows, and both update totals in one order (campaign, kind, label), so neither waits on the other in a cycle.
 * Deltas of a campaign that no longer exists are dropped. Returns how many rows it took.
 */
export async function foldStatDeltas(sql: RootSql, limit = FOLD_BATCH): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    with taken as (
      delete from campaign_stat_deltas d where d.id = any(array(
        select id from campaign_stat_deltas order by id limit ${limit} for update skip locked))
      returning d.campaign_id, d.company_id, d.kind, d.label, d.n),
    sums as (
      select campaign_id, company_id, kind, label, sum(n) as n from taken group by 1, 2, 3, 4 having sum(n) <> 0),
    -- Runs to completion though nothing below reads it (as every data-modifying WITH does).
    folded as (
      insert into campaign_stat_totals (campaign_id, company_id, kind, label, n)
      select s.campaign_id, s.company_id, s.kind, s.label, s.n from sums s
      where exists (select 1 from campaigns c where c.id = s.campaign_id)
      order by s.campaign_id, s.kind, s.label
      on conflict (campaign_id, kind, label) do update set n = campaign_stat_totals.n + excluded.n)
    select count(*)::int as n from taken`;
  return row!.n;
}

/** Whether any delta waits to be folded: one probe of the primary key. */
async function hasDeltas(sql: RootSql): Promise<boolean> {
  return (await sql`select 1 from campaign_stat_deltas limit 1`).length > 0;
}

/** The fold's poller: every `pollMs`, folds batches until the deltas are gone (or the poller stops). */
export function campaignStatsWorker(sql: RootSql, log: Logger, options: { pollMs?: number; batchSize?: number } = {}): LeasedPoller<true> {
  const batch = options.batchSize ?? FOLD_BATCH;
  return new LeasedPoller<true>({
    concurrency: 1,
    pollMs: options.pollMs ?? 2_000,
    claim: async () => ((await hasDeltas(sql)) ? [true] : []),
    run: async (_item, signal) => {
      while (!signal.aborted && (await foldStatDeltas(sql, batch)) === batch);
    },
    onError: (err) => log.warn({ err }, 'folding campaign statistics failed'),
  });
}
