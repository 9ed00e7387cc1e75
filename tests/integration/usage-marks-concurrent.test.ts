/**
 * Two changes to one company's usage at once both succeed: deleting two of its bots together moves both bots' usage
 * to "no bot", which marks the same usage_dirty buckets (company, no bot, bucket) from both transactions. The update
 * triggers marked row by row, in whatever order each statement met its rows, so two such statements could each hold
 * a mark the other wanted — a deadlock, which PostgreSQL ends by aborting one (the API's 503 "retry"). They now mark
 * per statement, in key order (migrations/0431). On PGlite (one connection) the two run one after the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { seedBot, seedCompany } from './booking-fixtures.js';

const BUCKETS = 400;
const ROUNDS = 4;

describe('usage marks from concurrent changes', () => {
  let db: TestDatabase;
  let companyId: string;
  beforeAll(async () => {
    db = await createTestDb();
    companyId = await seedCompany(db.sql, 'Busy');
  });
  afterAll(async () => db?.close());

  it('two bots of one company deleted at once: both deletions succeed, the usage stays the company\'s', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const a = (await seedBot(db.sql, companyId)).id;
      const b = (await seedBot(db.sql, companyId)).id;
      // The same buckets for both bots, met in opposite orders: a's rows stored oldest first, b's newest first.
      for (const [bot, order] of [[a, 'asc'], [b, 'desc']] as const) {
        await db.sql`
          insert into call_usage (company_id, bot_id, started_at, kind, provider, model, quantity)
          select ${companyId}, ${bot}, '2026-11-01T00:00:00Z'::timestamptz + i * interval '15 minutes', 'tts_chars', 'cartesia', 'sonic-3', 10
          from generate_series(1, ${BUCKETS}::int) i order by case when ${order} = 'asc' then i else -i end`;
      }
      const results = await Promise.allSettled([db.sql`delete from bots where id = ${a}`, db.sql`delete from bots where id = ${b}`]);
      expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok')), `round ${round}`).toEqual(['ok', 'ok']);
    }
    const [left] = await db.sql<{ n: number; q: string }[]>`
      select count(*)::int as n, sum(quantity)::text as q from call_usage where company_id = ${companyId} and bot_id is null`;
    expect(left).toEqual({ n: ROUNDS * 2 * BUCKETS, q: String(ROUNDS * 2 * BUCKETS * 10) });
    // Every bucket the moved usage is in is marked under no bot.
    const [marks] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from usage_dirty where company_id = ${companyId} and bot_id = 'ffffffff-ffff-ffff-ffff-ffffffffffff'`;
    expect(marks!.n).toBe(BUCKETS);
  });
});
