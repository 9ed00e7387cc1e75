/**
 * a job whose attempts are used up is never claimed again, whatever ended its attempts — a crash or
 * stall leaves its lease to expire with attempts = max_attempts, and the job is then marked failed (its
 * kind's onGiveUp records it where users look: for ingestion, the document ends in error).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueJob, JobWorker, type JobKind } from '../../src/jobs/queue.js';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { ingestJobKind, INGEST_JOB_KIND } from '../../src/knowledge/ingest.js';
import { getDocument } from '../../src/knowledge/repo.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { createBot, knowledgeHarness, waitFor } from '../fixtures/knowledge/kb.js';

const silent = { warn: () => {}, error: () => {} };

describe('job attempts are a hard limit', () => {
  let db: TestDatabase;
  const workers: JobWorker[] = [];
  const startWorker = (kinds: Record<string, JobKind>) => {
    const w = new JobWorker(db.sql, { kinds, pollMs: 20, leaseMs: 60_000, log: silent });
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
});
