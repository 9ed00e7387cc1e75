/**
 * Durable background jobs: a row in `jobs` that workers claim with FOR UPDATE SKIP LOCKED and lease.
 * A job survives restarts; several instances can run workers at once; a crashed worker's lease expires and
 * the job is claimed again. Handlers must be idempotent (a job can run twice after a crash).
 * Every claim counts as an attempt, however it ends (an error, a crash, an expired lease): a job whose attempts
 * have reached max_attempts is never claimed again; when its last lease expires it is marked failed and its
 * kind's onGiveUp runs, as for a last attempt that threw.
 */
import { backoffDelayMs } from '../util/backoff.js';
import type { Db, RootSql } from '../db/sql.js';
import { settleWithin } from '../util/settle-within.js';

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
  /** A claimed job is leased this long; longer-running handlers should be made shorter, not the lease longer. */
  leaseMs?: number;
  log: WorkerLogger;
}

export class JobWorker {
  private readonly running = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly pollMs: number;
  private readonly leaseMs: number;

  constructor(
    private readonly sql: RootSql,
    private readonly options: JobWorkerOptions,
  ) {
    this.pollMs = options.pollMs ?? 500;
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
  }

  start(): void {
    this.schedule(0);
  }

  /** Ask for an immediate poll (e.g. right after enqueueing). */
  kick(): void {
    if (!this.stopped) this.schedule(0);
  }

  /** Stops claiming; waits up to `timeoutMs` for running jobs, then aborts them (their leases will expire). */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const inFlight = [...this.inFlight];
    if (await settleWithin(inFlight, timeoutMs)) this.abort.abort();
    await Promise.allSettled(inFlight);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), ms);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    let claimedAny = false;
    try {
      for (const [kind, def] of Object.entries(this.options.kinds)) {
        const free = def.concurrency - (this.running.get(kind) ?? 0);
        if (free <= 0) continue;
        await this.failExhausted(kind, def);
        const jobs = await this.claim(kind, free);
        for (const job of jobs) {
          claimedAny = true;
          this.run(kind, def, job);
        }
      }
    } catch (err) {
      this.options.log.error({ err }, 'job poll failed');
    }
    if (!this.stopped) this.schedule(claimedAny ? 0 : this.pollMs);
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

  private async claim(kind: string, limit: number) {
    return this.sql<{ id: string; payload: Record<string, unknown>; attempts: number; max_attempts: number }[]>`
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

  private run(kind: string, def: JobKind, job: { id: string; payload: Record<string, unknown>; attempts: number; max_attempts: number }): void {
    this.running.set(kind, (this.running.get(kind) ?? 0) + 1);
    const p = (async () => {
      try {
        await def.handler(job.payload, { jobId: job.id, attempt: job.attempts, signal: this.abort.signal });
        await this.sql`update jobs set status = 'done', locked_until = null, updated_at = now() where id = ${job.id}`;
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        if (this.abort.signal.aborted) return; // shutting down: the lease expires and another worker retries
        const last = job.attempts >= job.max_attempts;
        // Exponential backoff: about 2 s, 4 s, 8 s… capped at 5 minutes.
        const delayMs = backoffDelayMs(job.attempts, { baseMs: 2_000, maxMs: 300_000, jitter: 0.5 });
        this.options.log.warn({ jobId: job.id, kind, attempt: job.attempts, err: err.message }, last ? 'job failed, giving up' : 'job failed, will retry');
        await this.sql`
          update jobs set status = ${last ? 'failed' : 'queued'}, locked_until = null, last_error = ${err.message.slice(0, 2000)},
            run_at = now() + ${delayMs} * interval '1 millisecond', updated_at = now()
          where id = ${job.id}`.catch(() => {});
        if (last) await def.onGiveUp?.(job.payload, err).catch((e2: unknown) => this.options.log.error({ err: e2 }, 'onGiveUp failed'));
      } finally {
        this.running.set(kind, (this.running.get(kind) ?? 1) - 1);
        if (!this.stopped) this.schedule(0);
      }
    })();
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}
