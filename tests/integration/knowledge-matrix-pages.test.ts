/**
 * The embedded store reads a bot's matrix in pages of vectors (by primary key) instead of one query for the whole
 * bot, so a large bot's reload holds the database one page at a time: the matrix — and so every search — is the
 * same whatever the page size.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { ingestDocument } from '../../src/knowledge/ingest.js';
import { PgVectorStore } from '../../src/knowledge/pg-vector-store.js';
import { LocalEmbedder } from '../../src/providers/embeddings/local.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { createBot, knowledgeHarness } from '../fixtures/knowledge/kb.js';

describe('embedded vector store: paged matrix loads', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => db?.close());

  it('gives the same nearest chunks with pages of 3 vectors as with one page', async () => {
    const kb = knowledgeHarness(db.sql);
    const bot = await createBot(db.sql);
    const bytes = await readFile(new URL('../fixtures/knowledge/clinic-en.md', import.meta.url));
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'clinic-en.md', bytes });
    expect(await ingestDocument(kb.ingestDeps, document.id)).toBe('ready');
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from knowledge_chunks where document_id = ${document.id}`;
    expect(n!.n).toBeGreaterThan(6);

    const embedder = new LocalEmbedder();
    const paged = new PgVectorStore({ sql: db.sql, dimensions: embedder.dimensions, loadPageRows: 3 });
    const whole = new PgVectorStore({ sql: db.sql, dimensions: embedder.dimensions });
    for (const question of ['When are you open on Saturday?', 'How much is a cleaning?', 'Where do I park?']) {
      const [vector] = await embedder.embed([question]);
      const filter = { ...bot, limit: n!.n, idsOnly: true };
      const a = await paged.query(vector!, filter);
      const b = await whole.query(vector!, filter);
      expect(a.map((h) => h.id)).toEqual(b.map((h) => h.id));
      expect(a).toHaveLength(n!.n);
    }
  });
});
