/**
 * GET /v1/usage: a company's (or one bot's) usage and cost by local day in a time zone, and in total. Days are cut
 * as analytics cuts them (rangeOf: the UTC instant starting each local day), every day of the range present.
 */
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
  const { days, boundaries } = rangeOf(q);
  const rows = await usageByDay(db, { companyId: q.companyId, botId: q.botId, boundaries });
  const perDay: RawItem[][] = days.map(() => []);
  for (const r of rows) perDay[r.day]?.push(r);
  return {
    time_zone: q.timeZone,
    from: q.from,
    to: q.to,
    bot_id: q.botId ?? null,
    currency: prices.currency,
    days: days.map((date, i) => ({ date, ...priceItems(prices, perDay[i]!) })),
    totals: priceItems(prices, rows.filter((r) => r.day >= 0 && r.day < days.length)),
  };
}
