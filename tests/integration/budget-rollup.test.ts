/**
 * The monthly budget's cost is read from the usage rollup (src/usage/month-usage.ts), not by summing the month's raw
 * usage rows on the call path: the check reads a few rows per day however many the month has. And it stays the raw
 * rows' exact total of the UTC month at the edges — usage a millisecond either side of the month, usage the rollup
 * has not caught up with (new rows, rows added to, moved off a deleted bot, deleted), ingestion with and without a
 * bot, another company's usage — before any rollup, after it, and in between.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { BudgetGuard, utcMonth } from '../../src/usage/budget.js';
import { pricesFrom } from '../../src/usage/prices.js';
import { priceItems, writeCallUsage, type RawItem } from '../../src/usage/repo.js';
import { refreshUsage } from '../../src/usage/rollup.js';
import { round6 } from '../../src/usage/prices.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { recordingPlans, rowsRead } from '../helpers/query-plan.js';
import { seedBot, seedCompany } from './booking-fixtures.js';

const prices = pricesFrom(loadConfig({ PRICE_DEEPGRAM_PER_MIN: '0.006', PRICE_OPENAI_OUTPUT_PER_MTOK: '8', PRICE_TWILIO_INBOUND_PER_MIN: '0.01' }));
const NOW = new Date('2026-11-17T10:20:00Z');
const MONTH = utcMonth(NOW);
const ms = (iso: string) => new Date(iso);

describe('the monthly budget reads the usage rollup', () => {
  let db: TestDatabase;
  let companyId: string;
  let other: string;
  let bots: string[];
  const calls: string[] = [];
  const guard = () => new BudgetGuard(db.sql, prices, { cacheMs: 0, now: () => NOW });
  const spent = async () => (await guard().status(companyId, { costWithoutBudget: true })).spent;

  /** The recount: the company's raw rows in [month start, next month's start), priced. */
  const recount = async (): Promise<number> => {
    const rows = await db.sql<{ kind: RawItem['kind']; provider: string; model: string; quantity: string }[]>`
      select kind, provider, model, sum(quantity)::text as quantity from (
        select kind, provider, model, quantity from call_usage
        where company_id = ${companyId} and started_at >= ${MONTH.start} and started_at < ${MONTH.end}
        union all
        select kind, provider, model, quantity from ingest_usage
        where company_id = ${companyId} and occurred_at >= ${MONTH.start} and occurred_at < ${MONTH.end}) u
      group by 1, 2, 3`;
    return round6(priceItems(prices, rows.map((r) => ({ ...r, quantity: Number(r.quantity) }))).cost);
  };

  async function call(company: string, bot: string, at: Date, items: [RawItem['kind'], string, string, number][]): Promise<string> {
    const [row] = await db.sql<{ id: string }[]>`
      insert into calls (company_id, bot_id, direction, status, started_at, answered_at, ended_at, duration_sec)
      values (${company}, ${bot}, 'inbound', 'completed', ${at}, ${at}, ${at}, 61) returning id`;
    await writeCallUsage(db.sql, { callId: row!.id, companyId: company }, items.map(([kind, provider, model, quantity]) => ({ kind: kind as never, provider, model, quantity })));
    return row!.id;
  }

  beforeAll(async () => {
    db = await createTestDb();
    companyId = await seedCompany(db.sql, 'Busy');
    other = await seedCompany(db.sql, 'Other');
    bots = [(await seedBot(db.sql, companyId)).id, (await seedBot(db.sql, companyId)).id];
    const otherBot = (await seedBot(db.sql, other)).id;
    // The edges: the last millisecond of last month and the first of next month do not count; the month's first
    // and last milliseconds do.
    for (const [i, at] of ['2026-10-31T23:59:59.999Z', '2026-11-01T00:00:00.000Z', '2026-11-17T10:14:59.999Z', '2026-11-17T10:15:00Z',
      '2026-11-30T23:59:59.999Z', '2026-12-01T00:00:00.000Z'].entries()) {
      calls.push(await call(companyId, bots[i % 2]!, ms(at), [['stt_audio_ms', 'deepgram', 'nova-3', 60_000 * (i + 1)], ['llm_output_tokens', 'openai', 'gpt-4o-mini', 10_000 * (i + 1)]]));
    }
    await call(other, otherBot, ms('2026-11-10T12:00:00Z'), [['llm_output_tokens', 'openai', 'gpt-4o-mini', 9_000_000]]);
    await db.sql`insert into ingest_usage (company_id, bot_id, kind, provider, model, quantity, occurred_at) values
      (${companyId}, ${bots[0]!}, 'embedding_tokens', 'openai', 'text-embedding-3-small', 40000000, '2026-11-03T08:00:00Z'),
      (${companyId}, null, 'embedding_tokens', 'openai', 'text-embedding-3-small', 30000000, '2026-11-30T23:59:59.999Z'),
      (${companyId}, null, 'embedding_tokens', 'openai', 'text-embedding-3-small', 20000000, '2026-12-01T00:00:00Z')`;
  });
  afterAll(async () => db?.close());

  it('is the raw rows\' total of the UTC month before the rollup has run, after it, and while it is behind', async () => {
    const want = await recount();
    expect(want).toBeGreaterThan(0);
    expect(await spent()).toBe(want);
    await refreshUsage(db.sql);
    expect((await db.sql`select count(*)::int as n from usage_dirty`)[0]!.n).toBe(0);
    expect(await spent()).toBe(want);

    // Behind the rollup: new usage in a bucket it has and in one it has not, usage added to at a call's end,
    // a bot deleted (its usage moves to no bot), usage deleted, ingestion at the month's last millisecond.
    calls.push(await call(companyId, bots[0]!, ms('2026-11-17T10:16:00Z'), [['tts_chars', 'cartesia', 'sonic-3', 5000]]));
    calls.push(await call(companyId, bots[1]!, ms('2026-11-20T00:00:00Z'), [['llm_output_tokens', 'openai', 'gpt-4o-mini', 70_000]]));
    await writeCallUsage(db.sql, { callId: calls[1]!, companyId }, [{ kind: 'llm_output_tokens' as never, provider: 'openai', model: 'gpt-4o-mini', quantity: 1234 }]);
    expect(await spent()).toBe(await recount());
    await db.sql`delete from bots where id = ${bots[1]!}`;
    await db.sql`delete from call_usage where call_id = ${calls[2]!} and kind = 'stt_audio_ms'`;
    await db.sql`insert into ingest_usage (company_id, bot_id, kind, provider, model, quantity, occurred_at)
      values (${companyId}, ${bots[0]!}, 'embedding_tokens', 'openai', 'text-embedding-3-small', 1000000, '2026-11-30T23:59:59.999Z')`;
    expect(await spent()).not.toBe(want);
    expect(await spent()).toBe(await recount());
    // A retention purge: calls go, their usage stays (and still counts).
    await db.sql`delete from calls where id = any(${calls.slice(0, 3)}::uuid[])`;
    expect(await spent()).toBe(await recount());
    await refreshUsage(db.sql);
    expect(await spent()).toBe(await recount());
  });

  it('reads a few rows a day, not the month\'s usage rows, once the rollup is current', async () => {
    // 3,000 more usage rows this month, rolled up.
    await db.sql`
      with c as (
        insert into calls (company_id, bot_id, direction, status, started_at, ended_at)
        select ${companyId}, ${bots[0]!}, 'web', 'completed', ${MONTH.start}::timestamptz + i * interval '7 minutes', ${MONTH.start}::timestamptz + i * interval '7 minutes'
        from generate_series(1, 1000) i returning id, company_id, bot_id, started_at)
      insert into call_usage (call_id, company_id, bot_id, started_at, kind, provider, model, quantity)
      select c.id, c.company_id, c.bot_id, c.started_at, k.kind, k.provider, k.model, 1000
      from c cross join (values ('stt_audio_ms', 'deepgram', 'nova-3'), ('llm_output_tokens', 'openai', 'gpt-4o-mini'), ('tts_chars', 'cartesia', 'sonic-3')) k(kind, provider, model)`;
    await refreshUsage(db.sql);
    await db.sql`analyze call_usage`;
    const watched = recordingPlans(db.sql);
    const cost = (await new BudgetGuard(watched.db, prices, { cacheMs: 0, now: () => NOW }).status(companyId, { costWithoutBudget: true })).spent;
    expect(cost).toBe(await recount());
    const read = watched.plans.reduce((n, p) => n + rowsRead(p, 'call_usage') + rowsRead(p, 'ingest_usage'), 0);
    expect(read).toBeLessThan(50);
    // And with a bucket behind, only that bucket's raw rows are read.
    await call(companyId, bots[0]!, ms('2026-11-17T10:16:00Z'), [['tts_chars', 'cartesia', 'sonic-3', 5000]]);
    watched.plans.length = 0;
    expect(await new BudgetGuard(watched.db, prices, { cacheMs: 0, now: () => NOW }).status(companyId, { costWithoutBudget: true }).then((s) => s.spent)).toBe(await recount());
    expect(watched.plans.reduce((n, p) => n + rowsRead(p, 'call_usage'), 0)).toBeLessThan(50);
  });
});
