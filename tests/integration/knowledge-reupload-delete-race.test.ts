/**
 * A re-upload of a document's bytes racing the document's deletion: the insert finds the old row in its way,
 * and by the time it reads that row the delete has committed. On PostgreSQL that was a 500 (the row read back was
 * undefined); the upload now stores the document anew.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/sql.js';
import { insertDocument } from '../../src/knowledge/repo.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { seedBot, seedCompany } from './booking-fixtures.js';

describe('re-uploading a document while it is deleted', () => {
  let db: TestDatabase;
  let companyId: string;
  let botId: string;
  beforeAll(async () => {
    db = await createTestDb();
    companyId = await seedCompany(db.sql, 'Racy');
    botId = (await seedBot(db.sql, companyId)).id;
  });
  afterAll(async () => db?.close());

  const bytes = new TextEncoder().encode('Opening hours: 9 to 5.');
  const doc = () => ({ companyId, botId, filename: 'hours.txt', contentType: 'text/plain', kind: 'txt' as const, bytes, sha256: createHash('sha256').update(bytes).digest('hex') });

  it('stores the document anew when the one in its way is gone before it is read', async () => {
    const first = await db.sql.begin((tx) => insertDocument(tx, doc()));
    expect(first.created).toBe(true);

    const again = await db.sql.begin(async (tx) => {
      // The delete lands between the insert that met the old row and the read of it (as a concurrent DELETE
      // committing then would): run it just before the transaction's second query.
      let queries = 0;
      const racing = new Proxy(tx, {
        apply(target, self, args: unknown[]) {
          const isQuery = Array.isArray(args[0]) && 'raw' in (args[0] as object);
          if (isQuery && ++queries === 2) {
            return tx`delete from knowledge_documents where id = ${first.row.id}`.then(() => Reflect.apply(target, self, args));
          }
          return Reflect.apply(target, self, args);
        },
      }) as Db;
      return insertDocument(racing, doc());
    });
    expect(again.created).toBe(true);
    expect(again.row.id).not.toBe(first.row.id);
    const rows = await db.sql`select id from knowledge_documents where bot_id = ${botId}`;
    expect(rows.map((r) => r.id)).toEqual([again.row.id]);
  });
});
