/**
 * Keeps the usage rollup (usage_rollup and its running daily totals usage_rollup_cum; migrations/0420) current, with
 * the machinery the analytics rollup uses (src/analytics/dirty-buckets.ts): triggers on call_usage and ingest_usage
 * mark the 15-minute buckets a change touches in usage_dirty; each marked bucket is recomputed from the raw rows, then
 * the running totals of its UTC day, per bot and for all of the company's bots.
 */
import { ALL_BOTS, BUCKET_MINUTES } from '../analytics/buckets.js';
import { CLAIMED, DAY_START, deleteDailyTotalsSql, refreshRollup, rollupWorker, type BucketRollup, type DirtyBucket } from '../analytics/dirty-buckets.js';
import type { RootSql } from '../db/sql.js';
import type { Logger } from '../log.js';
import type { LeasedPoller } from '../util/leased-poller.js';

/** bot_id the rollup keeps usage with no bot under (migrations/0420): counted in the company's totals, in no bot's. */
export const NO_BOT = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

const BUCKET = `interval '${BUCKET_MINUTES} minutes'`;

/**
 * The claimed buckets' rows, recomputed from the raw rows in one pass: the claimed bucket times of each company
 * form runs of consecutive buckets, and each run is one index range scan on (company_id, time) of each source table
 * (a fence keeps it one: never a scan of all the company's usage), its rows bucketed and kept where claimed. Each raw
 * row is read once, whichever of its bucket's bots are claimed — per-bucket scans read a bucket's rows once per bot.
 */
const RECOMPUTE_SQL = `
with ${CLAIMED},
runs as (
  select company_id, min(bucket) as lo, max(bucket) + ${BUCKET} as hi
  from (select company_id, bucket, bucket - ${BUCKET} * row_number() over (partition by company_id order by bucket) as run
        from (select distinct company_id, bucket from b) t) t
  group by company_id, run),
raw as (
  select r.company_id, u.bot_id, u.bucket, u.kind, u.provider, u.model, u.quantity
  from runs r cross join lateral (
    select coalesce(c.bot_id, '${NO_BOT}'::uuid) as bot_id, analytics_bucket(c.started_at) as bucket, c.kind, c.provider, c.model, c.quantity
    from call_usage c where c.company_id = r.company_id and c.started_at >= r.lo and c.started_at < r.hi
    union all
    select coalesce(i.bot_id, '${NO_BOT}'::uuid), analytics_bucket(i.occurred_at), i.kind, i.provider, i.model, i.quantity
    from ingest_usage i where i.company_id = r.company_id and i.occurred_at >= r.lo and i.occurred_at < r.hi
    offset 0) u)
insert into usage_rollup (company_id, bot_id, bucket, kind, provider, model, quantity)
select raw.company_id, raw.bot_id, raw.bucket, raw.kind, raw.provider, raw.model, sum(raw.quantity)::bigint
from raw
join b on b.company_id = raw.company_id and b.bot_id = raw.bot_id and b.bucket = raw.bucket
-- Only companies that still exist (a deleted company's marks are simply dropped).
join companies co on co.id = raw.company_id
group by raw.company_id, raw.bot_id, raw.bucket, raw.kind, raw.provider, raw.model`;

const SLOT = (bucket: string) => `(extract(epoch from ${bucket} - ${DAY_START}) / ${BUCKET_MINUTES * 60})::int + 1`;

/**
 * Running totals of the touched UTC days, per claimed bot and for all bots (ALL_BOTS), in one pass: each touched
 * company-day's rollup rows are read once (a range of usage_rollup's key); a row for every (slot with usage, item
 * seen that day), so a lookup finds the latest slot once and reads all its items together (as call_outcome_cum).
 */
const CUM_SQL = `
with ${CLAIMED},
d as (select distinct company_id, bot_id, (bucket at time zone 'UTC')::date as day from b),
days as (select distinct company_id, day from d),
src as (
  select d.company_id, d.day, r.bot_id, ${SLOT('r.bucket')} as slot, r.kind, r.provider, r.model, r.quantity
  from days d cross join lateral (
    select r.bot_id, r.bucket, r.kind, r.provider, r.model, r.quantity from usage_rollup r
    where r.company_id = d.company_id and r.bucket >= ${DAY_START} and r.bucket < ${DAY_START} + interval '1 day'
    offset 0) r),
rows as (
  select s.company_id, s.bot_id, s.day, s.slot, s.kind, s.provider, s.model, s.quantity
  from src s join d on d.company_id = s.company_id and d.bot_id = s.bot_id and d.day = s.day
  union all
  select s.company_id, '${ALL_BOTS}'::uuid, s.day, s.slot, s.kind, s.provider, s.model, s.quantity from src s),
items as (select distinct company_id, bot_id, day, kind, provider, model from rows),
slots as (select distinct company_id, bot_id, day, slot from rows),
grid as (
  select g.company_id, g.bot_id, g.day, g.slot, g.kind, g.provider, g.model, sum(g.q) as q from (
    select company_id, bot_id, day, slot, kind, provider, model, quantity as q from rows
    union all
    -- zero rows fill the grid: every item at every slot that has any usage
    select s.company_id, s.bot_id, s.day, s.slot, i.kind, i.provider, i.model, 0
    from slots s join items i on i.company_id = s.company_id and i.bot_id = s.bot_id and i.day = s.day) g
  group by g.company_id, g.bot_id, g.day, g.slot, g.kind, g.provider, g.model)
insert into usage_rollup_cum (company_id, bot_id, day, slot, kind, provider, model, quantity)
select company_id, bot_id, day, slot, kind, provider, model,
  sum(q) over (partition by company_id, bot_id, day, kind, provider, model order by slot)
from grid`;

const USAGE: BucketRollup = {
  name: 'usage',
  dirtyTable: 'usage_dirty',
  lockSeed: 7233151420,
  statements: [
    `with ${CLAIMED} delete from usage_rollup r using b where r.company_id = b.company_id and r.bot_id = b.bot_id and r.bucket = b.bucket`,
    RECOMPUTE_SQL,
    deleteDailyTotalsSql('usage_rollup_cum'),
    CUM_SQL,
  ],
};

/** Recomputes marked usage buckets now (optionally only a company's, bounded); returns how many. */
export function refreshUsage(sql: RootSql, options: { companyId?: string; batchSize?: number; maxBatches?: number } = {}): Promise<number> {
  return refreshRollup(sql, USAGE, options);
}

/** The background worker keeping the usage rollup current. */
export function usageRollupWorker(sql: RootSql, log: Logger, options: { pollMs?: number; batchSize?: number } = {}): LeasedPoller<DirtyBucket[]> {
  return rollupWorker(sql, log, USAGE, options);
}
