/**
 * Ingestion writes a document in short transactions: a batch of chunk rows (with their embedded vectors) each,
 * while the document stays 'processing', then one short transaction makes it ready. With embedded PGlite the
 * server has one database connection, and the whole document in one transaction (37,000 chunks of a 20 MB text:
 * ~11 s) stalled every tenant's queries and every live call's knowledge search. Here: other queries answer between
 * batches, retrieval never returns a partly written document, and a retry after a crash, a delete, another worker
 * finishing first or giving up leave exactly one attempt's chunks (or none).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptUpload, deleteDocument } from '../../src/knowledge/documents.js';
import { failDocument, ingestDocument, type IngestDeps } from '../../src/knowledge/ingest.js';
import { chunkId, getDocument } from '../../src/knowledge/repo.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { createBot, knowledgeHarness, type KnowledgeHarness } from '../fixtures/knowledge/kb.js';

const encode = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Whether `query` settles within `ms`: a query stuck behind a long transaction fails the test instead of hanging it. */
async function within(ms: number, query: PromiseLike<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([Promise.resolve(query).then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** One paragraph per chunk at chunkSize 150: `count` chunks, each naming the zephyrine lamps. */
const lighthouseText = (count: number, tag = '') =>
  Array.from({ length: count }, (_, i) => `Lighthouse note ${i}${tag}: the zephyrine lamp on pier ${i} is serviced every ${(i % 7) + 1} days by the crew.`).join('\n\n');

/** One paragraph per chunk at chunkSize 400 (~330 characters each: full-text vectors make up much of a write). */
const logbookText = (count: number) =>
  Array.from({ length: count }, (_, i) =>
    `Logbook entry ${i}: the zephyrine lamp on pier ${i} was inspected at dawn; the crew replaced ${(i % 5) + 1} lenses, ` +
    `oiled the rotation gear, logged the fuel level at ${(i * 7) % 100} percent and noted that the fog signal on ` +
    `berth ${(i * 3) % 40} answers within ${(i % 9) + 2} seconds, as the harbour master requires every season.`,
  ).join('\n\n');

describe('knowledge ingestion in short transactions', () => {
  let db: TestDatabase;
  let kb: KnowledgeHarness;
  let bot: { companyId: string; botId: string };
  /** Small chunks and small batches: thousands of chunks in a few seconds. */
  let deps: IngestDeps;

  const chunkRows = (documentId: string) =>
    db.sql<{ ordinal: number; text: string; has_vector: boolean; created_at: Date }[]>`
      select ordinal, text, embedding is not null as has_vector, created_at from knowledge_chunks
      where document_id = ${documentId} order by ordinal`;
  const chunkCount = async (documentId: string) =>
    (await db.sql<{ n: number }[]>`select count(*)::int as n from knowledge_chunks where document_id = ${documentId}`)[0]!.n;
  const upload = async (filename: string, text: string, to = bot) =>
    (await acceptUpload(kb.docDeps, { ...to, filename, bytes: encode(text) })).document;
  const status = async (documentId: string, to = bot) => (await getDocument(db.sql, to.companyId, to.botId, documentId))?.status;

  beforeAll(async () => {
    db = await createTestDb();
    kb = knowledgeHarness(db.sql);
    bot = await createBot(db.sql, 'en', 'Batches');
    // Events are recorded for companies with a webhook.
    await db.sql`update companies set webhook_url = 'https://example.com/hooks' where id = ${bot.companyId}`;
    deps = { ...kb.ingestDeps, chunkSize: 150, chunkOverlap: 0, writeBatchSize: 50 };
  });
  afterAll(async () => db?.close());

  it('answers other queries between batches while a large document is written, and never retrieves it half-written', async () => {
    const scope = { ...bot, language: 'en' as const };
    const parking = await upload('parking.txt', 'Parking\n\nFree parking for patients is available in the car park behind the clinic.');
    expect(await ingestDocument(kb.ingestDeps, parking.id)).toBe('ready');
    expect((await kb.retriever.search(scope, 'where can I park my car for free'))[0]?.source).toBe('parking.txt');
    const indexVersion = async () =>
      (await db.sql<{ version: string }[]>`select version::text from knowledge_index_versions where bot_id = ${bot.botId}`)[0]?.version;
    const versionBefore = await indexVersion();

    const CHUNKS = 6000;
    const big = await upload('logbook.txt', logbookText(CHUNKS));
    const bigIds = new Set(Array.from({ length: CHUNKS + 100 }, (_, i) => chunkId(big.id, i)));
    const [zephyrine] = await kb.embedder.embed(['zephyrine lamp on the pier']);

    // One batch of 50 rows takes milliseconds; the whole document in one transaction held PGlite (where nothing else
    // reaches the database meanwhile) for ~1.1 s, and this document's row for as long on PostgreSQL.
    const BOUND_MS = 600;
    const started = performance.now();
    let done = false;
    const ingestion = ingestDocument({ ...deps, chunkSize: 400 }, big.id).finally(() => (done = true));
    const seen = { probes: 0, rounds: 0, answeredWhilePartial: 0, partialRetrieved: 0, oldDocMissing: 0, versionChanged: 0, bigInMatrix: 0 };
    // Every query of the loop below is timed: whichever of them a long transaction would hold up.
    const slow: string[] = [];
    const timed = async <T>(what: string, query: PromiseLike<T>, into: string[] = slow): Promise<T> => {
      const t = performance.now();
      try {
        return await query;
      } finally {
        const ms = performance.now() - t;
        if (ms > BOUND_MS) into.push(`${what}: ${ms.toFixed(0)} ms`);
      }
    };
    const bigStatus = () => timed('status', status(big.id));
    // Any query on the same database (PGlite: the same and only connection), and the document's row itself (what a
    // delete or a failure needs), answer within a batch's time, all along.
    const probing = (async () => {
      while (!done) {
        seen.probes++;
        if (!(await within(BOUND_MS, db.sql`select 1`))) slow.push('select 1');
        if (!(await within(BOUND_MS, db.sql`select id from knowledge_documents where id = ${big.id} for update`))) slow.push('row lock');
        await sleep(5);
      }
    })();
    while (!done) {
      const slowSearches: string[] = [];
      seen.rounds++;
      const written = await timed('count', chunkCount(big.id));
      const before = await bigStatus();
      if (before === 'processing' && written > 0) seen.answeredWhilePartial++;

      // Retrieval while it is written: nothing of it until it is ready, and the bot's other document as before.
      const hits = await timed('search', kb.retriever.search(scope, 'zephyrine lamp on the pier'), slowSearches);
      const vectorIds = (await timed('vector query', kb.store.query(zephyrine!, { ...bot, limit: 50, idsOnly: true }), slowSearches)).map((h) => h.id);
      const parkingHits = await timed('search', kb.retriever.search(scope, 'where can I park my car for free'), slowSearches);
      const version = await timed('version', indexVersion());
      // Read last: 'ready' is final, so a document not ready now was not ready for anything read above.
      const after = await bigStatus();
      // Once the document is ready, the first search loads the bot's 6,000 new vectors: slow, and not a batch.
      if (after !== 'ready') slow.push(...slowSearches);
      if (after !== 'ready' && hits.some((h) => h.documentId === big.id)) seen.partialRetrieved++;
      if (after !== 'ready' && vectorIds.some((id) => bigIds.has(id))) seen.bigInMatrix++;
      if (parkingHits[0]?.source !== 'parking.txt') seen.oldDocMissing++;
      if (after !== 'ready' && version !== versionBefore) seen.versionChanged++;
      await sleep(5);
    }
    expect(await ingestion).toBe('ready');
    const elapsed = performance.now() - started;
    await probing;

    expect(slow, `queries held up, of ${seen.probes} probes (ingestion took ${elapsed.toFixed(0)} ms)`).toEqual([]);
    expect(seen.answeredWhilePartial).toBeGreaterThanOrEqual(3);
    expect(seen.partialRetrieved).toBe(0);
    expect(seen.bigInMatrix).toBe(0);
    expect(seen.oldDocMissing).toBe(0);
    // Batches do not bump the index version: no instance reloads the bot's vectors until the document is ready.
    expect(seen.versionChanged).toBe(0);

    const ready = (await getDocument(db.sql, bot.companyId, bot.botId, big.id))!;
    const rows = await chunkRows(big.id);
    expect(ready).toMatchObject({ status: 'ready', chunk_count: CHUNKS });
    expect(rows.map((r) => r.ordinal)).toEqual(Array.from({ length: CHUNKS }, (_, i) => i));
    expect(rows.every((r) => r.has_vector)).toBe(true);
    const hits = await kb.retriever.search(scope, 'zephyrine lamp on the pier');
    expect(hits[0]?.documentId).toBe(big.id);
    expect((await kb.store.query(zephyrine!, { ...bot, limit: 5, idsOnly: true })).some((h) => bigIds.has(h.id))).toBe(true);
    const events = await db.sql`select 1 from webhook_events where type = 'knowledge.ready' and ordering_key = ${big.id}`;
    expect(events).toHaveLength(1);
  });

  it('a retry after a crash mid-way leaves exactly its own chunks: none of the partial attempt survive or duplicate', async () => {
    const text = lighthouseText(400, ' (retry)');
    const doc = await upload('retry.txt', text);
    const scope = { ...bot, language: 'en' as const };

    // The first attempt dies after four batches of 50 (the process stopped: what it committed stays).
    let calls = 0;
    const crash = () => {
      calls++;
      if (calls === 5) throw new Error('the process died');
      return Promise.resolve(true);
    };
    await expect(ingestDocument(deps, doc.id, { renewLease: crash })).rejects.toThrow('the process died');
    expect(await status(doc.id)).toBe('processing');
    const partial = await chunkRows(doc.id);
    expect(partial.length).toBe(200);
    expect((await kb.retriever.search(scope, 'lighthouse note retry zephyrine')).some((h) => h.documentId === doc.id)).toBe(false);

    // The retry chunks differently (larger chunks: fewer than the partial attempt wrote), as after a restart with
    // another CHUNK_SIZE: it overwrites ordinals 0.. and removes the partial attempt's rows past its own last one.
    const retryDeps = { ...deps, chunkSize: 800 };
    expect(await ingestDocument(retryDeps, doc.id)).toBe('ready');
    const rows = await chunkRows(doc.id);
    const ready = (await getDocument(db.sql, bot.companyId, bot.botId, doc.id))!;
    expect(ready.chunk_count).toBeLessThan(200);
    expect(rows.map((r) => r.ordinal)).toEqual(Array.from({ length: ready.chunk_count }, (_, i) => i));
    expect(new Set(rows.map((r) => r.created_at.getTime())).size).toBe(1);
    expect(rows.every((r) => r.has_vector)).toBe(true);

    // Exactly what a clean ingestion of the same bytes produces.
    const other = await createBot(db.sql, 'en', 'Reference');
    const reference = await upload('retry.txt', text, other);
    expect(await ingestDocument(retryDeps, reference.id)).toBe('ready');
    expect(rows.map((r) => r.text)).toEqual((await chunkRows(reference.id)).map((r) => r.text));
    expect((await kb.retriever.search(scope, 'lighthouse note retry zephyrine')).some((h) => h.documentId === doc.id)).toBe(true);
  });

  it('stops when the document is deleted mid-way, and leaves nothing behind', async () => {
    const doc = await upload('deleted.txt', lighthouseText(300, ' (deleted)'));
    let calls = 0;
    const renewLease = async () => {
      if (++calls === 3) await deleteDocument(kb.docDeps, bot.companyId, bot.botId, doc.id);
      return true;
    };
    expect(await ingestDocument(deps, doc.id, { renewLease })).toBe('skipped');
    expect(await status(doc.id)).toBeUndefined();
    expect(await chunkCount(doc.id)).toBe(0);
  });

  it('stops without touching the rows when another worker made the document ready meanwhile', async () => {
    const doc = await upload('twice.txt', lighthouseText(300, ' (twice)'));
    let calls = 0;
    let second: string | undefined;
    // After a lease expiry: a second worker runs the whole job while the first is between two batches.
    const renewLease = async () => {
      if (++calls === 3) second = await ingestDocument(deps, doc.id);
      return true;
    };
    expect(await ingestDocument(deps, doc.id, { renewLease })).toBe('skipped');
    expect(second).toBe('ready');
    const rows = await chunkRows(doc.id);
    expect(rows).toHaveLength(300);
    // All rows are the second attempt's: the first wrote nothing once the document was ready.
    expect(new Set(rows.map((r) => r.created_at.getTime())).size).toBe(1);
    expect((await getDocument(db.sql, bot.companyId, bot.botId, doc.id))!).toMatchObject({ status: 'ready', chunk_count: 300 });
  });

  it('giving up on a partly written document removes its chunks; the same bytes uploaded again are indexed', async () => {
    const text = lighthouseText(300, ' (given up)');
    const doc = await upload('given-up.txt', text);
    let calls = 0;
    const crash = () => (++calls === 4 ? Promise.reject(new Error('the process died')) : Promise.resolve(true));
    await expect(ingestDocument(deps, doc.id, { renewLease: crash })).rejects.toThrow('the process died');
    expect(await chunkCount(doc.id)).toBe(150);

    await failDocument(deps, doc, 'Indexing failed after several attempts');
    expect(await status(doc.id)).toBe('error');
    expect(await chunkCount(doc.id)).toBe(0);

    const again = await acceptUpload(kb.docDeps, { ...bot, filename: 'given-up.txt', bytes: encode(text) });
    expect(again).toMatchObject({ created: false, document: { id: doc.id, status: 'processing' } });
    expect(await ingestDocument(deps, doc.id)).toBe('ready');
    expect(await chunkCount(doc.id)).toBe(300);
  });
});

describe('uploads in short transactions', () => {
  let db: TestDatabase;
  let kb: KnowledgeHarness;
  let bot: { companyId: string; botId: string };

  const storedBytes = async (documentId: string) =>
    (await db.sql<{ n: number; parts: number }[]>`
      select coalesce(sum(octet_length(content)), 0)::int as n, count(*)::int as parts
      from knowledge_document_blobs where document_id = ${documentId}`)[0]!;
  const ingestJob = async (documentId: string) =>
    (await db.sql<{ status: string; due: boolean }[]>`
      select status, run_at <= now() as due from jobs where payload->>'documentId' = ${documentId} order by created_at desc limit 1`)[0]!;

  beforeAll(async () => {
    db = await createTestDb();
    kb = knowledgeHarness(db.sql);
    bot = await createBot(db.sql, 'en', 'Uploads');
  });
  afterAll(async () => db?.close());

  it('stores a large file part by part, with other queries answered in between', async () => {
    // 16 MiB: in one transaction its parts held PGlite's only connection for most of a second.
    const text = 'The zephyrine lamps are serviced by the crew every week. '.repeat(300_000).slice(0, 16 * 1024 * 1024);
    let done = false;
    const uploading = acceptUpload(kb.docDeps, { ...bot, filename: 'large.txt', bytes: encode(text) }).finally(() => (done = true));
    let late = 0;
    let probes = 0;
    while (!done) {
      probes++;
      if (!(await within(400, db.sql`select 1`))) late++;
      await sleep(2);
    }
    const { document, created } = await uploading;
    expect(late, `late probes of ${probes}`).toBe(0);
    expect(created).toBe(true);
    expect(await storedBytes(document.id)).toEqual({ n: text.length, parts: 16 });
    expect(await ingestJob(document.id)).toMatchObject({ status: 'queued', due: true });
  });

  it('ends a document whose upload died mid-way in error, and stores its bytes again when they are uploaded again', async () => {
    const text = lighthouseText(30_000).slice(0, 2_500_000); // three parts
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'cut.txt', bytes: encode(text) });
    expect(await storedBytes(document.id)).toEqual({ n: text.length, parts: 3 });
    // As if the process died after the first transaction: only the first part stored, the job waiting out its grace.
    await db.sql`delete from knowledge_document_blobs where document_id = ${document.id} and part > 0`;
    await db.sql`update jobs set run_at = now() + interval '15 minutes' where payload->>'documentId' = ${document.id}`;

    // Another upload of the same bytes meanwhile completes them and lets the job run.
    const again = await acceptUpload(kb.docDeps, { ...bot, filename: 'cut.txt', bytes: encode(text) });
    expect(again).toMatchObject({ created: false, document: { id: document.id, status: 'processing' } });
    expect(await storedBytes(document.id)).toEqual({ n: text.length, parts: 3 });
    expect(await ingestJob(document.id)).toMatchObject({ status: 'queued', due: true });

    // Nobody uploads again: once the grace is over the job finds the bytes incomplete and fails the document.
    await db.sql`delete from knowledge_document_blobs where document_id = ${document.id} and part > 0`;
    expect(await ingestDocument(kb.ingestDeps, document.id)).toBe('error');
    const failed = (await getDocument(db.sql, bot.companyId, bot.botId, document.id))!;
    expect(failed).toMatchObject({ status: 'error', chunk_count: 0 });
    expect(failed.error_message).toMatch(/upload did not complete/);

    // Uploaded again: stored in full and indexed.
    const third = await acceptUpload(kb.docDeps, { ...bot, filename: 'cut.txt', bytes: encode(text) });
    expect(third).toMatchObject({ created: false, document: { id: document.id, status: 'processing' } });
    expect(await storedBytes(document.id)).toEqual({ n: text.length, parts: 3 });
    expect(await ingestJob(document.id)).toMatchObject({ status: 'queued', due: true });
    expect(await ingestDocument(kb.ingestDeps, document.id)).toBe('ready');
  });
});
