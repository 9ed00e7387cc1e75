import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { failDocument } from '../../src/knowledge/ingest.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { createBot, knowledgeHarness, type KnowledgeHarness } from '../fixtures/knowledge/kb.js';

const text = (s: string) => new TextEncoder().encode(s);

describe('re-uploading a failed document while its job is still finishing', () => {
  let db: TestDatabase;
  let kb: KnowledgeHarness;

  beforeAll(async () => {
    db = await createTestDb();
    kb = knowledgeHarness(db.sql);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('queues a new ingestion job, so the document does not stay in processing forever', async () => {
    const bot = await createBot(db.sql, 'en', 'Reupload');
    const bytes = text('Opening hours\n\nWe are open Monday to Friday from 8 am to 7 pm.');
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'hours.txt', bytes });
    // The job's handler has recorded the failure but has not returned yet: the job row is still running.
    await db.sql`update jobs set status = 'running', attempts = 1, locked_until = now() + interval '5 minutes'
                 where payload->>'documentId' = ${document.id}`;
    await failDocument(kb.ingestDeps, document, 'The text file contains no text');

    const again = await acceptUpload(kb.docDeps, { ...bot, filename: 'hours.txt', bytes });
    expect(again).toMatchObject({ created: false, document: { id: document.id, status: 'processing' } });
    const queued = await db.sql`select id from jobs where payload->>'documentId' = ${document.id} and status = 'queued'`;
    expect(queued).toHaveLength(1);
  });
});
