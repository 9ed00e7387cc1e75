/**
 * Migration 0220 on a database an older release left: every call's telephony minutes become usage rows (the bill
 * as it was read before), existing usage keeps its rows, and from then on usage outlives its calls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { createTestDb, migrateBefore, type TestDatabase } from '../helpers/db.js';

describe('migration 0220 (usage outlives calls)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDb({ migrate: false });
    await migrateBefore(db, '0220');
  });
  afterAll(async () => db?.close());

  it('backfills telephony minutes per call, keeps existing usage, and keeps both once the call is deleted', async () => {
    const sql = db.sql;
    const [company] = await sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Old data', 'whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0') returning id`;
    const [bot] = await sql<{ id: string }[]>`insert into bots (company_id, name, language, config) values (${company!.id}, 'Desk', 'en', '{"greeting":"Hi"}') returning id`;
    const calls = [];
    for (const [direction, duration] of [['inbound', 61], ['outbound', 0], ['web', 30], ['inbound', null]] as const) {
      const [c] = await sql<{ id: string }[]>`
        insert into calls (company_id, bot_id, direction, status, duration_sec) values (${company!.id}, ${bot!.id}, ${direction}, 'completed', ${duration}) returning id`;
      calls.push(c!.id);
    }
    await sql`insert into call_usage (call_id, company_id, bot_id, started_at, kind, provider, model, quantity)
      values (${calls[0]!}, ${company!.id}, ${bot!.id}, now(), 'tts_chars', 'cartesia', 'sonic-3', 500)`;

    await migrate(sql);
    const rows = await sql<{ call_id: string; kind: string; provider: string; model: string; quantity: string }[]>`
      select call_id, kind, provider, model, quantity::text as quantity from call_usage order by call_id, kind`;
    expect(rows).toEqual(expect.arrayContaining([
      { call_id: calls[0], kind: 'telephony_minutes', provider: 'twilio', model: 'inbound', quantity: '2' },
      { call_id: calls[0], kind: 'tts_chars', provider: 'cartesia', model: 'sonic-3', quantity: '500' },
      { call_id: calls[2], kind: 'telephony_minutes', provider: 'web', model: 'web', quantity: '1' },
    ]));
    expect(rows).toHaveLength(3);

    await sql`delete from calls where id = any(${calls}::uuid[])`;
    expect((await sql`select call_id from call_usage`).map((r) => r.call_id)).toEqual([null, null, null]);
  });
});
