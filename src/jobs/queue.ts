/**
 * Durable background jobs: a row in `jobs` that workers claim with FOR UPDATE SKIP LOCKED and lease.
 * A job survives restarts; several instances can run workers at once; a crashed worker's lease expires and
 * the job is claimed again. Handlers must be idempotent (a job can run twice after a crash). A handler that may
 * outrun its lease renews it as it makes progress (JobContext.renewLease); one that stops making progress loses it.
 * Every claim counts as an attempt, however it ends (an error, a crash, an expired lease): a job whose attempts
 * have reached max_attempts is never claimed again; when its last lease expires it is marked failed and its
 * kind's onGiveUp runs, as for a last attempt that threw.
 */
import { LeasedPoller } from '../util/leased-poller.js';
import { backoffDelayMs } from '../util/backoff.js';
import type { Db, RootSql } from '../db/sql.js';

export interface EnqueueOptions {
  kind: string;
  payload: Record<string, unknown>;
  /** At most one queued/running job per key; a second enqueue with the same key is a no-op. */
  dedupeKey?: string;
  runAt?: Date;
  maxAttempts?: number;
}

export async function enqueueJob(db: Db, job: EnqueueOptions): Promise<string | null> {
  const rows = await db`
    insert into jobs (kind, payload, dedupe_key, run_at, max_attempts)
    values (${job.kind}, ${db.json(job.payload as never)}, ${job.dedupeKey ?? null},
            ${job.runAt ?? new Date()}, ${job.maxAttempts ?? 5})
    on conflict (dedupe_key) where dedupe_key is not null and status in ('queued', 'running') do nothing
    returning id`;
  return (rows[0]?.id as string | undefined) ?? null;
}

export interface JobContext {
  jobId: string;
  attempt: number;
  signal: AbortSignal;
  /**
   * Extends this attempt's lease (leaseMs from now) while it still holds the job; false once it does not (the lease
   * expired and another claim has the job: stop, writing nothing). A handler that may outrun the lease calls this as
   * it makes progress — after each batch, not on a timer, so one stuck on a dead socket still loses its lease and
   * the job moves on. Writes at most once per quarter lease.
   */
  renewLease(): Promise<boolean>;
}

export interface JobKind {
  handler: (payload: Record<string, unknown>, ctx: JobContext) => Promise<void>;
  /** Jobs of this kind running at once in this process. */
  concurrency: number;
  /** Called once when the last attempt fails, to record the failure where users see it. */
  onGiveUp?: (payload: Record<string, unknown>, error: Error) => Promise<void>;
}

export interface WorkerLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface JobWorkerOptions {
  kinds: Record<string, JobKind>;
  pollMs?: number;
  /** A claimed job is leased this long; a handler that may run longer renews it as it goes (JobContext.renewLease). */
  leaseMs?: number;
  log: WorkerLogger;
}

export class JobWorker {
  /** One poller per kind: each kind has its own concurrency. */
  private readonly pollers: LeasedPoller<ClaimedJob>[];
  private readonly leaseMs: number;

  constructor(
    private readonly sql: RootSql,
    private readonly options: JobWorkerOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    this.pollers = Object.entries(options.kinds).map(([kind, def]) => {
      const poller: LeasedPoller<ClaimedJob> = new LeasedPoller<ClaimedJob>({
        concurrency: def.concurrency,
        pollMs: options.pollMs ?? 500,
        beforeClaim: () => this.failExhausted(kind, def),
        claim: (free) => this.claim(kind, free),
        run: (job, signal) => this.run(kind, def, job, signal),
        onError: (err) => options.log.error({ err, kind }, 'job poll failed'),
      });
      return poller;
    });
  }

  start(): void {
    for (const p of this.pollers) p.start();
  }

  /** Ask for an immediate poll (e.g. right after enqueueing). */
  kick(): void {
    for (const p of this.pollers) p.kick();
  }

  /** Stops claiming; waits up to `timeoutMs` for running jobs, then aborts them (their leases will expire). */
  async stop(timeoutMs = 10_000): Promise<void> {
    await Promise.all(this.pollers.map((p) => p.stop(timeoutMs)));
  }

  /** Jobs out of attempts whose last lease expired (the process died or stalled mid-job): failed, never re-run. */
  private async failExhausted(kind: string, def: JobKind): Promise<void> {
    const message = 'the last attempt never finished (the process stopped or stalled and its lease expired)';
    const rows = await this.sql<{ id: string; payload: Record<string, unknown>; attempts: number }[]>`
      update jobs set status = 'failed', locked_until = null, last_error = ${message}, updated_at = now()
      where id in (
        select id from jobs
        where kind = ${kind} and attempts >= max_attempts
          and (status = 'queued' or (status = 'running' and locked_until < now()))
        for update skip locked)
      returning id, payload, attempts`;
    for (const job of rows) {
      this.options.log.warn({ jobId: job.id, kind, attempt: job.attempts }, 'job out of attempts after an expired lease, giving up');
      await def.onGiveUp?.(job.payload, new Error(message)).catch((e: unknown) => this.options.log.error({ err: e }, 'onGiveUp failed'));
    }
  }

  private async claim(kind: string, limit: number): Promise<ClaimedJob[]> {
    return this.sql<ClaimedJob[]>`
      update jobs set status = 'running', attempts = attempts + 1,
        locked_until = now() + ${this.leaseMs} * interval '1 millisecond', updated_at = now()
      where id in (
        select id from jobs
        where kind = ${kind} and run_at <= now() and attempts < max_attempts
          and (status = 'queued' or (status = 'running' and locked_until < now()))
        order by run_at
        limit ${limit}
        for update skip locked)
      returning id, payload, attempts, max_attempts`;
  }

  private async run(kind: string, def: JobKind, job: ClaimedJob, signal: AbortSignal): Promise<void> {
    // Only while this claim still holds the job (a claim bumps attempts): a worker that stalled past its lease,
    // while another claimed the job, must not mark it done, put it back in the queue, or give it up a second time.
    const held = () => this.sql`id = ${job.id} and status = 'running' and attempts = ${job.attempts}`;
    let renewedAt = Date.now();
    const renewLease = async (): Promise<boolean> => {
      if (Date.now() - renewedAt < this.leaseMs / 4) return true;
      const rows = await this.sql`
        update jobs set locked_until = now() + ${this.leaseMs} * interval '1 millisecond', updated_at = now()
        where ${held()} returning id`;
      renewedAt = Date.now();
      return rows.length > 0;
    };
    try {
      await def.handler(job.payload, { jobId: job.id, attempt: job.attempts, signal, renewLease });
      await this.sql`update jobs set status = 'done', locked_until = null, updated_at = now() where ${held()}`;
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if (signal.aborted) return; // shutting down: the lease expires and another worker retries
      const last = job.attempts >= job.max_attempts;
      // Exponential backoff: about 2 s, 4 s, 8 s… capped at 5 minutes.
      const delayMs = backoffDelayMs(job.attempts, { baseMs: 2_000, maxMs: 300_000, jitter: 0.5 });
      this.options.log.warn({ jobId: job.id, kind, attempt: job.attempts, err: err.message }, last ? 'job failed, giving up' : 'job failed, will retry');
      const settled = await this.sql`
        update jobs set status = ${last ? 'failed' : 'queued'}, locked_until = null, last_error = ${err.message.slice(0, 2000)},
          run_at = now() + ${delayMs} * interval '1 millisecond', updated_at = now()
        where ${held()} returning id`.then((rows) => rows.length > 0, () => false);
      // Not settled: the lease was lost (failExhausted or the next claim owns the outcome), or the database is
      // away (the lease expires and failExhausted gives up then).
      if (last && settled) await def.onGiveUp?.(job.payload, err).catch((e2: unknown) => this.options.log.error({ err: e2 }, 'onGiveUp failed'));
    }
  }
}

interface ClaimedJob {
  id: string;
  payload: Record<string, unknown>;
  attempts: number;
  max_attempts: number;
}
