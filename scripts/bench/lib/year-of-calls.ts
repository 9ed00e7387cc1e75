/**
 * The set-up the per-day API benchmarks share (bench:analytics, bench:usage): one company with 5 bots, calls spread
 * over 2026, and the ranges each times — the whole year by day (UTC, Berlin, Kathmandu's +5:45, one bot in New York),
 * and one month.
 */
import type { Db } from '../../../src/db/sql.js';

export const YEAR_START = new Date('2026-01-01T00:00:00Z');

export async function benchCompany(sql: Db): Promise<{ companyId: string; botIds: string[] }> {
  const [company] = await sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Bench', 'whsec_x') returning id`;
  const companyId = company!.id;
  const bots = await sql<{ id: string }[]>`
    insert into bots (company_id, name, config) select ${companyId}, 'Bot ' || i, '{"greeting":"Hi"}'::jsonb from generate_series(1, 5) i returning id`;
  return { companyId, botIds: bots.map((b) => b.id) };
}

export interface DayRangeCase {
  label: string;
  q: { companyId: string; botId?: string; from: string; to: string; timeZone: string };
}

export function yearCases(companyId: string, botIds: string[]): DayRangeCase[] {
  return [
    { label: 'whole year, UTC, all bots', q: { companyId, from: '2026-01-01', to: '2026-12-31', timeZone: 'UTC' } },
    { label: 'whole year, Europe/Berlin, all bots', q: { companyId, from: '2026-01-01', to: '2026-12-31', timeZone: 'Europe/Berlin' } },
    { label: 'whole year, Asia/Kathmandu (+5:45), all bots', q: { companyId, from: '2026-01-01', to: '2026-12-31', timeZone: 'Asia/Kathmandu' } },
    { label: 'whole year, America/New_York, one bot', q: { companyId, botId: botIds[0]!, from: '2026-01-01', to: '2026-12-31', timeZone: 'America/New_York' } },
    { label: 'one month, UTC, all bots', q: { companyId, from: '2026-06-01', to: '2026-06-30', timeZone: 'UTC' } },
  ];
}
