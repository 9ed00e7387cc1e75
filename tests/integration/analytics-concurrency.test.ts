/**
 * The analytics rollup beside writes that mark several buckets in one transaction (a sweep ending many calls, a
 * call whose start moved): the rollup clears the marks of what it recomputed, and neither may wait on the other
 * in opposite orders. On PostgreSQL that was a deadlock, and PostgreSQL's cure is to abort one of the two: the
 * call's own write could be the one that failed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshAnalytics } from '../../src/analytics/rollup.js';
import type { Db, RootSql } from '../../src/db/sql.js';
import { createTestDb, usingRealPostgres, type TestDatabase } from '../helpers/db.js';
import { seedBot, seedCall, seedCompany } from './booking-fixtures.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('analytics rollup beside writes marking several buckets', () => {
  let db: TestDatabase;
  let companyId: string;
  let botId: string;
  beforeAll(async () => {
    db = await createTestDb();
    companyId = await seedCompany(db.sql, 'Busy', 'https://hooks.example.com/parley');
    botId = (await seedBot(db.sql, companyId)).id;
  });
  afterAll(async () => db?.close());

  /** Until a session of this database waits on a lock, or `done` settles (PGlite has one connection: a moment). */
  async function untilWaitingOrDone(done: Promise<unknown>): Promise<void> {
    if (!usingRealPostgres()) {
      await sleep(200);
      return;
    }
    let settled = false;
    void done.finally(() => (settled = true)).catch(() => {});
    for (const deadline = Date.now() + 10_000; !settled && Date.now() < deadline; await sleep(20)) {
      const [w] = await db.sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
      if (w!.n > 0) return;
    }
  }
  const end = (tx: Db, id: string, sec: number) =>
    tx`update calls set status = 'completed', answered_at = started_at, ended_at = started_at + ${sec} * interval '1 second', duration_sec = ${sec} where id = ${id}`;

  it('clears its marks without waiting on a transaction that is marking buckets, and neither fails', async () => {
    const early = await seedCall(db.sql, companyId, botId, '+12125550101');
    const late = await seedCall(db.sql, companyId, botId, '+12125550102');
    await db.sql`update calls set started_at = '2026-05-04T09:00:00Z' where id = ${early}`;
    await db.sql`update calls set started_at = '2026-05-04T11:00:00Z' where id = ${late}`;
    await refreshAnalytics(db.sql);
    // Both buckets dirty again.
    await end(db.sql, early, 10);
    await end(db.sql, late, 10);

    // The rollup has claimed both buckets; its recompute starts only when let go.
    let letGo!: () => void;
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    let claimed!: () => void;
    const claimDone = new Promise<void>((resolve) => (claimed = resolve));
    const gated = new Proxy(db.sql, {
      get(target, prop, receiver) {
        if (prop !== 'begin') return Reflect.get(target, prop, receiver);
        return async (...args: unknown[]) => {
          claimed();
          await gate;
          return (target.begin as (...a: unknown[]) => Promise<unknown>)(...args);
        };
      },
    }) as RootSql;
    const rollup = refreshAnalytics(gated, { companyId });
    await claimDone;

    // A transaction marks the later bucket, the rollup then clears its marks (the later one held), and the
    // transaction marks the earlier bucket: opposite orders.
    const writer = db.sql.begin(async (tx) => {
      await end(tx, late, 20);
      letGo();
      await untilWaitingOrDone(rollup);
      await end(tx, early, 20);
    });
    const [wrote, rolled] = await Promise.allSettled([writer, rollup]);
    expect(wrote.status === 'rejected' ? String(wrote.reason) : 'ok').toBe('ok');
    expect(rolled.status === 'rejected' ? String(rolled.reason) : 'ok').toBe('ok');

    // What the writer changed is counted once the rollup runs again: its marks are not left leased.
    await refreshAnalytics(db.sql);
    const [sum] = await db.sql`select sum(duration_sum)::int as s from call_rollup where company_id = ${companyId} and bot_id = ${botId}`;
    expect(sum!.s).toBe(40);
  });
});
