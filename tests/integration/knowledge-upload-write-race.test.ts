/**
 * An upload larger than one blob part stores its first MiB with the document row, then the rest one statement each.
 * If the row goes in between — the client deletes the document (it is listed, in processing, as soon as the first
 * transaction commits), or a newer replacement takes the place of a pending one — the next part's insert fails on
 * the foreign key. That was a 500; it is now a 409 saying the document went while its file was being stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RootSql } from '../../src/db/sql.js';
import { ParleyError } from '../../src/errors.js';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { BLOB_PART_BYTES } from '../../src/knowledge/repo.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { createBot, knowledgeHarness } from '../fixtures/knowledge/kb.js';

describe('an upload whose document goes while its later parts are written', () => {
  let db: TestDatabase;
  let bot: { companyId: string; botId: string };
  beforeAll(async () => {
    db = await createTestDb();
    bot = await createBot(db.sql);
  });
  afterAll(async () => db?.close());

  /** A text of two blob parts; `tag` makes its bytes its own. */
  const twoParts = (tag: string) => new TextEncoder().encode(`${tag}\n\n${'Opening hours are nine to five. '.repeat(Math.ceil((BLOB_PART_BYTES * 1.5) / 32))}`);

  /** `sql`, running `race` once, just before the insert of the second blob part. */
  function racing(race: () => Promise<unknown>): RootSql {
    let raced = false;
    return new Proxy(db.sql, {
      apply(target, self, args: unknown[]) {
        const strings = args[0] as TemplateStringsArray;
        if (!raced && Array.isArray(strings) && strings.join('?').includes('insert into knowledge_document_blobs') && args[2] === 1) {
          raced = true;
          return race().then(() => Reflect.apply(target, self, args));
        }
        return Reflect.apply(target, self, args);
      },
    });
  }

  const refusal = async (p: Promise<unknown>) => {
    const err = await p.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    return err as ParleyError;
  };

  it('a new document deleted mid-upload: 409, nothing left behind', async () => {
    const sql = racing(() => db.sql`delete from knowledge_documents where bot_id = ${bot.botId} and filename = 'deleted.txt'`);
    const kb = knowledgeHarness(sql, { maxUploadBytes: 4 * BLOB_PART_BYTES });
    const err = await refusal(acceptUpload(kb.docDeps, { ...bot, filename: 'deleted.txt', bytes: twoParts('deleted') }));
    expect(err).toMatchObject({ code: 'PARLEY_ERR_CONFLICT', message: expect.stringContaining('deleted or replaced while its file was being stored') });
    expect(await db.sql`select id from knowledge_documents where filename = 'deleted.txt'`).toHaveLength(0);
  });

  it('a replacement superseded by a newer one mid-upload: 409, and the newer one stands', async () => {
    const kb = knowledgeHarness(db.sql, { maxUploadBytes: 4 * BLOB_PART_BYTES });
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'prices.txt', bytes: new TextEncoder().encode('Prices: a cut is $20.') });
    const newer = new TextEncoder().encode('Prices: a cut is $25.');
    const sql = racing(() => acceptUpload(kb.docDeps, { ...bot, filename: 'prices.txt', bytes: newer }, { replace: { documentId: document.id } }));
    const slow = knowledgeHarness(sql, { maxUploadBytes: 4 * BLOB_PART_BYTES });
    const err = await refusal(acceptUpload(slow.docDeps, { ...bot, filename: 'prices.txt', bytes: twoParts('older') }, { replace: { documentId: document.id } }));
    expect(err).toMatchObject({ code: 'PARLEY_ERR_CONFLICT' });
    const versions = await db.sql<{ size_bytes: number }[]>`select size_bytes from knowledge_documents where replaces_id = ${document.id}`;
    expect(versions.map((v) => Number(v.size_bytes))).toEqual([newer.length]);
  });
});
