/**
 * call_usage (migrations/0135_call_usage.sql, 0220): written once per call when its session ends, read by GET
 * /v1/usage and the monthly budget; it outlives the call (a purge leaves it with call_id null). Telephony minutes
 * are rows there too, written by a trigger wherever a call's duration is set (rounded up to whole minutes per
 * call, as Twilio bills). The cost of everything is computed when read, from the configured prices (prices.ts).
 */
import type { Db, RootSql } from '../db/sql.js';
import type { UsageItem, UsageKind } from './counting.js';
import { UNITS, costOf, reported, round6, type Prices, type ReportedKind } from './prices.js';

export interface UsageCall {
  callId: string;
  companyId: string;
}

/**
 * One row per (kind, provider, model), under the call's bot and start (read from the call), in one transaction; a
 * second write for the same call adds to it. Every writer of a call's usage comes here: the session's end, the
 * post-call analysis, a campaign voicemail's synthesis.
 */
export async function writeCallUsage(sql: RootSql, call: UsageCall, items: UsageItem[]): Promise<void> {
  const rows = items
    .filter((i) => i.quantity > 0 && Number.isFinite(i.quantity))
    .map((i) => ({ kind: i.kind, provider: i.provider.slice(0, 64) || 'unknown', model: i.model.slice(0, 200), quantity: Math.round(i.quantity) }));
  if (rows.length === 0) return;
  await sql.begin(async (tx) => {
    for (const r of rows) {
      await tx`
        insert into call_usage (call_id, company_id, bot_id, started_at, kind, provider, model, quantity)
        select id, company_id, bot_id, started_at, ${r.kind}, ${r.provider}, ${r.model}, ${r.quantity}
        from calls where id = ${call.callId} and company_id = ${call.companyId}
        on conflict (call_id, kind, provider, model) do update set quantity = call_usage.quantity + excluded.quantity`;
    }
  });
}

export interface PricedItem {
  kind: ReportedKind;
  provider: string;
  model: string;
  quantity: number;
  unit: string;
  cost: number;
}

/** Raw (stored-unit) quantities, as the queries return them. */
export interface RawItem {
  kind: UsageKind | 'telephony_minutes';
  provider: string;
  model: string;
  quantity: number;
}

/** Reported kinds and units, priced, sorted (kind, provider, model). */
export function priceItems(prices: Prices, raw: RawItem[]): { items: PricedItem[]; cost: number } {
  const merged = new Map<string, RawItem>();
  for (const r of raw) {
    const key = `${r.kind}\u0000${r.provider}\u0000${r.model}`;
    const m = merged.get(key);
    if (m) m.quantity += r.quantity;
    else merged.set(key, { ...r });
  }
  const items = [...merged.values()].map((r) => {
    const { kind, factor } = r.kind === 'telephony_minutes' ? { kind: r.kind, factor: 1 } : reported(r.kind);
    const quantity = round6(r.quantity * factor);
    return { kind, provider: r.provider, model: r.model, quantity, unit: UNITS[kind], cost: costOf(prices, kind, r.provider, r.model, quantity) };
  });
  items.sort((a, b) => a.kind.localeCompare(b.kind) || a.provider.localeCompare(b.provider) || a.model.localeCompare(b.model));
  return { items, cost: round6(items.reduce((s, i) => s + i.cost, 0)) };
}

/** One call's raw usage (telephony included); null when the call is not the company's. */
export async function callUsage(db: Db, companyId: string, callId: string): Promise<RawItem[] | null> {
  const [call] = await db`select 1 from calls where id = ${callId} and company_id = ${companyId}`;
  if (!call) return null;
  const rows = await db`
    select kind, provider, model, quantity::text as quantity from call_usage where call_id = ${callId} and company_id = ${companyId}`;
  return rows.map((r) => ({ kind: r.kind as RawItem['kind'], provider: r.provider as string, model: r.model as string, quantity: Number(r.quantity) }));
}

/**
 * Raw usage of a company (or one bot) by day: `boundaries` are the UTC instants that start each local day, plus
 * the end (analytics/query.ts rangeOf). Returns the 0-based day index with each row. One statement over two
 * indexed ranges (company_id, time): call_usage (telephony minutes included), ingest_usage (embedding tokens).
 */
export async function usageByDay(db: Db, q: { companyId: string; botId?: string | undefined; boundaries: number[] }): Promise<Array<RawItem & { day: number }>> {
  const bounds = q.boundaries.map((ms) => new Date(ms).toISOString());
  const first = bounds[0]!;
  const last = bounds.at(-1)!;
  const bot = q.botId ?? null;
  const rows = await db`
    select width_bucket(started_at, ${bounds}::timestamptz[]) as day, kind, provider, model, sum(quantity)::text as quantity
    from call_usage
    where company_id = ${q.companyId} and (${bot}::uuid is null or bot_id = ${bot}::uuid)
      and started_at >= ${first}::timestamptz and started_at < ${last}::timestamptz
    group by 1, 2, 3, 4
    union all
    select width_bucket(occurred_at, ${bounds}::timestamptz[]) as day, kind, provider, model, sum(quantity)::text
    from ingest_usage
    where company_id = ${q.companyId} and (${bot}::uuid is null or bot_id = ${bot}::uuid)
      and occurred_at >= ${first}::timestamptz and occurred_at < ${last}::timestamptz
    group by 1, 2, 3, 4`;
  return rows.map((r) => ({
    day: Number(r.day) - 1, kind: r.kind as RawItem['kind'], provider: r.provider as string, model: r.model as string, quantity: Number(r.quantity),
  }));
}
