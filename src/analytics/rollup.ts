/**
 * Keeps the analytics rollup (call_rollup, call_outcome_rollup and their running daily totals;
 * migrations/0130_analytics.sql) current: triggers mark the 15-minute buckets a change touches in analytics_dirty,
 * and the shared machinery (dirty-buckets.ts) claims them and runs the statements below, one set-based statement
 * per table, recomputing each bucket from the source tables.
 */
import type { RootSql } from '../db/sql.js';
import type { Logger } from '../log.js';
import type { LeasedPoller } from '../util/leased-poller.js';
import { CLAIMED, DAY_START, deleteDailyTotalsSql, type BucketRollup, type DirtyBucket, refreshRollup, rollupWorker } from './dirty-buckets.js';
import { MACHINE_END_REASONS } from '../call/end-reasons.js';
import { ALL_BOTS, BUCKET_MINUTES, CUM_COLUMNS, DURATION_BOUNDS_SEC, DURATION_COLUMNS, LATENCY_BOUNDS_MS, LATENCY_COLUMNS, histogramSql } from './buckets.js';

const BUCKET = `interval '${BUCKET_MINUTES} minutes'`;

const COUNTED = [
  'calls', 'inbound', 'outbound', 'web', 'live', 'st_completed', 'st_failed', 'st_busy', 'st_no_answer', 'st_canceled',
  'st_machine', 'answered', 'machine_voicemail_left', 'machine_voicemail_hung_up', 'machine_fax', 'transferred', 'analyzed',
  'leads', 'barge_ins', 'duration_count', 'duration_sum', 'duration_min', 'duration_max',
  'latency_count', 'latency_sum', 'latency_min', 'latency_max', ...DURATION_COLUMNS, ...LATENCY_COLUMNS,
];

const RECOMPUTE_SQL = `
with ${CLAIMED},
per_call as (
  -- Lateral, so each bucket is an index range scan on calls (bot_id, started_at), never a scan of all calls.
  select b.company_id, b.bot_id, b.bucket, x.*
  from b
  cross join lateral (
    select c.direction, c.status, c.answered_at, c.end_reason, m.machine, o.outcome_type, o.call_id as analyzed_id,
      -- Talk time: a person's calls only (a voicemail left is billed minutes, not a conversation).
      case when c.ended_at is not null and c.answered_at is not null and m.machine is null then c.duration_sec end as d,
      t.*
    from calls c
    -- A machine answered (voicemail_left, voicemail_hung_up, fax; call/machine-answer.ts): how the call ended, or while
    -- it is live what detection decided — the analyzer's 'machine' ending. Never an answer by a person.
    cross join lateral (
      select case when k.code in (${MACHINE_END_REASONS.map((r) => `'${r}'`).join(', ')}) then k.code end as machine
      from (select lower(trim(split_part(coalesce(c.end_reason, c.machine_end_reason), ':', 1))) as code) k) m
    left join outcomes o on o.call_id = c.id
    left join lateral (
      select count(*) filter (where e.turn->'interrupted' = 'true'::jsonb)::int as barge_ins,
        count(l.ms)::int as lat_count, coalesce(sum(l.ms), 0)::bigint as lat_sum, min(l.ms)::int as lat_min, coalesce(max(l.ms), 0)::int as lat_max,
        ${histogramSql('l.ms', LATENCY_BOUNDS_MS).map((e, i) => `${e} as ${LATENCY_COLUMNS[i]}`).join(',\n        ')}
      from call_turns e
      cross join lateral (
        select case when jsonb_typeof(e.turn->'latency'->'responseMs') = 'number'
          then least(greatest(round((e.turn->'latency'->>'responseMs')::float8), 0), 1000000000)::int end as ms) l
      where e.call_id = c.id and e.turn->>'role' = 'bot'
    ) t on true
    where c.company_id = b.company_id and c.bot_id = b.bot_id and c.started_at >= b.bucket and c.started_at < b.bucket + ${BUCKET}
    -- A fence: kept as a per-bucket index scan, not pulled up into a hash join over every call of the bot.
    offset 0
  ) x
),
ca as (
  select company_id, bot_id, bucket,
    count(*)::int as calls,
    count(*) filter (where direction = 'inbound')::int as inbound,
    count(*) filter (where direction = 'outbound')::int as outbound,
    count(*) filter (where direction = 'web')::int as web,
    count(*) filter (where status in ('queued', 'ringing', 'in_progress'))::int as live,
    -- An ended call a machine answered is st_machine whatever status Twilio gave it (completed): the statuses still
    -- add up to the calls, and completed is a conversation's.
    count(*) filter (where status = 'completed' and machine is null)::int as st_completed,
    count(*) filter (where status = 'failed' and machine is null)::int as st_failed,
    count(*) filter (where status = 'busy' and machine is null)::int as st_busy,
    count(*) filter (where status = 'no_answer' and machine is null)::int as st_no_answer,
    count(*) filter (where status = 'canceled' and machine is null)::int as st_canceled,
    count(*) filter (where status not in ('queued', 'ringing', 'in_progress') and machine is not null)::int as st_machine,
    count(*) filter (where answered_at is not null and machine is null)::int as answered,
    count(*) filter (where machine = 'voicemail_left')::int as machine_voicemail_left,
    count(*) filter (where machine = 'voicemail_hung_up')::int as machine_voicemail_hung_up,
    count(*) filter (where machine = 'fax')::int as machine_fax,
    count(*) filter (where end_reason = 'transferred')::int as transferred,
    count(analyzed_id)::int as analyzed,
    count(*) filter (where outcome_type = 'lead')::int as leads,
    coalesce(sum(barge_ins), 0)::int as barge_ins,
    -- The smallest values are 0 where there are none (as the largest are): read only where the count is not.
    count(d)::int as duration_count, coalesce(sum(d), 0)::bigint as duration_sum, coalesce(min(d), 0)::int as duration_min, coalesce(max(d), 0)::int as duration_max,
    coalesce(sum(lat_count), 0)::int as latency_count, coalesce(sum(lat_sum), 0)::bigint as latency_sum,
    coalesce(min(lat_min), 0)::int as latency_min, coalesce(max(lat_max), 0)::int as latency_max,
    ${histogramSql('d', DURATION_BOUNDS_SEC).map((e, i) => `${e} as ${DURATION_COLUMNS[i]}`).join(',\n    ')},
    ${LATENCY_COLUMNS.map((c) => `coalesce(sum(${c}), 0)::int as ${c}`).join(', ')}
  from per_call group by company_id, bot_id, bucket
),
bm as (
  select b.company_id, b.bot_id, b.bucket, k.n
  from b cross join lateral (
    select count(*)::int as n from bookings k
    where k.company_id = b.company_id and k.bot_id = b.bot_id and k.created_at >= b.bucket and k.created_at < b.bucket + ${BUCKET}
      and k.status not in ('held', 'expired')
      -- A hold let go before it was confirmed (a caller choosing another time) was never a booking.
      and not exists (select 1 from booking_events e where e.booking_id = k.id and e.to_status = 'cancelled' and e.from_status = 'held')) k
  where k.n > 0
),
bc as (
  select b.company_id, b.bot_id, b.bucket, k.n
  from b cross join lateral (
    select count(*)::int as n from booking_events e join bookings k on k.id = e.booking_id
    where e.company_id = b.company_id and e.to_status = 'cancelled' and e.from_status is distinct from 'held'
      and e.created_at >= b.bucket and e.created_at < b.bucket + ${BUCKET} and k.bot_id = b.bot_id) k
  where k.n > 0
)
insert into call_rollup (company_id, bot_id, bucket, ${COUNTED.join(', ')}, bookings_made, bookings_cancelled)
select b.company_id, b.bot_id, b.bucket, ${COUNTED.map((c) => `coalesce(ca.${c}, 0)`).join(', ')}, coalesce(bm.n, 0), coalesce(bc.n, 0)
from b
left join ca on ca.company_id = b.company_id and ca.bot_id = b.bot_id and ca.bucket = b.bucket
left join bm on bm.company_id = b.company_id and bm.bot_id = b.bot_id and bm.bucket = b.bucket
left join bc on bc.company_id = b.company_id and bc.bot_id = b.bot_id and bc.bucket = b.bucket
-- Only companies that still exist (a deleted company's marks are simply dropped).
join companies co on co.id = b.company_id
where ca.calls is not null or bm.n is not null or bc.n is not null`;

const OUTCOMES_SQL = `
with ${CLAIMED}
insert into call_outcome_rollup (company_id, bot_id, bucket, outcome_type, calls)
select b.company_id, b.bot_id, b.bucket, x.outcome_type, x.n
from b
join companies co on co.id = b.company_id
cross join lateral (
  select o.outcome_type, count(*)::int as n
  from calls c join outcomes o on o.call_id = c.id
  where c.company_id = b.company_id and c.bot_id = b.bot_id and c.started_at >= b.bucket and c.started_at < b.bucket + ${BUCKET}
  group by o.outcome_type) x`;

const SLOT = `(extract(epoch from r.bucket - ${DAY_START}) / ${BUCKET_MINUTES * 60})::int + 1`;

/** Running totals of the touched UTC days, per bot. */
const CUM_PER_BOT_SQL = `
with ${CLAIMED}, d as (select distinct company_id, bot_id, (bucket at time zone 'UTC')::date as day from b)
insert into call_rollup_cum (company_id, bot_id, day, slot, ${CUM_COLUMNS.join(', ')})
select d.company_id, d.bot_id, d.day, x.*
from d cross join lateral (
  select ${SLOT} as slot, ${CUM_COLUMNS.map((c) => `sum(r.${c}) over w`).join(', ')}
  from call_rollup r
  where r.company_id = d.company_id and r.bot_id = d.bot_id and r.bucket >= ${DAY_START} and r.bucket < ${DAY_START} + interval '1 day'
  window w as (order by r.bucket)) x`;

/** Running totals of the touched UTC days, all bots together. */
const CUM_ALL_BOTS_SQL = `
with ${CLAIMED}, d as (select distinct company_id, (bucket at time zone 'UTC')::date as day from b)
insert into call_rollup_cum (company_id, bot_id, day, slot, ${CUM_COLUMNS.join(', ')})
select d.company_id, '${ALL_BOTS}'::uuid, d.day, x.*
from d cross join lateral (
  select ${SLOT} as slot, ${CUM_COLUMNS.map((c) => `sum(sum(r.${c})) over (order by r.bucket)`).join(', ')}
  from call_rollup r
  where r.company_id = d.company_id and r.bucket >= ${DAY_START} and r.bucket < ${DAY_START} + interval '1 day'
  group by r.bucket) x`;

/**
 * Running outcome counts of the touched UTC days: a row for every (slot with outcomes, type seen that day), so a
 * lookup finds the latest slot once and reads all its types together.
 */
const outcomeCumSql = (allBots: boolean): string => `
with ${CLAIMED}, d as (select distinct company_id, ${allBots ? `'${ALL_BOTS}'::uuid as bot_id` : 'bot_id'}, (bucket at time zone 'UTC')::date as day from b)
insert into call_outcome_cum (company_id, bot_id, day, outcome_type, slot, calls)
select d.company_id, d.bot_id, d.day, x.*
from d cross join lateral (
  select g.outcome_type, g.slot, sum(g.c) over (partition by g.outcome_type order by g.slot)
  from (select u.outcome_type, u.slot, sum(u.c) as c from (
    select o.outcome_type, (extract(epoch from o.bucket - ${DAY_START}) / ${BUCKET_MINUTES * 60})::int + 1 as slot, sum(o.calls) as c
    from call_outcome_rollup o
    where o.company_id = d.company_id ${allBots ? '' : 'and o.bot_id = d.bot_id'}
      and o.bucket >= ${DAY_START} and o.bucket < ${DAY_START} + interval '1 day'
    group by o.outcome_type, o.bucket
    union all
    -- zero rows fill the grid: every type at every slot that has any outcome
    select t.outcome_type, s.slot, 0
    from (select distinct o.outcome_type from call_outcome_rollup o
          where o.company_id = d.company_id ${allBots ? '' : 'and o.bot_id = d.bot_id'}
            and o.bucket >= ${DAY_START} and o.bucket < ${DAY_START} + interval '1 day') t
    cross join (select distinct (extract(epoch from o.bucket - ${DAY_START}) / ${BUCKET_MINUTES * 60})::int + 1 as slot from call_outcome_rollup o
          where o.company_id = d.company_id ${allBots ? '' : 'and o.bot_id = d.bot_id'}
            and o.bucket >= ${DAY_START} and o.bucket < ${DAY_START} + interval '1 day') s
  ) u group by u.outcome_type, u.slot) g
) x
`;
const ANALYTICS: BucketRollup = {
  name: 'analytics',
  dirtyTable: 'analytics_dirty',
  lockSeed: 7233151130,
  statements: [
    `with ${CLAIMED} delete from call_rollup r using b where r.company_id = b.company_id and r.bot_id = b.bot_id and r.bucket = b.bucket`,
    `with ${CLAIMED} delete from call_outcome_rollup r using b where r.company_id = b.company_id and r.bot_id = b.bot_id and r.bucket = b.bucket`,
    RECOMPUTE_SQL,
    OUTCOMES_SQL,
    deleteDailyTotalsSql('call_rollup_cum'),
    deleteDailyTotalsSql('call_outcome_cum'),
    CUM_PER_BOT_SQL,
    CUM_ALL_BOTS_SQL,
    outcomeCumSql(false),
    outcomeCumSql(true),
  ],
};

/**
 * Recomputes dirty buckets now, in batches, until none is left that nobody else holds (or `maxBatches` ran);
 * with `companyId`, only that company's. Returns the number of buckets recomputed.
 */
export function refreshAnalytics(sql: RootSql, options: { companyId?: string; batchSize?: number; maxBatches?: number } = {}): Promise<number> {
  return refreshRollup(sql, ANALYTICS, options);
}

/** The background worker: the leased poller, one batch of dirty buckets at a time. */
export function analyticsWorker(sql: RootSql, log: Logger, options: { pollMs?: number; batchSize?: number } = {}): LeasedPoller<DirtyBucket[]> {
  return rollupWorker(sql, log, ANALYTICS, options);
}
