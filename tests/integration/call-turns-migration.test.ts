import { describe, expect, it } from 'vitest';
import { appendTurn } from '../../src/call/lifecycle.js';
import { getCall } from '../../src/db/calls.js';
import { migrate } from '../../src/db/migrate.js';
import { createTestDb, migrateBefore } from '../helpers/db.js';

describe('migration 0160 moves each stored transcript into a row per turn', () => {
  it('keeps every turn of every call, in order, and appends after them', async () => {
    const db = await createTestDb({ migrate: false });
    try {
      await migrateBefore(db, '0160');
      const [company] = await db.sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('A', 'whsec_a') returning id`;
      const turns = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'bot' : 'caller', text: `${tag} ${i}`, ts: '2026-11-01T10:00:00Z' }));
      const calls = await db.sql<{ id: string }[]>`
        insert into calls (company_id, direction, status, transcript) values
          (${company!.id}, 'web', 'completed', ${db.sql.json(turns(12, 'first') as never)}),
          (${company!.id}, 'web', 'in_progress', ${db.sql.json(turns(3, 'live') as never)}),
          (${company!.id}, 'web', 'completed', '[]'::jsonb),
          -- Not what the server writes, but a column can hold it: a non-array, and an array with a non-object in it.
          (${company!.id}, 'web', 'completed', '{"role":"bot"}'::jsonb),
          (${company!.id}, 'web', 'completed', ${db.sql.json([turns(1, 'odd')[0], 'text', null] as never)})
        returning id`;

      await migrate(db.sql);
      expect((await getCall(db.sql, company!.id, calls[0]!.id))!.transcript).toEqual(turns(12, 'first'));
      expect((await getCall(db.sql, company!.id, calls[2]!.id))!.transcript).toEqual([]);
      // Only turns (objects) become rows; anything else in the old column is left behind.
      expect((await getCall(db.sql, company!.id, calls[3]!.id))!.transcript).toEqual([]);
      expect((await getCall(db.sql, company!.id, calls[4]!.id))!.transcript).toEqual(turns(1, 'odd'));
      // A call that was live during the upgrade goes on: its next turn follows the moved ones.
      const next = { role: 'bot' as const, text: 'live 3', ts: '2026-11-01T10:00:00Z' };
      await appendTurn(db.sql, { callId: calls[1]!.id, companyId: company!.id, redact: [] }, next);
      expect((await getCall(db.sql, company!.id, calls[1]!.id))!.transcript).toEqual([...turns(3, 'live'), next]);
    } finally {
      await db.close();
    }
  });
});
