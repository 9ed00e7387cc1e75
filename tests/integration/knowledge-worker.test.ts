import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobWorker } from '../../src/jobs/queue.js';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { ingestJobKind, INGEST_JOB_KIND, type IngestDeps } from '../../src/knowledge/ingest.js';
import { getDocument } from '../../src/knowledge/repo.js';
import { LocalEmbedder } from '../../src/providers/embeddings/local.js';
import type { Embedder } from '../../src/providers/types.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { createBot, knowledgeHarness, waitFor, type KnowledgeHarness } from '../fixtures/knowledge/kb.js';

const silent = { warn: () => {}, error: () => {} };

/** An embedder that parks every call until `release()`; `honourAbort` decides whether abort ends the wait. */
function gatedEmbedder(honourAbort: boolean) {
  const inner = new LocalEmbedder();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let entered = 0;
  const embedder: Embedder = {
    name: 'gated',
    dimensions: inner.dimensions,
    async embed(texts, signal) {
      entered++;
      await new Promise<void>((resolve, reject) => {
        void gate.then(resolve);
        if (honourAbort) signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
      return inner.embed(texts);
    },
  };
  return { embedder, release: () => open(), entered: () => entered };
}

const BODY = Array.from({ length: 12 }, (_, i) => `Section ${i}\n\nParagraph number ${i} explains rule ${i} of the clinic in a sentence or two. It is long enough to matter.`).join('\n\n');

/** A cloud-like embedder: each call takes `delayMs` of I/O; counts the texts it was asked to embed. */
function slowEmbedder(delayMs: number) {
  const inner = new LocalEmbedder();
  let texts = 0;
  const embedder: Embedder = {
    name: 'slow-cloud',
    dimensions: inner.dimensions,
    async embed(batch) {
      texts += batch.length;
      await new Promise((r) => setTimeout(r, delayMs));
      return inner.embed(batch);
    },
  };
  return { embedder, texts: () => texts };
}

describe('ingestion survives a worker that stops or stalls mid-job', () => {
  let db: TestDatabase;
  let kb: KnowledgeHarness;
  let bot: { companyId: string; botId: string };
  const workers: JobWorker[] = [];

  /** A worker for ingestion; `settled` counts handler runs that have finished (either way). */
  const worker = (deps: IngestDeps, leaseMs: number, settled?: { n: number }) => {
    const kind = ingestJobKind({ ...deps, concurrency: 1 });
    const handler: typeof kind.handler = async (payload, ctx) => {
      try {
        await kind.handler(payload, ctx);
      } finally {
        if (settled) settled.n++;
      }
    };
    const w = new JobWorker(db.sql, { kinds: { [INGEST_JOB_KIND]: { ...kind, handler } }, pollMs: 25, leaseMs, log: silent });
    workers.push(w);
    w.start();
    return w;
  };
  const chunkStats = async (documentId: string) =>
    (await db.sql<{ n: number; distinct_ordinals: number }[]>`
      select count(*)::int as n, count(distinct ordinal)::int as distinct_ordinals from knowledge_chunks where document_id = ${documentId}`)[0]!;
  const job = async (documentId: string) =>
    (await db.sql<{ status: string; attempts: number }[]>`select status, attempts from jobs where dedupe_key = ${`ingest:${documentId}`}`)[0]!;

  beforeAll(async () => {
    db = await createTestDb();
    kb = knowledgeHarness(db.sql);
    bot = await createBot(db.sql);
  });
  afterAll(async () => {
    for (const w of workers) await w.stop(100);
    await db?.close();
  });

  it('a worker stopped during a job leaves it to another worker once the lease expires', async () => {
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'rules.txt', bytes: new TextEncoder().encode(BODY) });
    const gated = gatedEmbedder(true);
    const a = worker({ ...kb.ingestDeps, embedder: gated.embedder }, 300);
    await waitFor(async () => gated.entered() > 0);
    await a.stop(0); // shutdown: the running job is aborted and its lease left to expire

    expect((await getDocument(db.sql, bot.companyId, bot.botId, document.id))!.status).toBe('processing');
    expect(await job(document.id)).toMatchObject({ status: 'running', attempts: 1 });

    worker(kb.ingestDeps, 60_000);
    const done = await waitFor(async () => {
      const d = await getDocument(db.sql, bot.companyId, bot.botId, document.id);
      return d?.status === 'ready' && d;
    });
    const stats = await chunkStats(document.id);
    expect(stats.n).toBe(done.chunk_count);
    expect(stats.distinct_ordinals).toBe(stats.n);
    expect(await waitFor(async () => (await job(document.id)).status === 'done' && job(document.id))).toMatchObject({ attempts: 2 });
  });

  it('a stalled worker that wakes up after another finished the job writes nothing twice', async () => {
    for (const w of workers) await w.stop(100);
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'rules-2.txt', bytes: new TextEncoder().encode(`${BODY}\n\nExtra.`) });
    const gated = gatedEmbedder(false); // ignores abort: a zombie that keeps going
    const zombieSettled = { n: 0 };
    worker({ ...kb.ingestDeps, embedder: gated.embedder }, 300, zombieSettled);
    await waitFor(async () => gated.entered() > 0);

    // The zombie's lease expires; a healthy worker claims the job again and completes it.
    worker(kb.ingestDeps, 60_000);
    const ready = await waitFor(async () => {
      const d = await getDocument(db.sql, bot.companyId, bot.botId, document.id);
      return d?.status === 'ready' && d;
    });
    const before = await chunkStats(document.id);
    expect(before.n).toBe(ready.chunk_count);
    expect(await job(document.id)).toMatchObject({ attempts: 2 });

    gated.release(); // the zombie finishes embedding and tries to commit
    await waitFor(async () => zombieSettled.n > 0);
    const after = await chunkStats(document.id);
    expect(after).toEqual(before);
    expect(after.distinct_ordinals).toBe(after.n);
    expect((await getDocument(db.sql, bot.companyId, bot.botId, document.id))!.status).toBe('ready');
  });

  it('a long ingestion renews its lease as it embeds: no other worker claims it and embeds it again', async () => {
    for (const w of workers) await w.stop(100);
    const long = Array.from({ length: 150 }, (_, i) => `Rule ${i}: the clinic asks every visitor to follow rule number ${i} carefully, and explains why at the desk.`).join('\n\n');
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'long-rules.txt', bytes: new TextEncoder().encode(long) });
    const slow = slowEmbedder(100);
    // One text per call, 100 ms each: the whole document takes well over the 1 s lease. Two workers poll.
    const deps = { ...kb.ingestDeps, embedder: slow.embedder, embedBatchSize: 1 };
    worker(deps, 1000);
    worker(deps, 1000);
    const ready = await waitFor(async () => {
      const d = await getDocument(db.sql, bot.companyId, bot.botId, document.id);
      return d?.status === 'ready' && d;
    });
    expect(ready.chunk_count).toBeGreaterThan(20);
    expect(await waitFor(async () => (await job(document.id)).status === 'done' && job(document.id))).toMatchObject({ attempts: 1 });
    expect(slow.texts()).toBe(ready.chunk_count); // each chunk embedded (and billed) once
  });
});
