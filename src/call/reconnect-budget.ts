/**
 * One bounded time budget for a provider's failure streak, like the LLM's first-token budget (agent-turn.ts):
 * from the first attempt or failure, reconnects are tried (with backoff) until RECONNECT_BUDGET_MS has passed — an attempt
 * that hangs is cut when the budget runs out — and then the call gives up (apologises if it still can speak,
 * and ends). A provider that proves it works (its session delivers an event or stays up STABLE_MS, a phrase is
 * spoken) starts the next streak with a fresh budget — but one that fails again within STABLE_MS of that proof has
 * not recovered: its backoff goes on growing, so a provider that works for an instant each time (a phrase replayed,
 * one event delivered) is never reconnected in a tight loop. So a caller waits at most RECONNECT_BUDGET_MS in silence for a dead recognizer or
 * voice before the call speaks (the apology) or ends.
 */
import { backoffDelayMs } from '../util/backoff.js';
import type { Clock } from './types.js';

export const RECONNECT_BUDGET_MS = 5000;
/** A session that lasted this long before failing worked: its failure starts a new budget. */
export const STABLE_MS = 2000;
/** Half jitter: a retry after a relapse always waits (at least half its step), never 0 by chance. */
const BACKOFF = { baseMs: 200, maxMs: 1000, jitter: 0.5 };

export class ReconnectBudget {
  private since: number | null = null;
  private attempts = 0;
  /** When the provider last proved it works after a streak (null: never). */
  private recoveredAt: number | null = null;

  constructor(
    private readonly clock: Clock,
    readonly budgetMs = RECONNECT_BUDGET_MS,
  ) {}

  /** An attempt begins: the budget's clock starts now unless a streak is already running. */
  begin(): void {
    this.since ??= this.clock.now();
  }

  /**
   * A failure: starts the streak's clock at the first one. A failure within STABLE_MS of the last recovery goes on
   * with that streak's count of attempts (its backoff). Returns the ms left for reconnecting (≤ 0: spent).
   */
  fail(): number {
    const now = this.clock.now();
    if (this.since === null) {
      const relapse = this.recoveredAt !== null && now - this.recoveredAt < STABLE_MS;
      if (!relapse) this.attempts = 0;
      this.since = now;
    }
    this.attempts++;
    return this.leftMs;
  }

  get leftMs(): number {
    return this.since === null ? this.budgetMs : this.since + this.budgetMs - this.clock.now();
  }

  get failures(): number {
    return this.attempts;
  }

  /**
   * The provider works again — since `provenAt` (default now; a session that stayed up STABLE_MS: since it opened):
   * the next failure starts a new budget, and a fresh backoff once it is STABLE_MS past `provenAt`. Cheap when no
   * streak runs (a recognizer calls it on every event).
   */
  recovered(provenAt = this.clock.now()): void {
    if (this.since !== null) {
      this.since = null;
      this.recoveredAt = provenAt;
    } else if (this.recoveredAt !== null && provenAt < this.recoveredAt) {
      this.recoveredAt = provenAt; // it has worked since earlier than the last proof said
    }
  }

  /** Waits before the next attempt: backoff, never past the budget. Resolves false when the budget is spent. */
  pause(signal: AbortSignal): Promise<boolean> {
    const left = this.leftMs;
    if (left <= 0 || signal.aborted) return Promise.resolve(false);
    const ms = Math.min(left, this.attempts <= 1 ? 0 : backoffDelayMs(this.attempts - 1, BACKOFF));
    if (ms === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const h = this.clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(this.leftMs > 0 && !signal.aborted);
      }, ms);
      const onAbort = (): void => {
        this.clock.clearTimeout(h);
        resolve(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Runs `attempt` against what is left of the budget: past it, the attempt's signal is aborted and this rejects
   * (a result that still arrives later goes to `discard`).
   */
  async within<T>(attempt: (signal: AbortSignal) => Promise<T>, parent: AbortSignal, discard: (late: T) => void): Promise<T> {
    this.begin();
    const ctl = new AbortController();
    const onParent = (): void => ctl.abort(parent.reason);
    parent.addEventListener('abort', onParent, { once: true });
    let timer: unknown = null;
    const running = attempt(ctl.signal);
    try {
      return await new Promise<T>((resolve, reject) => {
        timer = this.clock.setTimeout(() => {
          const err = new Error(`no connection within the ${this.budgetMs} ms reconnect budget`);
          ctl.abort(err);
          reject(err);
          running.then(discard, () => {});
        }, Math.max(0, this.leftMs));
        running.then(resolve, reject);
      });
    } finally {
      this.clock.clearTimeout(timer);
      parent.removeEventListener('abort', onParent);
    }
  }
}
