/**
 * a job whose attempts are used up is never claimed again, whatever ended its attempts — a crash or
 * stall leaves its lease to expire with attempts = max_attempts, and the job is then marked failed (its
 * kind's onGiveUp records it where users look: for ingestion, the document ends in error). And an attempt that
 * stalled past its lease settles nothing when it finally ends: the job is the newer claim's (or already given up).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueJob, JobWorker, type JobKind } from '../../src/jobs/queue.js';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { ingestJobKind, INGEST_JOB_KIND } from '../../src/knowledge/ingest.js';
import { getDocument } from '../../src/knowledge/repo.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/until.js';
import { createBot, knowledgeHarness, waitFor } from '../fixtures/knowledge/kb.js';

const silent = { warn: () => {}, error: () => {} };

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('job attempts are a hard limit', () => {
  let db: TestDatabase;
  const workers: JobWorker[] = [];
  const startWorker = (kinds: Record<string, JobKind>, leaseMs = 60_000) => {
    const w = new JobWorker(db.sql, { kinds, pollMs: 20, leaseMs, log: silent });
    workers.push(w);
    w.start();
    return w;
  };
  const job = async (id: string) =>
    (await db.sql<{ status: string; attempts: number; last_error: string | null; locked_until: Date | null }[]>`
      select status, attempts, last_error, locked_until from jobs where id = ${id}`)[0]!;
  /** Makes the job look like its last attempt's process died mid-run: running, lease expired, attempts used up. */
  const expireLastAttempt = (id: string, attempts: number) =>
    db.sql`update jobs set status = 'running', attempts = ${attempts}, locked_until = now() - interval '1 minute' where id = ${id}`;

  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    for (const w of workers) await w.stop(100);
    await db?.close();
  });

  it('marks a job failed instead of claiming it when its last lease expired, and gives up once', async () => {
    const runs: unknown[] = [];
    const gaveUp: { payload: Record<string, unknown>; error: string }[] = [];
    const kind: JobKind = {
      concurrency: 1,
      handler: async (payload) => void runs.push(payload),
      onGiveUp: async (payload, error) => void gaveUp.push({ payload, error: error.message }),
    };
    const exhausted = (await enqueueJob(db.sql, { kind: 'test_exhausted', payload: { n: 1 }, maxAttempts: 5 }))!;
    await expireLastAttempt(exhausted, 5);
    // Beyond the limit too (a job claimed at 6/5 by the old code).
    const beyond = (await enqueueJob(db.sql, { kind: 'test_exhausted', payload: { n: 2 }, maxAttempts: 5 }))!;
    await expireLastAttempt(beyond, 6);
    // Attempts left: an expired lease is claimed again as before.
    const retry = (await enqueueJob(db.sql, { kind: 'test_exhausted', payload: { n: 3 }, maxAttempts: 5 }))!;
    await expireLastAttempt(retry, 4);

    const w = startWorker({ test_exhausted: kind });
    const failed = await waitFor(async () => (await job(exhausted)).status === 'failed' && job(exhausted));
    expect(failed).toMatchObject({ attempts: 5, locked_until: null });
    expect(failed.last_error).toMatch(/lease expired/);
    expect(await waitFor(async () => (await job(beyond)).status === 'failed' && job(beyond))).toMatchObject({ attempts: 6 });
    expect(await waitFor(async () => (await job(retry)).status === 'done' && job(retry))).toMatchObject({ attempts: 5 });
    await w.stop(100);

    expect(runs).toEqual([{ n: 3 }]);
    expect(gaveUp.map((g) => g.payload).sort((a, b) => Number(a.n) - Number(b.n))).toEqual([{ n: 1 }, { n: 2 }]);
    expect(gaveUp[0]!.error).toMatch(/the last attempt never finished/);
  });

  it('an ingestion job out of attempts ends its document in error with the reason', async () => {
    const kb = knowledgeHarness(db.sql);
    const bot = await createBot(db.sql);
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'crashy.txt', bytes: new TextEncoder().encode('Hours\n\nOpen daily from 9 to 5.') });
    const [row] = await db.sql<{ id: string; max_attempts: number }[]>`select id, max_attempts from jobs where dedupe_key = ${`ingest:${document.id}`}`;
    await expireLastAttempt(row!.id, row!.max_attempts);

    startWorker({ [INGEST_JOB_KIND]: ingestJobKind({ ...kb.ingestDeps, concurrency: 1 }) });
    const doc = await waitFor(async () => {
      const d = await getDocument(db.sql, bot.companyId, bot.botId, document.id);
      return d?.status !== 'processing' && d;
    });
    expect(doc).toMatchObject({ status: 'error', chunk_count: 0 });
    expect(doc.error_message).toMatch(/^Indexing failed after several attempts: the last attempt never finished/);
    expect(await job(row!.id)).toMatchObject({ status: 'failed', attempts: row!.max_attempts });
  });

  it('a stale attempt that fails does not put back in the queue a job another worker is running', async () => {
    const id = (await enqueueJob(db.sql, { kind: 'stale_fail', payload: {}, maxAttempts: 5 }))!;
    const attempts: number[] = [];
    const second = gate();
    let staleThrew = false;
    const kind: JobKind = {
      concurrency: 1,
      handler: async (_payload, ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt === 1) {
          // Stalled past the lease until the other worker has claimed the job again, then fails.
          await until(async () => (await job(id)).attempts === 2);
          staleThrew = true;
          throw new Error('stale attempt failed');
        }
        if (ctx.attempt === 2) await second.promise;
      },
    };
    const stale = startWorker({ stale_fail: kind }, 300);
    await until(() => attempts.length === 1);
    const healthy = startWorker({ stale_fail: kind }, 60_000);
    await until(() => staleThrew);
    await stale.stop(5_000); // returns once the stale attempt has written whatever it writes

    // The job is still the healthy worker's: running, its lease intact, not queued for a third run.
    const row = await job(id);
    expect(row).toMatchObject({ status: 'running', attempts: 2, last_error: null });
    expect(row.locked_until!.getTime()).toBeGreaterThan(Date.now());

    second.open();
    expect(await until(async () => (await job(id)).status === 'done' && job(id))).toMatchObject({ attempts: 2 });
    await healthy.stop(1_000);
    expect(attempts).toEqual([1, 2]);
  });

  it('a stale last attempt that fails after its expired lease was given up does not give up a second time', async () => {
    const id = (await enqueueJob(db.sql, { kind: 'stale_last', payload: { n: 1 }, maxAttempts: 1 }))!;
    const gaveUp: string[] = [];
    let entered = false;
    let staleThrew = false;
    const kind: JobKind = {
      concurrency: 1,
      handler: async () => {
        entered = true;
        // Stalled until another worker found the lease expired and failed the job, then fails itself.
        await until(async () => (await job(id)).status === 'failed');
        staleThrew = true;
        throw new Error('stale last attempt failed');
      },
      onGiveUp: async (_payload, error) => void gaveUp.push(error.message),
    };
    const stale = startWorker({ stale_last: kind }, 300);
    await until(() => entered);
    const other = startWorker({ stale_last: kind }, 60_000);
    await until(() => staleThrew);
    await stale.stop(5_000);
    await other.stop(1_000);

    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]).toMatch(/the last attempt never finished/);
    const row = await job(id);
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(row.last_error).toMatch(/the last attempt never finished/);
  });
});
