/**
 * A company's usage of one UTC month, for the monthly budget (budget.ts), read from the usage rollup (rollup.ts,
 * migrations/0420) so that its cost does not grow with the month: the running total at the end of each UTC day for
 * all of the company's bots (one slot's items per day), corrected where the rollup is behind — for each bucket still
 * marked in usage_dirty (usage written since the worker last ran, or the upgrade's backfill), what the rollup holds
 * for it is taken off and its raw rows are counted instead. One statement, so the rollup, the marks and the raw rows
 * are read in one snapshot: exact at any moment, never short.
 */
import { ALL_BOTS, BUCKET_MINUTES } from '../analytics/buckets.js';
import type { Db } from '../db/sql.js';
import type { RawItem } from './repo.js';
import { NO_BOT } from './rollup.js';

/** Raw (stored-unit) usage of the company in [start, end); both UTC midnights (a UTC month's bounds). */
export async function monthUsage(db: Db, companyId: string, month: { start: Date; end: Date }): Promise<RawItem[]> {
  const firstDay = month.start.toISOString().slice(0, 10);
  const lastDay = new Date(month.end.getTime() - 86_400_000).toISOString().slice(0, 10);
  const bucket = `${BUCKET_MINUTES} minutes`;
  const rows = await db<{ kind: RawItem['kind']; provider: string; model: string; quantity: string }[]>`
    with marked as (
      select m.bot_id, m.bucket from usage_dirty m
      where m.company_id = ${companyId} and m.bucket >= ${month.start} and m.bucket < ${month.end}),
    items as (
      select r.kind, r.provider, r.model, r.quantity
      from generate_series(${firstDay}::date, ${lastDay}::date, interval '1 day') as d(day)
      cross join lateral (
        select s.slot from usage_rollup_cum s
        where s.company_id = ${companyId} and s.bot_id = ${ALL_BOTS}::uuid and s.day = d.day::date
        order by s.slot desc limit 1) s
      join usage_rollup_cum r on r.company_id = ${companyId} and r.bot_id = ${ALL_BOTS}::uuid and r.day = d.day::date and r.slot = s.slot
      union all
      select r.kind, r.provider, r.model, -r.quantity
      from marked m join usage_rollup r on r.company_id = ${companyId} and r.bucket = m.bucket and r.bot_id = m.bot_id
      union all
      select u.kind, u.provider, u.model, u.quantity
      from marked m cross join lateral (
        select c.kind, c.provider, c.model, c.quantity from call_usage c
        where c.company_id = ${companyId} and coalesce(c.bot_id, ${NO_BOT}::uuid) = m.bot_id
          and c.started_at >= m.bucket and c.started_at < m.bucket + ${bucket}::interval
        union all
        select i.kind, i.provider, i.model, i.quantity from ingest_usage i
        where i.company_id = ${companyId} and coalesce(i.bot_id, ${NO_BOT}::uuid) = m.bot_id
          and i.occurred_at >= m.bucket and i.occurred_at < m.bucket + ${bucket}::interval
        -- A fence, as the rollup's own recompute: per-bucket index range scans, never the month's raw rows.
        offset 0) u)
    select kind, provider, model, sum(quantity)::text as quantity from items group by kind, provider, model`;
  return rows.map((r) => ({ kind: r.kind, provider: r.provider, model: r.model, quantity: Number(r.quantity) }));
}
