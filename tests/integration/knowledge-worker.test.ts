import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobWorker } from '../../src/jobs/queue.js';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { ingestJobKind, INGEST_JOB_KIND, type IngestDeps } from '../../src/knowledge/ingest.js';
import type { WorkerReply, WorkerRequest } from '../../src/knowledge/ingest-worker.js';
import { DEFAULT_INGEST_LIMITS, WORKER_PAST_DEADLINE } from '../../src/knowledge/limits.js';
import { getDocument } from '../../src/knowledge/repo.js';
import { LocalEmbedder } from '../../src/providers/embeddings/local.js';
import type { Embedder } from '../../src/providers/types.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/until.js';
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

  it('a worker stopped during a job puts it back at once: another worker indexes it without waiting for the lease', async () => {
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'rules.txt', bytes: new TextEncoder().encode(BODY) });
    const gated = gatedEmbedder(true);
    const a = worker({ ...kb.ingestDeps, embedder: gated.embedder }, 3_600_000);
    await waitFor(async () => gated.entered() > 0);
    await a.stop(0); // shutdown: the running job is aborted and goes back to the queue, the attempt uncounted

    expect((await getDocument(db.sql, bot.companyId, bot.botId, document.id))!.status).toBe('processing');
    expect(await job(document.id)).toMatchObject({ status: 'queued', attempts: 0 });

    worker(kb.ingestDeps, 60_000);
    const done = await waitFor(async () => {
      const d = await getDocument(db.sql, bot.companyId, bot.botId, document.id);
      return d?.status === 'ready' && d;
    });
    const stats = await chunkStats(document.id);
    expect(stats.n).toBe(done.chunk_count);
    expect(stats.distinct_ordinals).toBe(stats.n);
    expect(await waitFor(async () => (await job(document.id)).status === 'done' && job(document.id))).toMatchObject({ attempts: 1 });
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

/**
 * An ingestion worker process (ingest-worker.ts) busy with one long document — its main thread in the chunking
 * and embedding loop, which does not give its event loop a turn for a long while — still ends when its parent dies
 * and when its task is past its deadline: its watchdog thread looks whatever the main thread does.
 */
describe('an ingestion worker process does not outlive its parent or its deadline', () => {
  const workerFile = fileURLToPath(new URL('../../src/knowledge/ingest-worker.ts', import.meta.url));
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const workerArgs = ['--import', tsx, workerFile, '1024'];
  /** Worker processes these tests started, killed at the end whatever happened (the old code left them running). */
  const started = new Set<number>();

  /**
   * A document that keeps the main thread busy for tens of seconds with little memory: a few hundred KB of short
   * paragraphs, cut into large chunks that overlap almost entirely, so every chunk embeds a thousand words.
   */
  const busyTask = (timeoutMs: number): WorkerRequest => ({
    type: 'task',
    id: 1,
    timeoutMs,
    task: {
      documentId: '00000000-0000-4000-8000-000000000001',
      kind: 'txt',
      bytes: new TextEncoder().encode(Array.from({ length: 12_000 }, (_, i) => `Rule ${i} says alpha${i % 97} beta${i % 89} gamma.`).join('\n\n')),
      chunkSize: 6000,
      chunkOverlap: 5960,
      limits: { ...DEFAULT_INGEST_LIMITS, maxChunks: 1_000_000 },
      localEmbedDimensions: 384,
    },
  });

  /** Gone: no such process, or a zombie its new parent has yet to reap. */
  const gone = (pid: number): boolean => {
    try {
      return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
    } catch {
      return true;
    }
  };
  /** CPU time the process has used (user + system), seconds; Infinity once it is gone. */
  const cpuSeconds = (pid: number): number => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').replace(/^.*\) /s, '').split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime: clock ticks, 100 a second on Linux
    } catch {
      return Infinity;
    }
  };
  const stderrOf = (child: ChildProcess) => {
    let text = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (text += s));
    return () => text;
  };

  afterAll(() => {
    for (const pid of started) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });

  it('a worker busy with a document exits soon after its parent is killed', async () => {
    // The parent: a small process that starts the worker as the pool does, hands it what this test sends, and
    // says when the worker is ready and when the task has been handed over.
    const relay = `const { spawn } = require('node:child_process');
const w = spawn(process.execPath, JSON.parse(process.argv[1]), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
w.on('message', (m) => process.send({ type: m.type, pid: w.pid }));
process.on('message', (m) => w.send(m, () => process.send({ type: 'sent', pid: w.pid })));`;
    const parent = spawn(process.execPath, ['-e', relay, JSON.stringify(workerArgs)], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], serialization: 'advanced' });
    const replies: { type: string; pid: number }[] = [];
    parent.on('message', (m: { type: string; pid: number }) => {
      replies.push(m);
      started.add(m.pid);
      if (m.type === 'ready') parent.send(busyTask(600_000));
    });
    const { pid } = await until(() => replies.find((m) => m.type === 'sent'), 60_000);
    // Deep in the document: a second of CPU spent on it (its results are not a sign: a busy loop may not flush them).
    const before = cpuSeconds(pid);
    await until(() => cpuSeconds(pid) - before >= 1, 60_000);

    parent.kill('SIGKILL');
    // Its watchdog sees the parent gone (or, between two batches, its event loop hears the channel close).
    await until(() => gone(pid), 10_000);
    expect(replies.some((m) => m.type === 'done')).toBe(false); // it stopped mid-document, not at its end
  }, 90_000);

  it('a worker busy past its task deadline ends itself, saying so, even while its parent does not kill it', async () => {
    const worker = spawn(process.execPath, workerArgs, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
    started.add(worker.pid!);
    const stderr = stderrOf(worker);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => worker.once('exit', (_code, signal) => resolve(signal)));
    let done = false;
    worker.on('message', (m: WorkerReply) => {
      if (m.type === 'ready') worker.send(busyTask(300));
      if (m.type === 'done') done = true;
    });
    let signal: NodeJS.Signals | null | undefined;
    void exited.then((s) => (signal = s));
    await until(() => signal !== undefined, 20_000);
    expect(signal).toBe('SIGKILL');
    expect(stderr()).toContain(WORKER_PAST_DEADLINE);
    expect(done).toBe(false);
  }, 90_000);
});
