/**
 * The embedded database's vacuum (src/db/embedded-vacuum.ts): PGlite has no autovacuum, so a queue-like table
 * (insert, then delete: campaign_stat_deltas as the fold leaves it) kept every deleted row as dead space and grew
 * each round. With the maintenance step between rounds its dead rows are removed and its size stops growing; the
 * poller does the same on its own. On PostgreSQL there is no poller (its autovacuum does this).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedVacuumWorker, maintainTable, tablesDue } from '../../src/db/embedded-vacuum.js';
import type { RootSql } from '../../src/db/sql.js';
import { createTestDb, usingRealPostgres, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/until.js';
import { createLogger } from '../../src/log.js';
import { testConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';

const ROWS = 20_000;
const logger = createLogger('silent');

/** One round of a queue's churn: ROWS deltas appended, then folded away (deleted). */
async function churn(sql: RootSql): Promise<void> {
  await sql`insert into campaign_stat_deltas (campaign_id, company_id, kind, label, n)
    select gen_random_uuid(), gen_random_uuid(), 'outcome', 'x' || (g % 10), 1 from generate_series(1, ${ROWS}) g`;
  await sql`delete from campaign_stat_deltas`;
}

async function stats(sql: RootSql): Promise<{ dead: number; bytes: number }> {
  await sql`select pg_stat_force_next_flush()`;
  const [row] = await sql<{ dead: number; bytes: number }[]>`
    select n_dead_tup::int as dead, pg_total_relation_size(relid)::int as bytes
    from pg_stat_user_tables where relname = 'campaign_stat_deltas'`;
  return row!;
}

/** Every table due, one statement each, as the poller does them. */
async function maintainAll(sql: RootSql): Promise<void> {
  for (const due of await tablesDue(sql, 1_000, 0)) await maintainTable(sql, due);
}

if (!usingRealPostgres()) describe('embedded database vacuum (PGlite)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => db?.close());

  it('removes a churned table\'s dead rows, so its size stops growing across rounds', async () => {
    await churn(db.sql);
    const unvacuumed = await stats(db.sql);
    expect(unvacuumed.dead).toBeGreaterThanOrEqual(ROWS);
    const sizes: number[] = [];
    for (let round = 0; round < 10; round++) {
      if (round > 0) await churn(db.sql);
      await maintainAll(db.sql);
      const now = await stats(db.sql);
      expect(now.dead).toBe(0);
      sizes.push(now.bytes);
    }
    // The freed pages are reused: once the indexes' emptied pages are recycled (from the second round) the table
    // stays at ~2.6 MB, give or take a few pages. Without the step each round added what the first did (~3 MB: 30 MB
    // after ten), so eight more rounds would have added ~24 MB.
    expect(sizes.at(-1)! - sizes[1]!).toBeLessThan(unvacuumed.bytes / 4);
  });

  it('runs in a server without WORKERS_ENABLED too: no other process can reach its database to do it', async () => {
    const server = await startServer(testConfig({ HOST: '127.0.0.1', WORKERS_ENABLED: 'false' }), logger, { port: 0, vacuumPollMs: 50 });
    try {
      await churn(server.db.sql);
      await until(async () => (await stats(server.db.sql)).dead === 0, 20_000);
    } finally {
      await server.stop();
    }
  });

  it('the poller vacuums a table on its own once enough rows are dead', async () => {
    const poller = embeddedVacuumWorker(db, logger, { pollMs: 50 })!;
    await churn(db.sql);
    poller.start();
    try {
      await until(async () => (await stats(db.sql)).dead === 0, 10_000);
    } finally {
      await poller.stop(5_000);
    }
  });
});

else describe('embedded database vacuum (PostgreSQL)', () => {
  it('is not started: PostgreSQL\'s autovacuum does this', async () => {
    const db = await createTestDb({ migrate: false });
    try {
      expect(embeddedVacuumWorker(db, logger)).toBeNull();
    } finally {
      await db.close();
    }
  });
});
