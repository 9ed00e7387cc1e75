import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptUpload, deleteDocument } from '../../src/knowledge/documents.js';
import { ingestDocument } from '../../src/knowledge/ingest.js';
import { QdrantVectorStore } from '../../src/knowledge/qdrant-vector-store.js';
import { getDocument } from '../../src/knowledge/repo.js';
import { FakeQdrant } from '../fakes/fakeQdrant.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { createBot, knowledgeHarness, type KnowledgeHarness } from '../fixtures/knowledge/kb.js';

const text = (s: string) => new TextEncoder().encode(s);
const DOC = 'Opening hours\n\nWe are open Monday to Friday from 8 am to 7 pm and on Saturday until 2 pm.\n\nParking\n\nFree parking is behind the building, enter from Mill Lane.';

describe('Qdrant vector store (against fakeQdrant)', () => {
  let fake: FakeQdrant;
  let base: string;
  let db: TestDatabase;
  let kb: KnowledgeHarness;
  let a: { companyId: string; botId: string };
  let b: { companyId: string; botId: string };

  beforeAll(async () => {
    fake = new FakeQdrant();
    base = await fake.start();
    db = await createTestDb();
    const store = new QdrantVectorStore({ url: base, collection: 'parley_chunks', dimensions: 384 });
    kb = knowledgeHarness(db.sql, { store });
    a = await createBot(db.sql, 'en', 'A');
    b = await createBot(db.sql, 'en', 'B');
  });
  afterAll(async () => {
    await db?.close();
    await fake?.stop();
  });

  it('creates one collection with a tenant index on company_id and keyword indexes on bot_id and doc_id', async () => {
    await kb.store.init();
    await kb.store.init(); // idempotent: no second round of requests
    const c = fake.collections.get('parley_chunks')!;
    expect(c).toMatchObject({ size: 384, distance: 'Cosine' });
    expect(Object.fromEntries(c.indexes)).toEqual({ company_id: { type: 'keyword', is_tenant: true }, bot_id: 'keyword', doc_id: 'keyword' });
    expect(fake.requests.filter((r) => r.method === 'PUT' && r.path === '/collections/parley_chunks')).toHaveLength(1);
  });

  it('a second instance reuses the collection and refuses one of another vector size', async () => {
    await new QdrantVectorStore({ url: base, collection: 'parley_chunks', dimensions: 384 }).init();
    await expect(new QdrantVectorStore({ url: base, collection: 'parley_chunks', dimensions: 1536 }).init()).rejects.toThrow(/384-dimension/);
  });

  it('upserts points with the full payload, keeps vectors out of Postgres, and filters every query by company and bot', async () => {
    const docA = (await acceptUpload(kb.docDeps, { ...a, filename: 'a.txt', bytes: text(DOC) })).document;
    const docB = (await acceptUpload(kb.docDeps, { ...b, filename: 'b.txt', bytes: text(DOC) })).document;
    expect(await ingestDocument(kb.ingestDeps, docA.id)).toBe('ready');
    expect(await ingestDocument(kb.ingestDeps, docB.id)).toBe('ready');

    const pointsA = fake.points('parley_chunks', { doc_id: docA.id });
    expect(pointsA).toHaveLength(2);
    expect(pointsA[0]!.payload).toMatchObject({ company_id: a.companyId, bot_id: a.botId, doc_id: docA.id, source: 'a.txt', page: null });
    expect(new Set(pointsA.map((p) => p.payload.section))).toEqual(new Set(['Opening hours', 'Parking']));
    const inPg = await db.sql`select count(*)::int as n from knowledge_chunks where document_id = ${docA.id} and embedding is null`;
    expect(inPg[0]!.n).toBe(2);

    const hits = await kb.retriever.search({ ...a, language: 'en' }, 'where is the parking?');
    expect(hits[0]).toMatchObject({ source: 'a.txt', section: 'Parking' });
    expect(hits.every((h) => h.documentId === docA.id)).toBe(true);
    const q = fake.requests.filter((r) => r.path === '/collections/parley_chunks/points/query').at(-1)!;
    expect(q.body).toMatchObject({
      with_payload: true,
      filter: { must: [{ key: 'company_id', match: { value: a.companyId } }, { key: 'bot_id', match: { value: a.botId } }] },
    });
  });

  it('removes the vectors when the database transaction fails after the upsert, then succeeds on retry', async () => {
    const doc = (await acceptUpload(kb.docDeps, { ...a, filename: 'prices.txt', bytes: text('Prices\n\nA teeth cleaning costs 95 dollars.') })).document;
    await db.sql.unsafe(`
      create function knowledge_test_fail() returns trigger language plpgsql as $$ begin raise exception 'injected failure'; end $$;
      create trigger knowledge_test_fail before insert on knowledge_chunks for each row execute function knowledge_test_fail();`);
    await expect(ingestDocument(kb.ingestDeps, doc.id)).rejects.toThrow(/injected failure/);
    expect(fake.points('parley_chunks', { doc_id: doc.id })).toHaveLength(0);
    expect((await getDocument(db.sql, a.companyId, a.botId, doc.id))!.status).toBe('processing');
    await db.sql.unsafe('drop trigger knowledge_test_fail on knowledge_chunks; drop function knowledge_test_fail();');

    fake.failNext.add('upsert');
    await expect(ingestDocument(kb.ingestDeps, doc.id)).rejects.toThrow();
    expect(fake.points('parley_chunks', { doc_id: doc.id })).toHaveLength(0);

    expect(await ingestDocument(kb.ingestDeps, doc.id)).toBe('ready');
    expect(fake.points('parley_chunks', { doc_id: doc.id })).toHaveLength(1);
  });

  it("deletes a document's vectors by filter, scoped to its company", async () => {
    const [docA] = await db.sql<{ id: string }[]>`select id from knowledge_documents where bot_id = ${a.botId} and filename = 'a.txt'`;
    await deleteDocument(kb.docDeps, a.companyId, a.botId, docA!.id);
    const del = fake.requests.filter((r) => r.path === '/collections/parley_chunks/points/delete').at(-1)!;
    expect(del.body).toMatchObject({
      filter: { must: [{ key: 'company_id', match: { value: a.companyId } }, { key: 'bot_id', match: { value: a.botId } }, { key: 'doc_id', match: { value: docA!.id } }] },
    });
    expect(fake.points('parley_chunks', { doc_id: docA!.id })).toHaveLength(0);
    expect(fake.points('parley_chunks', { company_id: b.companyId })).toHaveLength(2); // B's copy untouched
    expect((await kb.retriever.search({ ...a, language: 'en' }, 'parking Mill Lane')).map((h) => h.source)).not.toContain('a.txt');
  });

  it('a delete fails cleanly (503) when Qdrant is down, leaving the document intact', async () => {
    const [docB] = await db.sql<{ id: string }[]>`select id from knowledge_documents where bot_id = ${b.botId}`;
    fake.failNext.add('delete');
    await expect(deleteDocument(kb.docDeps, b.companyId, b.botId, docB!.id)).rejects.toMatchObject({ status: 503, code: 'PARLEY_ERR_UNAVAILABLE' });
    expect((await getDocument(db.sql, b.companyId, b.botId, docB!.id))!.status).toBe('ready');
  });

  it('sent only well-formed requests', () => {
    expect(fake.violations).toEqual([]);
  });
});
