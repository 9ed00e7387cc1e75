/**
 * Delivers the outbox: claims due events (leased, SKIP LOCKED — safe with several instances), POSTs them
 * signed, records every attempt, and retries with exponential backoff and jitter until the event is
 * delivered or an attempt at or after its deadline (maxAgeMs after its window started, deadlineOf) failed: then it
 * is dead. A lease records this process's instance (options.owner; jobs/lease-owner.ts, as jobs do): a worker that
 * dies mid-delivery leaves a lease that is taken over once its instance is judged lost, or else once it expires; the
 * event is then sent again with the same webhook-id. A graceful stop gives back at once, attempt uncounted, the
 * deliveries it cut short (outbox.ts releaseAbortedClaim). Companies share the slots fairly: the claim serves them
 * in turns and holds each to maxPerCompany deliveries at once (outbox.ts claimDueEvents).
 */
import { isUuid } from '../util/uuid.js';
import type { RootSql } from '../db/sql.js';
import { loadCompanyWebhooks, notSentBecause, type CompanyWebhook } from './company-settings.js';
import { sendSigned } from './deliver.js';
import { WebhookHttpClient, type PostResult } from './http-post.js';
import { claimDueEvents, recordAttemptResult, releaseAbortedClaim, settleEvent, type ClaimedEvent, type Settlement } from './outbox.js';
import { DEFAULT_BACKOFF, isPermanentFailure, isSuccess, retryDelayMs, type BackoffOptions } from './retry-policy.js';
import { LeasedPoller } from '../util/leased-poller.js';
import type { LeaseOwner } from '../jobs/lease-owner.js';

export interface WebhookWorkerLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WebhookWorkerOptions {
  /** WEBHOOK_TIMEOUT_MS: one attempt, connect to last byte. */
  timeoutMs: number;
  /** WEBHOOK_MAX_AGE_HOURS in ms: retry until this long after the event may be sent (deadlineOf); one failing then is dead. */
  maxAgeMs: number;
  allowHttp: boolean;
  allowPrivate: boolean;
  /** Deliveries in flight at once in this process (default 16). */
  concurrency?: number;
  /**
   * Deliveries of one company in flight at once in this process while other companies have events (default half of
   * `concurrency`, at least 1), so a company whose receiver hangs, or whose backlog is long, leaves the other slots
   * to other companies' events. A company alone may use all slots but one.
   */
  maxPerCompany?: number;
  /** Idle poll interval (default 500 ms); a busy worker claims again as soon as a slot frees. */
  pollMs?: number;
  /** The longest wait of an idle poller where new events are announced (LeasedPoller); default pollMs. */
  idlePollMs?: number;
  /** How long a claim is leased (default timeoutMs + 30 s); must exceed timeoutMs. */
  leaseMs?: number;
  backoff?: BackoffOptions;
  /**
   * This process's instance (the server's CallOwnership): its leases record it, and the leases of instances it
   * judges lost (a crash) are claimed at once. Without it leases record no owner and are claimed again once expired.
   */
  owner?: LeaseOwner;
  /**
   * Refresh the outbox's planner statistics this often (default 60 s; 0 = never). Embedded PGlite has no
   * autovacuum, and without statistics the claim query sorts every pending row instead of walking the index.
   */
  analyzeEveryMs?: number;
  random?: () => number;
  log?: WebhookWorkerLogger;
  /** Told of every settled attempt (metrics): its outcome and, when a request went out, its duration. */
  onAttempt?: (outcome: 'delivered' | 'retry' | 'dead' | 'skipped', latencyMs: number | null) => void;
}

/** Leases past its deadline an event's claims may end unsettled (a crash mid-attempt) before it is given up. */
const UNSETTLED_CLAIMS_PAST_DEADLINE = 3;

const silent: WebhookWorkerLogger = { warn: () => {}, error: () => {} };

/** A claimed event with its company's webhook settings (null: the company is gone) as read right after the claim. */
type ClaimedDelivery = ClaimedEvent & { company: CompanyWebhook | null };

export class WebhookWorker {
  private readonly client: WebhookHttpClient;
  private readonly poller: LeasedPoller<ClaimedDelivery>;
  private lastAnalyzeAt = -Infinity;
  private readonly leaseMs: number;
  private readonly log: WebhookWorkerLogger;
  private readonly maxPerCompany: number;
  private readonly maxAlone: number;
  /** This process's deliveries in flight, per company: the claim counts them against maxPerCompany. */
  private readonly held = new Map<string, number>();

  constructor(
    private readonly sql: RootSql,
    private readonly options: WebhookWorkerOptions,
  ) {
    this.client = new WebhookHttpClient({ timeoutMs: options.timeoutMs, allowHttp: options.allowHttp, allowPrivate: options.allowPrivate });
    this.leaseMs = options.leaseMs ?? options.timeoutMs + 30_000;
    if (this.leaseMs <= options.timeoutMs) throw new Error('leaseMs must be longer than timeoutMs');
    this.log = options.log ?? silent;
    const concurrency = options.concurrency ?? 16;
    this.maxPerCompany = options.maxPerCompany ?? Math.max(1, Math.floor(concurrency / 2));
    // Alone, a company may use all but one slot, kept for the next company's event (at least one).
    this.maxAlone = Math.max(this.maxPerCompany, concurrency - 1);
    this.poller = new LeasedPoller<ClaimedDelivery>({
      concurrency,
      pollMs: options.pollMs ?? 500,
      ...(options.idlePollMs ? { idlePollMs: options.idlePollMs } : {}),
      beforeClaim: () => this.refreshStatistics(),
      claim: (free) => this.claim(free),
      run: (event, signal) => this.deliver(event, signal).finally(() => this.release(event.company_id)),
      onError: (err) => this.log.error({ err }, 'webhook poll failed'),
    });
  }

  start(): void {
    this.poller.start();
  }

  /** Poll now (e.g. after emitting in this process). */
  kick(): void {
    this.poller.kick();
  }

  /**
   * Stops claiming and waits up to `timeoutMs` for deliveries in flight; past that they are aborted: one that got no
   * answer yet is given back at once, its attempt uncounted, for another instance (or this one's next start) to send
   * again with the same webhook-id; one already answered is recorded as usual.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    await this.poller.stop(timeoutMs);
    this.client.close();
  }

  private async refreshStatistics(): Promise<void> {
    const analyzeEvery = this.options.analyzeEveryMs ?? 60_000;
    if (analyzeEvery > 0 && performance.now() - this.lastAnalyzeAt > analyzeEvery) {
      this.lastAnalyzeAt = performance.now();
      await this.sql`analyze webhook_events`;
    }
  }

  /**
   * Every claimed event is run (LeasedPoller), and its run releases its company's slot when it ends. The companies'
   * webhook settings are read once per claim, after it: a delivery goes where the settings say when it is sent, signed
   * with the secrets they hold then. (Settings cached for a second once sent events to a URL already changed or
   * removed, and signed with a secret already rotated out; each instance had its own stale copy.) Should that read
   * fail, the events stay leased, unsent, until their leases run out, as after a crash.
   */
  private async claim(free: number): Promise<ClaimedDelivery[]> {
    const fairness = { maxPerCompany: this.maxPerCompany, maxAlone: this.maxAlone, held: this.held };
    const events = await claimDueEvents(this.sql, free, this.leaseMs, fairness, this.options.owner);
    const companies = await loadCompanyWebhooks(this.sql, events.map((e) => e.company_id));
    for (const e of events) this.held.set(e.company_id, (this.held.get(e.company_id) ?? 0) + 1);
    return events.map((e) => ({ ...e, company: companies.get(e.company_id) ?? null }));
  }

  private release(companyId: string): void {
    const n = (this.held.get(companyId) ?? 0) - 1;
    if (n > 0) this.held.set(companyId, n);
    else this.held.delete(companyId);
  }

  private async deliver(event: ClaimedDelivery, signal: AbortSignal): Promise<void> {
    try {
      const { company } = event;
      // Settled under the settings read with the claim: a change saved since wins (outbox.ts Settlement.underSettings).
      const underSettings = company ? { underSettings: company.settingsVersion } : {};
      // An event claimed again and again without an attempt recorded (its bookkeeping failing each time) ends at
      // its maximum age all the same, rather than being sent for ever: once claims that held it well past its
      // deadline ended without settling it, those were its last attempts. "Well past": the last retry is due at the
      // deadline, so its own lease always runs past it, and a crash or a deploy during that one attempt is not its
      // end — only claims still unsettled three leases later are. An event merely claimed late (no worker was
      // running) still gets its attempt: it is dead only when an attempt at or after its deadline failed.
      if (event.unsettled_lease_until && event.unsettled_lease_until.getTime() > this.deadlineOf(event) + UNSETTLED_CLAIMS_PAST_DEADLINE * this.leaseMs) {
        const status = await settleEvent(this.sql, event, { status: 'dead', statusCode: null, error: 'not delivered within the maximum age', ...underSettings });
        if (status === 'dead') this.log.warn({ eventId: event.id, attempts: event.attempts }, 'webhook event is dead: past its maximum age');
        return;
      }
      const notSent = notSentBecause(company, event.type);
      if (notSent || !company?.url) {
        const status = await settleEvent(this.sql, event, { status: 'skipped', statusCode: null, error: notSent, ...underSettings });
        if (status === 'skipped') this.options.onAttempt?.('skipped', null);
        return;
      }
      const result = await sendSigned(this.client, { ...company, url: company.url }, event.id, event.body, signal);
      // Cut short by the stop before any answer came: not the receiver's failure.
      if (signal.aborted && result.statusCode === null) return await this.giveBack(event);
      await this.record(event, company.url, result, company.settingsVersion);
    } catch (err) {
      // Database trouble: the lease expires and the event is retried; nothing is lost.
      this.log.error({ err, eventId: event.id }, 'webhook delivery bookkeeping failed');
    }
  }

  /** A delivery the stop cut short goes back at once; where the database is away, its lease runs out instead. */
  private async giveBack(event: ClaimedEvent): Promise<void> {
    await releaseAbortedClaim(this.sql, event).catch((err: unknown) => this.log.warn({ err, eventId: event.id }, 'giving back a delivery cut short by the stop failed'));
  }

  /**
   * When retrying the event stops: its maximum age, counted from its creation, its replay, or when the event ahead
   * of it on its ordering key settled (waiting behind another is not ageing).
   */
  private deadlineOf(event: ClaimedEvent): number {
    return event.window_started_at.getTime() + this.options.maxAgeMs;
  }

  /** `underSettings`: the company's settings version the attempt went out under (outbox.ts Settlement). */
  private async record(event: ClaimedEvent, url: string, result: PostResult, underSettings: number): Promise<void> {
    const ok = isSuccess(result.statusCode);
    let settlement: Settlement;
    if (ok) settlement = { status: 'delivered', statusCode: result.statusCode, error: null };
    else {
      // The schedule restarts at a replay: 5 s, 10 s, 20 s … after it, however many attempts came before.
      const delay = retryDelayMs(event.attempts - event.attempts_before_replay, result.retryAfterMs, this.options.backoff ?? DEFAULT_BACKOFF, this.options.random);
      // Retried until the deadline: when the backoff or a Retry-After would wait past it, the last retry is due at
      // the deadline itself. Only an attempt made at or after the deadline that failed (or a 410 Gone) ends it.
      const now = Date.now();
      const deadline = this.deadlineOf(event);
      const next = new Date(Math.min(now + delay, deadline));
      const give = isPermanentFailure(result.statusCode) || now - result.latencyMs >= deadline;
      settlement = give
        ? { status: 'dead', statusCode: result.statusCode, error: result.error }
        : { status: 'pending', nextAttemptAt: next, statusCode: result.statusCode, error: result.error };
    }
    const status = await recordAttemptResult(this.sql, event, url, result, { ...settlement, underSettings }, event.type === 'call.analyzed' ? callIdOf(event.body) : null);
    if (status === null) return;
    if (status === 'dead') this.log.warn({ eventId: event.id, attempts: event.attempts, error: result.error }, 'webhook event is dead');
    this.options.onAttempt?.(status === 'pending' ? 'retry' : status === 'dead' ? 'dead' : 'delivered', result.latencyMs);
  }
}

function callIdOf(body: string): string | null {
  try {
    const v = (JSON.parse(body) as { data?: { call_id?: unknown } }).data?.call_id;
    return isUuid(v) ? v : null;
  } catch {
    return null;
  }
}
