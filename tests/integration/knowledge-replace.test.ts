/**
 * Replacing a document's content keeping its id (PUT /v1/bots/:id/knowledge/:documentId, or an upload with
 * ?replace=true by file name). Before, a company updating "prices.txt" could only upload it again: a second
 * document, and the bot knew the old prices and the new ones and could quote either. Here: the id stays, the old
 * content answers until the new is indexed and then only the new (never both, never neither, also while the new
 * version is being written), a new version that fails leaves the document as it was, quotas count net, and a
 * document of another bot or company is 404.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knowledgeRoutes } from '../../src/api/routes/knowledge.js';
import { acceptUpload, deleteDocument } from '../../src/knowledge/documents.js';
import { ingestDocument, type IngestDeps } from '../../src/knowledge/ingest.js';
import { Retriever } from '../../src/knowledge/retrieve.js';
import type { VectorStore } from '../../src/knowledge/vector-store.js';
import { DEFAULT_KNOWLEDGE_QUOTAS } from '../../src/knowledge/quotas.js';
import type { RootSql } from '../../src/db/sql.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';
import { corruptPdf } from '../fixtures/knowledge/generate.js';
import { createBot, knowledgeHarness, type KnowledgeHarness } from '../fixtures/knowledge/kb.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { QdrantVectorStore } from '../../src/knowledge/qdrant-vector-store.js';
import { FakeQdrant } from '../fakes/fakeQdrant.js';

const enc = (s: string) => new TextEncoder().encode(s);
/** A price list: `count` paragraphs, each one chunk at chunkSize 150, all of one edition. */
const prices = (edition: string, dollars: number, count = 1) =>
  Array.from({ length: count }, (_, i) => `Price list ${edition} item ${i}: the zephyrine haircut costs ${dollars + i} dollars.`).join('\n\n');

function multipart(filename: string, bytes: Uint8Array) {
  const boundary = `----parley${Math.random().toString(16).slice(2)}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: text/plain\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { payload: Buffer.concat([head, Buffer.from(bytes), tail]), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

/** The id of the pending new version of `documentId` (never shown by the API), or undefined. */
const versionOf = async (sql: RootSql, documentId: string) =>
  (await sql<{ id: string }[]>`select id from knowledge_documents where replaces_id = ${documentId}`)[0]?.id;
/** The document's generation and chunk count, and its chunk rows by generation: only its own should be left. */
const current = async (sql: RootSql, documentId: string) =>
  (await sql<{ generation: number; n: number }[]>`select generation, chunk_count as n from knowledge_documents where id = ${documentId}`)[0]!;
const chunkGenerations = async (sql: RootSql, documentId: string) =>
  (await sql<{ generation: number; n: number }[]>`
    select generation, count(*)::int as n from knowledge_chunks where document_id = ${documentId} group by generation order by generation`);
const events = async (sql: RootSql, companyId: string, type: string) =>
  (await sql<{ body: string }[]>`select body from webhook_events where company_id = ${companyId} and type = ${type} order by seq`)
    .map((e) => (JSON.parse(e.body) as { data: Record<string, unknown> }).data);

describe('knowledge: replacing a document through the API', () => {
  let t: TestApp;
  let kb: KnowledgeHarness;
  let a: { apiKey: string; botId: string; companyId: string };
  let b: { apiKey: string; botId: string; companyId: string };
  let a2: string;

  const send = (who: { apiKey: string }, method: 'POST' | 'PUT', url: string, filename: string, text: string | Uint8Array) => {
    const body = multipart(filename, typeof text === 'string' ? enc(text) : text);
    return t.app.inject({ method, url, headers: { ...t.as(who.apiKey), ...body.headers }, payload: body.payload });
  };
  const get = (who: { apiKey: string }, url: string) => t.app.inject({ method: 'GET', url, headers: t.as(who.apiKey) });
  const search = async (who: { apiKey: string; botId: string }) =>
    ((await t.app.inject({ method: 'POST', url: `/v1/bots/${who.botId}/knowledge/search`, headers: t.as(who.apiKey), payload: { query: 'how much is the zephyrine haircut' } }))
      .json() as { results: { text: string; source: string; document_id: string }[] }).results;
  const ingestPending = async (documentId: string) => ingestDocument(kb.ingestDeps, (await versionOf(t.db.sql, documentId))!);
  const uploadReady = async (who: typeof a, filename: string, text: string) => {
    const res = await send(who, 'POST', `/v1/bots/${who.botId}/knowledge`, filename, text);
    expect(res.statusCode).toBe(202);
    const id = (res.json() as { id: string }).id;
    expect(await ingestDocument(kb.ingestDeps, id)).toBe('ready');
    return id;
  };

  beforeAll(async () => {
    t = await createTestApp({
      tenantRoutes: (db, config) => {
        kb = knowledgeHarness(db.sql, { maxUploadBytes: config.UPLOAD_MAX_BYTES });
        return [knowledgeRoutes({ sql: db.sql, store: kb.store, retriever: kb.retriever, maxUploadBytes: config.UPLOAD_MAX_BYTES })];
      },
    });
    const make = async (name: string) => {
      const { apiKey, companyId } = await t.createCompany(name);
      const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(apiKey), payload: botBody() });
      await t.db.sql`update companies set webhook_url = 'https://example.com/hooks' where id = ${companyId}`;
      return { apiKey, companyId, botId: (res.json() as { id: string }).id };
    };
    a = await make('Salon A');
    b = await make('Salon B');
    const other = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(a.apiKey), payload: botBody({ name: 'Second desk' }) });
    a2 = (other.json() as { id: string }).id;
  });
  afterAll(async () => t?.close());

  it('keeps the id; the old prices answer until the new are indexed, then only the new', async () => {
    const id = await uploadReady(a, 'prices.txt', prices('one', 30));
    expect((await search(a)).map((r) => r.text)).toEqual([expect.stringContaining('costs 30 dollars')]);

    const put = await send(a, 'PUT', `/v1/bots/${a.botId}/knowledge/${id}`, 'prices-2025.txt', prices('two', 45));
    expect(put.statusCode).toBe(202);
    expect(put.json()).toMatchObject({
      id, status: 'ready', filename: 'prices.txt',
      replacement: { status: 'processing', filename: 'prices-2025.txt', error_message: null },
    });
    // Not yet indexed: the bot still knows the old prices, and only them.
    expect((await search(a)).map((r) => r.text)).toEqual([expect.stringContaining('costs 30 dollars')]);

    expect(await ingestPending(id)).toBe('ready');
    const results = await search(a);
    expect(results.map((r) => [r.document_id, r.source, r.text])).toEqual([[id, 'prices-2025.txt', expect.stringContaining('costs 45 dollars')]]);
    const doc = (await get(a, `/v1/bots/${a.botId}/knowledge/${id}`)).json() as Record<string, unknown>;
    expect(doc).toMatchObject({ id, status: 'ready', filename: 'prices-2025.txt', replacement: null, chunk_count: 1 });
    const list = (await get(a, `/v1/bots/${a.botId}/knowledge`)).json() as { data: { id: string }[] };
    expect(list.data.map((d) => d.id)).toEqual([id]);
    // The old version's chunks are gone, the new one's are the document's.
    expect(await chunkGenerations(t.db.sql, id)).toEqual([{ generation: (await current(t.db.sql, id)).generation, n: 1 }]);
    expect((await events(t.db.sql, a.companyId, 'knowledge.ready')).at(-1)).toEqual({
      document_id: id, bot_id: a.botId, filename: 'prices-2025.txt', chunk_count: 1, replacement: true,
    });
    await deleteDocument(kb.docDeps, a.companyId, a.botId, id);
  });

  it('a new version that fails leaves the document as it was, and says why', async () => {
    const id = await uploadReady(a, 'hours.txt', prices('one', 30));
    const sha = ((await get(a, `/v1/bots/${a.botId}/knowledge/${id}`)).json() as { sha256: string }).sha256;
    expect((await send(a, 'PUT', `/v1/bots/${a.botId}/knowledge/${id}`, 'hours.pdf', corruptPdf())).statusCode).toBe(202);
    expect(await ingestPending(id)).toBe('error');

    const doc = (await get(a, `/v1/bots/${a.botId}/knowledge/${id}`)).json() as Record<string, unknown>;
    expect(doc).toMatchObject({ id, status: 'ready', sha256: sha, filename: 'hours.txt', replacement: { status: 'error', filename: 'hours.pdf' } });
    expect((doc.replacement as { error_message: string }).error_message).toMatch(/^The PDF file could not be read/);
    expect((await search(a)).map((r) => r.text)).toEqual([expect.stringContaining('costs 30 dollars')]);
    expect(await chunkGenerations(t.db.sql, id)).toEqual([{ generation: 0, n: 1 }]);
    expect((await events(t.db.sql, a.companyId, 'knowledge.failed')).at(-1)).toMatchObject({ document_id: id, filename: 'hours.pdf', replacement: true });

    // Replaced again, with content that indexes: the failed version gives way.
    expect((await send(a, 'PUT', `/v1/bots/${a.botId}/knowledge/${id}`, 'hours.txt', prices('two', 45))).statusCode).toBe(202);
    expect(await ingestPending(id)).toBe('ready');
    expect((await search(a)).map((r) => r.text)).toEqual([expect.stringContaining('costs 45 dollars')]);
    expect(await versionOf(t.db.sql, id)).toBeUndefined();
    await deleteDocument(kb.docDeps, a.companyId, a.botId, id);
  });

  it("refuses a document of another bot or company with 404, and never shows a pending version's own id", async () => {
    const id = await uploadReady(a, 'rules.txt', prices('one', 30));
    const put = (who: typeof a, botId: string, documentId = id) => send(who, 'PUT', `/v1/bots/${botId}/knowledge/${documentId}`, 'rules.txt', prices('evil', 1));
    expect((await put(b, a.botId)).statusCode).toBe(404);
    // B's own bot with A's document id, and A's other bot with it: not found either.
    expect((await put(b, b.botId)).statusCode).toBe(404);
    expect((await put(a, a2)).statusCode).toBe(404);
    expect(await versionOf(t.db.sql, id)).toBeUndefined();

    expect((await put(a, a.botId)).statusCode).toBe(202);
    const version = (await versionOf(t.db.sql, id))!;
    expect((await get(a, `/v1/bots/${a.botId}/knowledge/${version}`)).statusCode).toBe(404);
    expect((await put(a, a.botId, version)).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/bots/${a.botId}/knowledge/${version}`, headers: t.as(a.apiKey) })).statusCode).toBe(404);
    // Deleting the document takes its pending version with it.
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/bots/${a.botId}/knowledge/${id}`, headers: t.as(a.apiKey) })).statusCode).toBe(204);
    expect(await versionOf(t.db.sql, id)).toBeUndefined();
    expect(await chunkGenerations(t.db.sql, id)).toEqual([]);
    expect(await ingestDocument(kb.ingestDeps, version)).toBe('skipped');
  });

  it('same bytes change nothing (200); bytes another document has are 409; replace=true replaces by name, the default adds a document', async () => {
    const id = await uploadReady(a, 'menu.txt', prices('one', 30));
    const other = await uploadReady(a, 'extras.txt', 'Extras: the hot towel costs 5 dollars.');
    const same = await send(a, 'PUT', `/v1/bots/${a.botId}/knowledge/${id}`, 'menu.txt', prices('one', 30));
    expect(same.statusCode).toBe(200);
    expect(same.json()).toMatchObject({ id, replacement: null });
    const clash = await send(a, 'PUT', `/v1/bots/${a.botId}/knowledge/${id}`, 'menu.txt', 'Extras: the hot towel costs 5 dollars.');
    expect(clash.statusCode).toBe(409);
    expect(clash.json()).toMatchObject({ error: { code: 'PARLEY_ERR_CONFLICT', details: { document_id: other } } });

    // ?replace=true: the bot's document of that name takes the new content, keeping its id.
    const byName = await send(a, 'POST', `/v1/bots/${a.botId}/knowledge?replace=true`, 'menu.txt', prices('two', 45));
    expect(byName.statusCode).toBe(202);
    expect(byName.json()).toMatchObject({ id, replacement: { status: 'processing' } });
    expect(await ingestPending(id)).toBe('ready');
    expect((await search(a)).map((r) => r.text)).toEqual([expect.stringContaining('costs 45 dollars')]);
    // No document of that name: a new one.
    const fresh = await send(a, 'POST', `/v1/bots/${a.botId}/knowledge?replace=true`, 'new.txt', 'Gift cards are sold at the desk.');
    expect(fresh.statusCode).toBe(202);
    expect((fresh.json() as { id: string }).id).not.toBe(id);

    // Without it, a file of an existing name is another document (both answer), as before.
    const second = await send(a, 'POST', `/v1/bots/${a.botId}/knowledge`, 'menu.txt', prices('three', 60));
    expect(second.statusCode).toBe(202);
    const secondId = (second.json() as { id: string }).id;
    expect(secondId).not.toBe(id);
    // Two of that name: which one to replace is the client's choice.
    const ambiguous = await send(a, 'POST', `/v1/bots/${a.botId}/knowledge?replace=true`, 'menu.txt', prices('four', 70));
    expect(ambiguous.statusCode).toBe(409);
    expect((ambiguous.json() as { error: { details: { document_ids: string[] } } }).error.details.document_ids.sort()).toEqual([id, secondId].sort());
  });
});

describe('knowledge: replacing a document while it is searched', () => {
  let db: TestDatabase;
  let kb: KnowledgeHarness;
  let deps: IngestDeps;

  beforeAll(async () => {
    db = await createTestDb();
    kb = knowledgeHarness(db.sql);
    // Small chunks, small write batches: a new version written in many transactions.
    deps = { ...kb.ingestDeps, chunkSize: 150, chunkOverlap: 0, writeBatchSize: 20 };
  });
  afterAll(async () => db?.close());

  it('a search whose candidates were read just before the new version became current answers with the new one', async () => {
    const bot = await createBot(db.sql, 'en', 'Swapped mid-search');
    const scope = { ...bot, language: 'en' as const };
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'prices.txt', bytes: enc(prices('one', 30, 3)) });
    expect(await ingestDocument(deps, document.id)).toBe('ready');
    await acceptUpload(kb.docDeps, { ...bot, filename: 'prices.txt', bytes: enc(prices('two', 45, 3)) }, { replace: { documentId: document.id } });
    const version = (await versionOf(db.sql, document.id))!;
    // The store answers the candidates' read, then the new version is made current before the chunks are read:
    // the moment a concurrent ingestion can pick, made certain here.
    let swapped = false;
    const store: VectorStore = Object.create(kb.store) as VectorStore;
    store.query = async (...args: Parameters<VectorStore['query']>) => {
      const hits = await kb.store.query(...args);
      if (!swapped) {
        swapped = true;
        expect(await ingestDocument(deps, version)).toBe('ready');
      }
      return hits;
    };
    const retriever = new Retriever({ sql: db.sql, embedder: kb.embedder, store, topK: 4 });
    const results = await retriever.search(scope, 'how much is the zephyrine haircut');
    expect(swapped).toBe(true);
    expect(new Set(results.map((r) => / (one|two) item /.exec(r.text)?.[1]))).toEqual(new Set(['two']));
  });

  it('answers with the old version or the new one at every moment while the new is written, never both nor neither', async () => {
    const bot = await createBot(db.sql, 'en', 'Never both');
    const scope = { ...bot, language: 'en' as const };
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'prices.txt', bytes: enc(prices('one', 30, 30)) });
    expect(await ingestDocument(deps, document.id)).toBe('ready');

    const put = await acceptUpload(kb.docDeps, { ...bot, filename: 'prices.txt', bytes: enc(prices('two', 45, 600)) }, { replace: { documentId: document.id } });
    expect(put).toMatchObject({ created: true, document: { id: document.id } });
    let done = false;
    const ingesting = ingestDocument(deps, (await versionOf(db.sql, document.id))!).finally(() => (done = true));
    const seen: string[] = [];
    while (!done) {
      const results = await kb.retriever.search(scope, 'how much is the zephyrine haircut');
      const editions = new Set(results.map((r) => / (one|two) item /.exec(r.text)?.[1]));
      seen.push([...editions].sort().join('+') || 'none');
    }
    expect(await ingesting).toBe('ready');
    const after = await kb.retriever.search(scope, 'how much is the zephyrine haircut');
    expect(new Set(after.map((r) => / (one|two) item /.exec(r.text)?.[1]))).toEqual(new Set(['two']));
    // Searches ran while the new version was written, each saw exactly one edition.
    expect(seen.length).toBeGreaterThan(3);
    expect(seen.filter((s) => s !== 'one' && s !== 'two')).toEqual([]);
    expect((await current(db.sql, document.id)).n).toBeGreaterThan(200);
    expect(await chunkGenerations(db.sql, document.id)).toEqual([await current(db.sql, document.id)]);
  });

  it('counts quotas net: a replacement adds no document, and its bytes and chunks instead of the old', async () => {
    const bot = await createBot(db.sql, 'en', 'Net quotas');
    const v1 = enc(prices('one', 30, 10));
    const v2 = enc(prices('two', 45, 10));
    // Every quota exactly full with the one document (two paragraphs of these make a chunk at chunkSize 150).
    const quotas = { ...DEFAULT_KNOWLEDGE_QUOTAS, maxDocumentsPerCompany: 1, maxBytesPerCompany: v1.length + 8, maxChunksPerBot: 5 };
    const docDeps = { ...kb.docDeps, quotas };
    const ingestDeps = { ...deps, maxChunksPerBot: 5 };
    const { document } = await acceptUpload(docDeps, { ...bot, filename: 'prices.txt', bytes: v1 });
    expect(await ingestDocument(ingestDeps, document.id)).toBe('ready');
    expect(await current(db.sql, document.id)).toMatchObject({ n: 5 });
    // A second document is past every quota…
    await expect(acceptUpload(docDeps, { ...bot, filename: 'other.txt', bytes: enc('Gift cards are sold at the desk.') })).rejects.toMatchObject({ status: 409 });
    // …a new version of the one there is, of the same size and chunks, is not.
    const replaced = await acceptUpload(docDeps, { ...bot, filename: 'prices.txt', bytes: v2 }, { replace: { documentId: document.id } });
    expect(replaced.created).toBe(true);
    expect(await ingestDocument(ingestDeps, (await versionOf(db.sql, document.id))!)).toBe('ready');
    expect(await chunkGenerations(db.sql, document.id)).toEqual([await current(db.sql, document.id)]);
  });

  it('a newer version takes the place of a pending one, whose job then does nothing', async () => {
    const bot = await createBot(db.sql, 'en', 'Superseded');
    const scope = { ...bot, language: 'en' as const };
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'prices.txt', bytes: enc(prices('one', 30)) });
    expect(await ingestDocument(deps, document.id)).toBe('ready');
    const replace = { replace: { documentId: document.id } };
    await acceptUpload(kb.docDeps, { ...bot, filename: 'prices.txt', bytes: enc(prices('two', 45)) }, replace);
    const first = (await versionOf(db.sql, document.id))!;
    await acceptUpload(kb.docDeps, { ...bot, filename: 'prices.txt', bytes: enc(prices('three', 60)) }, replace);
    const second = (await versionOf(db.sql, document.id))!;
    expect(second).not.toBe(first);
    expect(await ingestDocument(deps, first)).toBe('skipped');
    expect(await ingestDocument(deps, second)).toBe('ready');
    expect((await kb.retriever.search(scope, 'how much is the zephyrine haircut')).map((r) => r.text)).toEqual([expect.stringContaining('costs 60 dollars')]);
  });
});

describe('knowledge: replacing a document with Qdrant (against fakeQdrant)', () => {
  let fake: FakeQdrant;
  let db: TestDatabase;
  let kb: KnowledgeHarness;

  beforeAll(async () => {
    fake = new FakeQdrant();
    const url = await fake.start();
    db = await createTestDb();
    kb = knowledgeHarness(db.sql, { store: new QdrantVectorStore({ url, collection: 'parley_chunks', dimensions: 384 }) });
  });
  afterAll(async () => {
    await db?.close();
    await fake?.stop();
  });

  const generations = (documentId: string) => fake.points('parley_chunks', { doc_id: documentId }).map((p) => p.payload.generation ?? 0).sort();

  it("keeps the document's points while a new version is written, drops a failed version's, and the old ones once the new is in use", async () => {
    const bot = await createBot(db.sql, 'en', 'Qdrant replace');
    const scope = { ...bot, language: 'en' as const };
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'prices.txt', bytes: enc(prices('one', 30)) });
    expect(await ingestDocument(kb.ingestDeps, document.id)).toBe('ready');
    expect(generations(document.id)).toEqual([0]);
    const replace = { replace: { documentId: document.id } };

    await acceptUpload(kb.docDeps, { ...bot, filename: 'prices.pdf', bytes: corruptPdf() }, replace);
    expect(await ingestDocument(kb.ingestDeps, (await versionOf(db.sql, document.id))!)).toBe('error');
    expect(generations(document.id)).toEqual([0]);

    await acceptUpload(kb.docDeps, { ...bot, filename: 'prices.txt', bytes: enc(prices('two', 45)) }, replace);
    const version = (await versionOf(db.sql, document.id))!;
    expect(await ingestDocument(kb.ingestDeps, version)).toBe('ready');
    const { generation } = await current(db.sql, document.id);
    expect(generations(document.id)).toEqual([generation]);
    expect((await kb.retriever.search(scope, 'how much is the zephyrine haircut')).map((r) => r.text)).toEqual([expect.stringContaining('costs 45 dollars')]);
    expect(fake.violations).toEqual([]);
  });
});
