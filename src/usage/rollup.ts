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

const RECOMPUTE_SQL = `
with ${CLAIMED}
insert into usage_rollup (company_id, bot_id, bucket, kind, provider, model, quantity)
select b.company_id, b.bot_id, b.bucket, x.kind, x.provider, x.model, x.quantity
from b
-- Only companies that still exist (a deleted company's marks are simply dropped).
join companies co on co.id = b.company_id
cross join lateral (
  select u.kind, u.provider, u.model, sum(u.quantity)::bigint as quantity from (
    select c.kind, c.provider, c.model, c.quantity from call_usage c
    where c.company_id = b.company_id and coalesce(c.bot_id, '${NO_BOT}'::uuid) = b.bot_id
      and c.started_at >= b.bucket and c.started_at < b.bucket + ${BUCKET}
    union all
    select i.kind, i.provider, i.model, i.quantity from ingest_usage i
    where i.company_id = b.company_id and coalesce(i.bot_id, '${NO_BOT}'::uuid) = b.bot_id
      and i.occurred_at >= b.bucket and i.occurred_at < b.bucket + ${BUCKET}
    -- A fence: kept as per-bucket index range scans on (company_id, time), never a scan of all the company's usage.
    offset 0) u
  group by u.kind, u.provider, u.model) x`;

const SLOT = (bucket: string) => `(extract(epoch from ${bucket} - ${DAY_START}) / ${BUCKET_MINUTES * 60})::int + 1`;

/**
 * Running totals of the touched UTC days: a row for every (slot with usage, item seen that day), so a lookup finds
 * the latest slot once and reads all its items together (as call_outcome_cum).
 */
const cumSql = (allBots: boolean): string => {
  const ofDay = `r.company_id = d.company_id ${allBots ? '' : 'and r.bot_id = d.bot_id'} and r.bucket >= ${DAY_START} and r.bucket < ${DAY_START} + interval '1 day'`;
  return `
with ${CLAIMED}, d as (select distinct company_id, ${allBots ? `'${ALL_BOTS}'::uuid as bot_id` : 'bot_id'}, (bucket at time zone 'UTC')::date as day from b)
insert into usage_rollup_cum (company_id, bot_id, day, slot, kind, provider, model, quantity)
select d.company_id, d.bot_id, d.day, x.*
from d cross join lateral (
  select g.slot, g.kind, g.provider, g.model, sum(g.q) over (partition by g.kind, g.provider, g.model order by g.slot)
  from (select u.slot, u.kind, u.provider, u.model, sum(u.q) as q from (
    select ${SLOT('r.bucket')} as slot, r.kind, r.provider, r.model, r.quantity as q
    from usage_rollup r where ${ofDay}
    union all
    -- zero rows fill the grid: every item at every slot that has any usage
    select s.slot, t.kind, t.provider, t.model, 0
    from (select distinct r.kind, r.provider, r.model from usage_rollup r where ${ofDay}) t
    cross join (select distinct ${SLOT('r.bucket')} as slot from usage_rollup r where ${ofDay}) s
  ) u group by u.slot, u.kind, u.provider, u.model) g
) x`;
};

const USAGE: BucketRollup = {
  name: 'usage',
  dirtyTable: 'usage_dirty',
  lockSeed: 7233151420,
  statements: [
    `with ${CLAIMED} delete from usage_rollup r using b where r.company_id = b.company_id and r.bot_id = b.bot_id and r.bucket = b.bucket`,
    RECOMPUTE_SQL,
    deleteDailyTotalsSql('usage_rollup_cum'),
    cumSql(false),
    cumSql(true),
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
