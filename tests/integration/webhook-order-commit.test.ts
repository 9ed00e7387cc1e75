/**
 * Events of one ordering key leave in the order their transactions commit: `seq` is taken at insert, so without
 * turns a transaction that inserted first and commits last (a campaign's settle batch) would have its event sent
 * after a later one (a pause) that committed first. On PostgreSQL the two transactions run side by side; on PGlite
 * (one connection) they cannot, and the order holds by construction.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RootSql } from '../../src/db/sql.js';
import { recordEvent } from '../../src/webhooks/emit.js';
import { claimDueEvents } from '../../src/webhooks/outbox.js';
import { generateWebhookSecret } from '../../src/webhooks/signing.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let sql: RootSql;
beforeAll(async () => {
  db = await createTestDb();
  sql = db.sql;
});
afterAll(async () => db.close());

describe('webhook order per key under concurrent writers', () => {
  it('never lets a later commit of the same key be claimed before an earlier insert still in flight', async () => {
    const [co] = await sql<{ id: string }[]>`
      insert into companies (name, webhook_url, webhook_secret) values ('Order', 'https://hooks.example.com/o', ${generateWebhookSecret()}) returning id`;
    const companyId = co!.id;
    const key = 'campaign-order-1';
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = sql.begin(async (tx) => {
      await recordEvent(tx, { companyId, type: 'campaign.attempt.ended', data: { n: 1 }, orderingKey: key });
      await gate; // the rest of a long batch
    });
    await sleep(100);
    const second = sql.begin(async (tx) => {
      await recordEvent(tx, { companyId, type: 'campaign.status_changed', data: { n: 2 }, orderingKey: key });
    });
    await sleep(300);
    // While the first is open, nothing of this key may be claimed (the second waits its turn; on PGlite the
    // claim itself waits for the one connection).
    const earlyClaim = claimDueEvents(sql, 100, 60_000);
    const early = await Promise.race([earlyClaim, sleep(1_000, 'busy' as const)]);
    if (early !== 'busy') expect(early.filter((e) => e.company_id === companyId)).toEqual([]);
    release();
    await Promise.all([first, second]);
    // Claimed one at a time, in commit order (on PGlite the early claim ran after both commits: it is the first).
    const claims: string[] = [];
    let got = (await earlyClaim).filter((e) => e.company_id === companyId);
    while (claims.length < 2) {
      if (got.length === 0) got = (await claimDueEvents(sql, 100, 60_000)).filter((e) => e.company_id === companyId);
      expect(got).toHaveLength(1);
      claims.push(got[0]!.type);
      await sql`update webhook_events set status = 'delivered', locked_until = null where id = ${got[0]!.id}`;
      got = [];
    }
    expect(claims).toEqual(['campaign.attempt.ended', 'campaign.status_changed']);
  });
});
