/**
 * Durable background jobs: a row in `jobs` that workers claim with FOR UPDATE SKIP LOCKED and lease.
 * A job survives restarts; several instances can run workers at once; a crashed worker's lease expires and
 * the job is claimed again. Handlers must be idempotent (a job can run twice after a crash). A lease records the
 * instance that holds it (jobs.locked_by; lease-owner.ts, shared with webhook deliveries): once
 * that instance is lost — silent for lostAfterMs, judged as lost calls are — its jobs are claimed again at once, not
 * when the lease runs out. A job a stopping process aborts goes back to the queue at once. A handler that may
 * outrun its lease renews it as it makes progress (JobContext.renewLease); one that stops making progress loses it.
 * Every claim counts as an attempt, however it ends (an error, a crash, a lost lease), except one a graceful stop
 * aborted: a job whose attempts have reached max_attempts is never claimed again; when its last lease expires it is marked failed and its
 * kind's onGiveUp runs, as for a last attempt that threw.
 *
 * Companies share each kind's slots fairly: a job records the company it works for (jobs.company_id), and the claim
 * serves companies in turns and holds each to JobKind.maxPerCompany running jobs in this process (claimJobs), so
 * one company's backlog does not delay another company's jobs.
 */
import { isUuid } from '../util/uuid.js';
import { LeasedPoller } from '../util/leased-poller.js';
import { backoffDelayMs } from '../util/backoff.js';
import type { Db, RootSql } from '../db/sql.js';
import { fairShareParams, type FairShare } from '../util/fair-share.js';
import { leaseLost, type LeaseOwner } from './lease-owner.js';

export type { LeaseOwner } from './lease-owner.js';

export interface EnqueueOptions {
  kind: string;
  payload: Record<string, unknown>;
  /** At most one queued/running job per key; a second enqueue with the same key is a no-op. */
  dedupeKey?: string;
  runAt?: Date;
  maxAttempts?: number;
  /**
   * The company the job works for (its fair share of the kind's slots). Without it, the company of the document
   * (payload.documentId) or call (payload.callId) the payload names, if any; else none (the job is claimed on its own).
   */
  companyId?: string;
}

const uuidOrNull = (v: unknown): string | null => (isUuid(v) ? v : null);

export async function enqueueJob(db: Db, job: EnqueueOptions): Promise<string | null> {
  const documentId = uuidOrNull(job.payload.documentId);
  const callId = uuidOrNull(job.payload.callId);
  const rows = await db`
    insert into jobs (kind, payload, dedupe_key, run_at, max_attempts, company_id)
    values (${job.kind}, ${db.json(job.payload as never)}, ${job.dedupeKey ?? null},
            ${job.runAt ?? new Date()}, ${job.maxAttempts ?? 5},
            coalesce(${job.companyId ?? null}::uuid,
              (select company_id from knowledge_documents where ${documentId}::uuid is not null and id = ${documentId}::uuid),
              (select company_id from calls where ${callId}::uuid is not null and id = ${callId}::uuid)))
    on conflict (dedupe_key) where dedupe_key is not null and status in ('queued', 'running') do nothing
    returning id`;
  return (rows[0]?.id as string | undefined) ?? null;
}


export interface ClaimedJob {
  id: string;
  payload: Record<string, unknown>;
  attempts: number;
  max_attempts: number;
  company_id: string | null;
}

/**
 * Leases up to `limit` due jobs of a kind (FOR UPDATE SKIP LOCKED: several workers claim side by side; each claim
 * is an attempt). Fair between companies: each company's due jobs are taken in turns — every company's oldest
 * first, then every company's second, … (a company already running n starts at turn n + 1), the earliest first
 * within a turn — and no company gets more than `maxPerCompany` running. A job with no company is a company of its
 * own. Walks jobs_company_due_idx per company with live jobs of the kind: a few index probes per company, however
 * long any company's backlog is. A row another claimer locked is skipped, not replaced; the poller claims again.
 * A running job is claimed once its lease is lost (leaseLost); the lease taken records `owner`.
 */
export async function claimJobs(
  sql: RootSql, kind: string, limit: number, leaseMs: number, fairness: FairShare = {}, owner?: LeaseOwner,
): Promise<ClaimedJob[]> {
  const { cap, alone, held } = fairShareParams(fairness);
  const lost = leaseLost(sql, owner);
  return sql<ClaimedJob[]>`
    with recursive companies (id) as (
      (select company_id from jobs where kind = ${kind} and status in ('queued', 'running') and company_id is not null
       order by company_id limit 1)
      union all
      select (select j.company_id from jobs j
              where j.kind = ${kind} and j.status in ('queued', 'running') and j.company_id > c.id order by j.company_id limit 1)
      from companies c where c.id is not null),
    holding as (
      select c.id, coalesce((${sql.json(held)}::jsonb ->> c.id::text)::int, 0) as n from companies c where c.id is not null),
    candidates as (
      select x.id, x.run_at, h.n + x.rank as turn
      from holding h
      cross join lateral (
        select j.id, j.run_at, row_number() over (order by j.run_at) as rank
        from jobs j
        where j.kind = ${kind} and j.company_id = h.id and j.status in ('queued', 'running')
          and j.run_at <= now() and j.attempts < j.max_attempts
          and (j.status = 'queued' or ${lost})
        order by j.run_at
        limit ${limit}::int) x
      -- With other companies waiting, the cap; a company alone may use all but one slot (kept for whoever comes next).
      where x.rank <= case when (select count(*) from holding) > 1 then coalesce(${cap}::int - h.n, ${limit}::int)
        else coalesce(${alone}::int - h.n, ${limit}::int) end
      union all
      (select j.id, j.run_at, 1 from jobs j
       where j.kind = ${kind} and j.company_id is null and j.status in ('queued', 'running')
         and j.run_at <= now() and j.attempts < j.max_attempts
         and (j.status = 'queued' or ${lost})
       order by j.run_at
       limit ${limit})),
    -- In claim order; joined by the primary key (a plain join to the candidates may be planned as a scan of the kind).
    picked as (select array_agg(id order by turn, run_at) as ids from candidates)
    update jobs set status = 'running', attempts = attempts + 1, locked_by = ${owner?.instanceId ?? null}::uuid,
      locked_until = now() + ${leaseMs} * interval '1 millisecond', updated_at = now()
    where id = any(array(
      select j.id from picked p join jobs j on j.id = any(p.ids)
      where j.kind = ${kind} and j.run_at <= now() and j.attempts < j.max_attempts
        and (j.status = 'queued' or (j.status = 'running' and ${lost}))
      order by array_position(p.ids, j.id)
      limit ${limit}
      for update of j skip locked))
    returning id, payload, attempts, max_attempts, company_id`;
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
  /**
   * Jobs of this kind one company may run at once in this process while other companies have jobs of the kind
   * (default half of `concurrency`, at least 1), so another company's job finds a slot while one company's backlog
   * runs. A company alone may use all slots but one (at least one).
   */
  maxPerCompany?: number;
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
  /** The longest wait of an idle poller where new jobs are announced (LeasedPoller); default pollMs. */
  idlePollMs?: number;
  /** A claimed job is leased this long; a handler that may run longer renews it as it goes (JobContext.renewLease). */
  leaseMs?: number;
  /**
   * This process's instance (the server's CallOwnership): its leases record it, and the leases of instances it
   * judges lost are claimed at once. Without it leases record no owner and are claimed again only once expired.
   */
  owner?: LeaseOwner;
  log: WorkerLogger;
}

export class JobWorker {
  /** One poller per kind: each kind has its own concurrency. */
  private readonly pollers: Map<string, LeasedPoller<ClaimedJob>>;
  private readonly leaseMs: number;
  /** Per kind, this process's running jobs per company: the claim counts them against maxPerCompany. */
  private readonly held = new Map<string, Map<string, number>>();

  constructor(
    private readonly sql: RootSql,
    private readonly options: JobWorkerOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    this.pollers = new Map(Object.entries(options.kinds).map(([kind, def]) => {
      const poller: LeasedPoller<ClaimedJob> = new LeasedPoller<ClaimedJob>({
        concurrency: def.concurrency,
        pollMs: options.pollMs ?? 500,
        ...(options.idlePollMs ? { idlePollMs: options.idlePollMs } : {}),
        beforeClaim: () => this.failExhausted(kind, def),
        claim: (free) => this.claim(kind, def, free),
        run: (job, signal) => this.run(kind, def, job, signal).finally(() => this.release(kind, job)),
        onError: (err) => options.log.error({ err, kind }, 'job poll failed'),
      });
      return [kind, poller] as const;
    }));
  }

  start(): void {
    for (const p of this.pollers.values()) p.start();
  }

  /** Ask for an immediate poll (e.g. right after enqueueing) of one kind's poller, or of every kind's. */
  kick(kind?: string): void {
    for (const [k, p] of this.pollers) if (kind === undefined || k === kind) p.kick();
  }

  /**
   * Stops claiming; waits up to `timeoutMs` for running jobs, then aborts them: each goes back to the queue, its
   * attempt not counted, for another instance (or this one's next start) to take at once.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    await Promise.all([...this.pollers.values()].map((p) => p.stop(timeoutMs)));
  }

  /** Jobs out of attempts whose last lease was lost (the process died or stalled mid-job): failed, never re-run. */
  private async failExhausted(kind: string, def: JobKind): Promise<void> {
    const message = 'the last attempt never finished (the process stopped or stalled and its lease expired)';
    const rows = await this.sql<{ id: string; payload: Record<string, unknown>; attempts: number }[]>`
      update jobs set status = 'failed', locked_until = null, last_error = ${message}, updated_at = now()
      where id in (
        select id from jobs
        where kind = ${kind} and attempts >= max_attempts
          and (status = 'queued' or (status = 'running' and ${leaseLost(this.sql, this.options.owner)}))
        for update skip locked)
      returning id, payload, attempts`;
    for (const job of rows) {
      this.options.log.warn({ jobId: job.id, kind, attempt: job.attempts }, 'job out of attempts after an expired lease, giving up');
      await def.onGiveUp?.(job.payload, new Error(message)).catch((e: unknown) => this.options.log.error({ err: e }, 'onGiveUp failed'));
    }
  }

  /** Every claimed job is run (LeasedPoller), and its run releases its company's slot when it ends. */
  private async claim(kind: string, def: JobKind, limit: number): Promise<ClaimedJob[]> {
    let held = this.held.get(kind);
    if (!held) this.held.set(kind, (held = new Map()));
    const maxPerCompany = def.maxPerCompany ?? Math.max(1, Math.floor(def.concurrency / 2));
    // Alone, a company may use all but one slot, kept for the next company's job (at least one).
    const fairness = { maxPerCompany, maxAlone: Math.max(1, def.concurrency - 1), held };
    const jobs = await claimJobs(this.sql, kind, limit, this.leaseMs, fairness, this.options.owner);
    for (const j of jobs) if (j.company_id) held.set(j.company_id, (held.get(j.company_id) ?? 0) + 1);
    return jobs;
  }

  private release(kind: string, job: ClaimedJob): void {
    const held = this.held.get(kind);
    if (!held || !job.company_id) return;
    const n = (held.get(job.company_id) ?? 0) - 1;
    if (n > 0) held.set(job.company_id, n);
    else held.delete(job.company_id);
  }

  /**
   * The condition that this claim still holds the job (a claim bumps attempts): a worker that stalled past its
   * lease, while another claimed the job, must not mark it done, put it back in the queue, or give it up twice.
   */
  private stillHeld(job: ClaimedJob) {
    return this.sql`id = ${job.id} and status = 'running' and attempts = ${job.attempts}`;
  }

  private async run(kind: string, def: JobKind, job: ClaimedJob, signal: AbortSignal): Promise<void> {
    const held = () => this.stillHeld(job);
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
      if (signal.aborted) return this.putBack(kind, job);
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

  /**
   * A job this process's shutdown aborted goes back to the queue, due now, its attempt uncounted (the stop was not
   * the job's failure), so another instance — or this one's next start — takes it at once rather than after the
   * lease. Where the database is away, the lease expires instead, as after a crash.
   */
  private async putBack(kind: string, job: ClaimedJob): Promise<void> {
    await this.sql`
      update jobs set status = 'queued', attempts = attempts - 1, locked_until = null, locked_by = null, updated_at = now()
      where ${this.stillHeld(job)}`.catch((err: unknown) => this.options.log.warn({ err, jobId: job.id, kind }, 'putting a stopped job back in the queue failed'));
  }
}
