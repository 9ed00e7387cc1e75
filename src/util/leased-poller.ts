/**
 * The loop behind every durable worker (jobs, webhook deliveries): claim up to the free slots — the claim
 * leases rows in the database (FOR UPDATE SKIP LOCKED), so several instances can poll at once — run each
 * claimed item, and poll again at once while work keeps coming, else every `pollMs`. Stopping waits for the
 * items in flight, then aborts them: their leases expire and another worker takes them, as after a crash.
 *
 * Where new work is announced (kick(): PostgreSQL's notifications, db/work-notifications.ts), an idle poller need
 * not ask every `pollMs`: each empty poll doubles the wait up to `idlePollMs`, and a kick or a claimed item brings
 * it back to `pollMs`. The slow poll still finds what no announcement covers (a retry coming due, a lease expiring).
 */
import { setMaxListeners } from 'node:events';
import { settleWithin } from './settle-within.js';

/** The longest wait between failed polls of any poller (unless its pollMs is longer). */
export const FAILED_POLL_MAX_WAIT_MS = 5_000;

export interface LeasedPollerOptions<T> {
  /** Items run at once by this poller. */
  concurrency: number;
  /** Idle poll interval. */
  pollMs: number;
  /** The longest idle wait, reached by doubling after each empty poll (default pollMs: no backing off). */
  idlePollMs?: number;
  /** Claims (leases) up to `free` items. */
  claim(free: number): Promise<T[]>;
  /** Runs one claimed item; settles its row itself. `signal` aborts when the poller stops past its grace. */
  run(item: T, signal: AbortSignal): Promise<void>;
  /** Work before each claim (e.g. failing exhausted rows, draining deletions); `signal` aborts as run()'s does. */
  beforeClaim?(signal: AbortSignal): Promise<void>;
  /** A poll that threw (database trouble): logged; the next ones back off (doubling up to idlePollMs, at least FAILED_POLL_MAX_WAIT_MS). */
  onError(err: unknown): void;
}

export class LeasedPoller<T> {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  /** The poll under way, if any: stop() waits for it so nothing it claims is left running unseen. */
  private polling: Promise<void> | null = null;
  private stopped = true;
  /** The wait after the next empty poll. */
  private idleWaitMs: number;
  /** A poll asked for while one ran: poll again as soon as it ends. */
  private kicked = false;

  constructor(private readonly o: LeasedPollerOptions<T>) {
    // Every item in flight listens on the one shutdown signal.
    setMaxListeners(0, this.abort.signal);
    this.idleWaitMs = o.pollMs;
  }

  get running(): number {
    return this.inFlight.size;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Poll now (e.g. right after enqueueing), or as soon as the poll under way ends. */
  kick(): void {
    if (this.stopped) return;
    this.idleWaitMs = this.o.pollMs;
    // During a poll, its claim may have read the table before the announced work was there.
    if (this.polling) this.kicked = true;
    else this.schedule(0);
  }

  /** Stops claiming; waits up to `timeoutMs` for items in flight, then aborts them. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const deadline = Date.now() + timeoutMs;
    // The poll under way first: a claim already sent may still lease rows, which join the items in flight.
    if (this.polling && (await settleWithin(this.polling, timeoutMs))) this.abort.abort();
    if (await settleWithin([...this.inFlight], Math.max(0, deadline - Date.now()))) this.abort.abort();
    // Past the grace everything has the abort: beforeClaim gives up, and what a late claim leased ends at once.
    await this.polling;
    await Promise.allSettled([...this.inFlight]);
  }

  get stopping(): AbortSignal {
    return this.abort.signal;
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      // Asked while a poll runs (a kick, a freed slot): that poll ends by polling again.
      if (this.polling) return void (this.kicked = true);
      this.polling = this.poll().finally(() => (this.polling = null));
    }, ms);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    this.kicked = false;
    let claimed = 0;
    let foundNothing = false;
    let failed = false;
    try {
      const free = this.o.concurrency - this.inFlight.size;
      if (free > 0) {
        await this.o.beforeClaim?.(this.abort.signal);
        // stop() may have come while beforeClaim ran: a stopped poller leases nothing more.
        if (this.stopped) return;
        const items = await this.o.claim(free);
        claimed = items.length;
        foundNothing = claimed === 0;
        for (const item of items) this.track(item);
      }
    } catch (err) {
      this.o.onError(err);
      failed = true;
    }
    if (this.stopped) return;
    if (claimed > 0 || (foundNothing && this.idleWaitMs > (this.o.idlePollMs ?? this.o.pollMs))) this.idleWaitMs = this.o.pollMs;
    if (!failed && (this.kicked || (claimed > 0 && this.inFlight.size < this.o.concurrency))) return this.schedule(0);
    // A failed poll (the database unreachable) backs off as an empty one does: a PostgreSQL outage logged 'job poll
    // failed' every 500 ms per process, hundreds of stack traces a minute, and asked the database as often.
    if (!foundNothing && !failed) return this.schedule(this.o.pollMs);
    const wait = this.idleWaitMs;
    // A poller that never idles slowly (no idlePollMs: the analytics rollup, the campaign stats) still backs its
    // failures off to FAILED_POLL_MAX_WAIT_MS; the first poll that works brings it back to pollMs.
    const longest = Math.max(this.o.idlePollMs ?? this.o.pollMs, failed ? FAILED_POLL_MAX_WAIT_MS : 0);
    this.idleWaitMs = Math.min(longest, wait * 2);
    this.schedule(wait);
  }

  private track(item: T): void {
    const p = this.o.run(item, this.abort.signal).catch((err: unknown) => this.o.onError(err));
    this.inFlight.add(p);
    void p.finally(() => {
      this.inFlight.delete(p);
      // Refill once half the slots are free: one claim query for many items.
      if (!this.stopped && this.inFlight.size <= Math.floor(this.o.concurrency / 2)) this.schedule(0);
    });
  }
}
