import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptUpload, deleteDocument } from '../../src/knowledge/documents.js';
import { ingestDocument } from '../../src/knowledge/ingest.js';
import { QdrantVectorStore } from '../../src/knowledge/qdrant-vector-store.js';
import type { DocumentRef, VectorStore } from '../../src/knowledge/vector-store.js';
import { FakeQdrant } from '../fakes/fakeQdrant.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { createBot, knowledgeHarness, type KnowledgeHarness } from '../fixtures/knowledge/kb.js';

const text = (s: string) => new TextEncoder().encode(s);

describe('a document deleted while it is ingested (Qdrant)', () => {
  let fake: FakeQdrant;
  let db: TestDatabase;
  let kb: KnowledgeHarness;
  let qdrant: QdrantVectorStore;
  /** Runs once, right after the next delete of Qdrant points made by deleteDocument. */
  let afterDelete: (() => Promise<void>) | null = null;

  beforeAll(async () => {
    fake = new FakeQdrant();
    const base = await fake.start();
    db = await createTestDb();
    qdrant = new QdrantVectorStore({ url: base, collection: 'parley_chunks', dimensions: 384 });
    const store: VectorStore = {
      name: 'qdrant',
      init: () => qdrant.init(),
      upsert: (points, tx) => qdrant.upsert(points, tx),
      query: (vector, filter) => qdrant.query(vector, filter),
      async deleteByDocument(ref: DocumentRef) {
        await qdrant.deleteByDocument(ref);
        const hook = afterDelete;
        afterDelete = null;
        if (hook) await hook();
      },
    };
    kb = knowledgeHarness(db.sql, { store });
  });
  afterAll(async () => {
    await db?.close();
    await fake?.stop();
  });

  it('leaves no vectors when the ingestion upserts and commits between the Qdrant delete and the row delete', async () => {
    const bot = await createBot(db.sql, 'en', 'Race');
    const doc = (await acceptUpload(kb.docDeps, { ...bot, filename: 'hours.txt', bytes: text('Opening hours\n\nWe are open Monday to Friday from 8 am to 7 pm.') })).document;
    let ingested: string | null = null;
    // The ingestion job runs to completion after deleteDocument removed the points, before it deletes the row.
    afterDelete = async () => {
      ingested = await ingestDocument(kb.ingestDeps, doc.id);
    };
    await deleteDocument(kb.docDeps, bot.companyId, bot.botId, doc.id);
    expect(ingested).toBe('ready');
    expect((await db.sql`select id from knowledge_documents where id = ${doc.id}`).length).toBe(0);
    expect((await db.sql`select id from knowledge_chunks where document_id = ${doc.id}`).length).toBe(0);
    expect(fake.points('parley_chunks', { doc_id: doc.id })).toHaveLength(0);
  });

  it('sent only well-formed requests', () => {
    expect(fake.violations).toEqual([]);
  });
});
