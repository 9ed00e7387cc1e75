/**
 * The embedded store reads a bot's matrix in pages of vectors (by primary key) instead of one query for the whole
 * bot, so a large bot's reload holds the database one page at a time: the matrix — and so every search — is the
 * same whatever the page size. A reload reads only the documents that changed: one becoming ready costs its own
 * vectors, a deleted one none, and the matrix is the same as a fresh store's.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptUpload, deleteDocument } from '../../src/knowledge/documents.js';
import { ingestDocument } from '../../src/knowledge/ingest.js';
import { PgVectorStore } from '../../src/knowledge/pg-vector-store.js';
import { Retriever } from '../../src/knowledge/retrieve.js';
import { until } from '../helpers/until.js';
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

  it('reads again only what changed: a document made ready costs its own vectors, a deleted one none', async () => {
    const kb = knowledgeHarness(db.sql);
    const bot = await createBot(db.sql);
    const embedder = new LocalEmbedder();
    const store = new PgVectorStore({ sql: db.sql, dimensions: embedder.dimensions, loadPageRows: 4 });
    const upload = async (file: string, as: string): Promise<{ id: string; chunks: number }> => {
      const bytes = await readFile(new URL(`../fixtures/knowledge/${file}`, import.meta.url));
      const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: as, bytes });
      expect(await ingestDocument(kb.ingestDeps, document.id)).toBe('ready');
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from knowledge_chunks where document_id = ${document.id}`;
      return { id: document.id, chunks: row!.n };
    };
    const [vector] = await embedder.embed(['When are you open on Saturday?']);
    const search = async (s: PgVectorStore) => (await s.query(vector!, { ...bot, limit: 1000, idsOnly: true })).map((h) => [h.id, h.score]);
    const documentOf = async (ids: string[]) =>
      new Set((await db.sql<{ document_id: string }[]>`select document_id from knowledge_chunks where id = any(${ids}::uuid[])`).map((r) => r.document_id));

    const a = await upload('clinic-en.md', 'a.md');
    await search(store);
    expect(store.vectorsRead).toBe(a.chunks);

    const b = await upload('clinic-ru.md', 'b.md');
    const both = await search(store);
    expect(store.vectorsRead).toBe(a.chunks + b.chunks);
    expect(both).toHaveLength(a.chunks + b.chunks);
    expect(both).toEqual(await search(new PgVectorStore({ sql: db.sql, dimensions: embedder.dimensions })));

    await deleteDocument(kb.docDeps, bot.companyId, bot.botId, a.id);
    const onlyB = await search(store);
    expect(store.vectorsRead).toBe(a.chunks + b.chunks);
    expect(await documentOf(onlyB.map(([id]) => id as string))).toEqual(new Set([b.id]));
    expect(onlyB).toEqual(await search(new PgVectorStore({ sql: db.sql, dimensions: embedder.dimensions })));

    // A document whose vectors change while it stays ready (the store's own upsert) is read again.
    const [chunk] = await db.sql<{ id: string }[]>`select id from knowledge_chunks where document_id = ${b.id} order by ordinal limit 1`;
    await db.sql.begin((tx) => store.upsert([{ id: chunk!.id, vector: vector!, payload: { doc_id: b.id, bot_id: bot.botId, company_id: bot.companyId, text: '', source: 'b.md', page: null, section: null, created_at: new Date().toISOString() } }], tx));
    const after = await search(store);
    expect(store.vectorsRead).toBe(a.chunks + 2 * b.chunks);
    expect(after[0]).toEqual([chunk!.id, expect.closeTo(1, 5)]);
  });

  it('a call start reads the bot\'s vectors: the first question finds them in memory', async () => {
    const kb = knowledgeHarness(db.sql);
    const bot = await createBot(db.sql);
    const bytes = await readFile(new URL('../fixtures/knowledge/clinic-en.md', import.meta.url));
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'clinic-en.md', bytes });
    expect(await ingestDocument(kb.ingestDeps, document.id)).toBe('ready');
    const embedder = new LocalEmbedder();
    const store = new PgVectorStore({ sql: db.sql, dimensions: embedder.dimensions });
    const retriever = new Retriever({ sql: db.sql, embedder, store, topK: 4 });
    expect(await retriever.warm({ ...bot, language: 'en' })).toBe(true);
    await until(() => store.vectorsRead > 0, 10_000);
    const read = store.vectorsRead;
    expect((await retriever.search({ ...bot, language: 'en' }, 'When are you open on Saturday?')).length).toBeGreaterThan(0);
    expect(store.vectorsRead).toBe(read);
  });
});
