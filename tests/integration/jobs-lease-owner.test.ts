/**
 * A job's lease records the instance that holds it, so a lease of an instance known to be lost (it stopped
 * heartbeating: a crash, kill -9) is claimed again at once, not when the lease runs out minutes later; and a
 * worker that stops gracefully puts the jobs it aborted back in the queue at once, their attempt uncounted.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimJobs, enqueueJob, JobWorker, type JobKind, type LeaseOwner } from '../../src/jobs/queue.js';
import { CallOwnership } from '../../src/telephony/call-ownership.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/until.js';

const silent = { warn: () => {}, error: () => {} };
const quiet = { info: () => {}, warn: () => {} };

describe('job leases and the instance that holds them', () => {
  let db: TestDatabase;
  const workers: JobWorker[] = [];
  const ownerships: CallOwnership[] = [];

  const job = async (id: string) =>
    (await db.sql<{ status: string; attempts: number; locked_by: string | null; locked_until: Date | null }[]>`
      select status, attempts, locked_by, locked_until from jobs where id = ${id}`)[0]!;
  /** An instance row as a server writes it, last heard from `agoMs` ago. */
  const instance = async (agoMs: number) => {
    const id = randomUUID();
    await db.sql`insert into instances (id, hostname, pid, heartbeat_at) values (${id}, 'test-host', 4242, now() - ${agoMs} * interval '1 millisecond')`;
    return id;
  };
  /** A job that `owner` is running, its lease good for an hour: only its owner's loss can free it early. */
  const runningJob = async (kind: string, owner: string, attempts = 1, maxAttempts = 5) => {
    const id = (await enqueueJob(db.sql, { kind, payload: {}, maxAttempts }))!;
    await db.sql`update jobs set status = 'running', attempts = ${attempts}, locked_by = ${owner}, locked_until = now() + interval '1 hour' where id = ${id}`;
    return id;
  };
  const judge = (instanceId: string, mayJudge: boolean): LeaseOwner => ({ instanceId, lostAfterMs: 60_000, mayJudgeSilence: () => mayJudge });

  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    for (const w of workers) await w.stop(100);
    for (const o of ownerships) await o.stop();
    await db?.close();
  });

  it('claims at once the jobs of an instance that is lost (silent, or its row gone), never those of one alive', async () => {
    const me = await instance(0);
    const dead = await runningJob('owned_claim', await instance(10 * 60_000));
    const vanished = await runningJob('owned_claim', randomUUID());
    const alive = await runningJob('owned_claim', await instance(0));

    // Until this instance may judge others' silence (it has itself reached the database for lostAfterMs), nothing.
    expect(await claimJobs(db.sql, 'owned_claim', 10, 60_000, {}, judge(me, false))).toEqual([]);

    const claimed = await claimJobs(db.sql, 'owned_claim', 10, 60_000, {}, judge(me, true));
    expect(claimed.map((j) => j.id).sort()).toEqual([dead, vanished].sort());
    expect(await job(dead)).toMatchObject({ status: 'running', attempts: 2, locked_by: me });
    expect(await job(alive)).toMatchObject({ status: 'running', attempts: 1 });
    // Its own leases are not its to take back.
    expect(await claimJobs(db.sql, 'owned_claim', 10, 60_000, {}, judge(me, true))).toEqual([]);
  });

  it('a restarted server takes over its lost predecessor\'s job promptly, and fails one out of attempts', async () => {
    const predecessor = await instance(10 * 60_000); // crashed mid-job: its heartbeat stopped
    const interrupted = await runningJob('restart_claim', predecessor);
    const lastAttempt = await runningJob('restart_claim', predecessor, 3, 3);
    const ownership = new CallOwnership(db.sql, quiet, { heartbeatMs: 50, lostAfterMs: 300, sweepEveryMs: 0 });
    ownerships.push(ownership);
    await ownership.start({ sweep: false });

    const runs: string[] = [];
    const gaveUp: string[] = [];
    const kind: JobKind = {
      concurrency: 2,
      handler: async (_payload, ctx) => void runs.push(ctx.jobId),
      onGiveUp: async (_payload, error) => void gaveUp.push(error.message),
    };
    const w = new JobWorker(db.sql, { kinds: { restart_claim: kind }, pollMs: 20, leaseMs: 3_600_000, owner: ownership, log: silent });
    workers.push(w);
    w.start();
    expect(await until(async () => (await job(interrupted)).status === 'done' && job(interrupted))).toMatchObject({ attempts: 2 });
    expect(await until(async () => (await job(lastAttempt)).status === 'failed' && job(lastAttempt))).toMatchObject({ attempts: 3 });
    expect(runs).toEqual([interrupted]);
    expect(gaveUp).toHaveLength(1);
  });

  it('a graceful stop puts the job it aborted back at once, its attempt uncounted; another worker takes it without waiting for the lease', async () => {
    const id = (await enqueueJob(db.sql, { kind: 'stop_put_back', payload: {}, maxAttempts: 5 }))!;
    const attempts: number[] = [];
    let entered = false;
    const kind: JobKind = {
      concurrency: 1,
      handler: async (_payload, ctx) => {
        attempts.push(ctx.attempt);
        if (attempts.length > 1) return;
        entered = true;
        // Runs until the shutdown aborts it.
        await new Promise<void>((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
      },
    };
    const first = new JobWorker(db.sql, { kinds: { stop_put_back: kind }, pollMs: 20, leaseMs: 3_600_000, log: silent });
    first.start();
    await until(() => entered);
    await first.stop(0);
    expect(await job(id)).toMatchObject({ status: 'queued', attempts: 0, locked_until: null, locked_by: null });

    const second = new JobWorker(db.sql, { kinds: { stop_put_back: kind }, pollMs: 20, leaseMs: 3_600_000, log: silent });
    workers.push(second);
    second.start();
    expect(await until(async () => (await job(id)).status === 'done' && job(id))).toMatchObject({ attempts: 1 });
    expect(attempts).toEqual([1, 1]);
  });
});
