/**
 * GET /v1/usage: a company's (or one bot's) usage and cost by local day in a time zone, and in total. Days are cut
 * as analytics cuts them (rangeOf: the UTC instant starting each local day), every day of the range present.
 *
 * Read from the usage rollup's running daily totals (rollup.ts; migrations/0420) as analytics reads its own
 * (analytics/day-points.ts): a few index lookups per day, however much usage the company has. Where the rollup is
 * not current for the range (buckets still marked: usage written a moment ago that the caller's refresh could not
 * take, an upgrade's backfill still under way), the range is counted from the raw rows instead: never short.
 */
import { ALL_BOTS } from '../analytics/buckets.js';
import { lookupsOf, partsOf, pointOf, type Point } from '../analytics/day-points.js';
import { rangeOf } from '../analytics/query.js';
import type { Db } from '../db/sql.js';
import type { Prices } from './prices.js';
import { priceItems, usageByDay, type PricedItem, type RawItem } from './repo.js';

export interface UsageQuery {
  companyId: string;
  botId?: string | undefined;
  from: string;
  to: string;
  timeZone: string;
}

export interface UsageResult {
  time_zone: string;
  from: string;
  to: string;
  bot_id: string | null;
  currency: string;
  days: Array<{ date: string; items: PricedItem[]; cost: number }>;
  totals: { items: PricedItem[]; cost: number };
}

export async function queryUsage(db: Db, prices: Prices, q: UsageQuery): Promise<UsageResult> {
  const { days, boundaries, timeZone } = rangeOf(q);
  const points = boundaries.map(pointOf);
  const rows = (await rollupCurrent(db, q.companyId, boundaries))
    ? await rolledUpByDay(db, { companyId: q.companyId, botId: q.botId, points })
    : await usageByDay(db, { companyId: q.companyId, botId: q.botId, boundaries });
  const perDay: RawItem[][] = days.map(() => []);
  for (const r of rows) perDay[r.day]?.push(r);
  // An item that adds up to nothing on a day is left out (the running totals cannot tell it from one not used).
  const used = (items: RawItem[]): { items: PricedItem[]; cost: number } => {
    const priced = priceItems(prices, items);
    return { items: priced.items.filter((i) => i.quantity !== 0), cost: priced.cost };
  };
  return {
    time_zone: timeZone,
    from: q.from,
    to: q.to,
    bot_id: q.botId ?? null,
    currency: prices.currency,
    days: days.map((date, i) => ({ date, ...used(perDay[i]!) })),
    totals: used(rows.filter((r) => r.day >= 0 && r.day < days.length)),
  };
}

/** Whether no bucket of the company in [first boundary, last) is marked (its rollup rows are all current). */
async function rollupCurrent(db: Db, companyId: string, boundaries: number[]): Promise<boolean> {
  const [row] = await db<{ marked: boolean }[]>`
    select exists (
      select 1 from usage_dirty where company_id = ${companyId}
        and bucket >= ${new Date(boundaries[0]!)} and bucket < ${new Date(boundaries.at(-1)!)}) as marked`;
  return !row!.marked;
}

/** The rollup's usage of each local day [points[i], points[i + 1]), as usageByDay returns the raw rows'. */
async function rolledUpByDay(db: Db, q: { companyId: string; botId?: string | undefined; points: Point[] }): Promise<Array<RawItem & { day: number }>> {
  const rows = await db.unsafe<{ day: string; slot: number; kind: RawItem['kind']; provider: string; model: string; quantity: string }[]>(
    `select q.day::text as day, q.slot, r.kind, r.provider, r.model, r.quantity::text as quantity
     from jsonb_to_recordset($1::text::jsonb) as q(day date, slot int)
     cross join lateral (
       select s.slot from usage_rollup_cum s
       where s.company_id = $2 and s.bot_id = $3 and s.day = q.day and s.slot <= q.slot
       order by s.slot desc limit 1) s
     join usage_rollup_cum r on r.company_id = $2 and r.bot_id = $3 and r.day = q.day and r.slot = s.slot`,
    [lookupsOf(q.points), q.companyId, q.botId ?? ALL_BOTS],
  );
  const at = new Map<string, RawItem[]>();
  for (const r of rows) {
    const k = `${r.day}|${r.slot}`;
    const items = at.get(k) ?? [];
    items.push({ kind: r.kind, provider: r.provider, model: r.model, quantity: Number(r.quantity) });
    at.set(k, items);
  }
  const out: Array<RawItem & { day: number }> = [];
  for (let day = 0; day + 1 < q.points.length; day++) {
    for (const [k, sign] of partsOf(q.points[day]!, q.points[day + 1]!)) {
      for (const item of at.get(k) ?? []) out.push({ ...item, quantity: sign * item.quantity, day });
    }
  }
  return out;
}
