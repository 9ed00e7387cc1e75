/**
 * One bounded time budget for a provider's failure streak, like the LLM's first-token budget (agent-turn.ts):
 * from the first attempt or failure, reconnects are tried (with backoff) until RECONNECT_BUDGET_MS has passed — an attempt
 * that hangs is cut when the budget runs out — and then the call gives up (apologises if it still can speak,
 * and ends). A provider that proves it works (its session delivers an event or stays up STABLE_MS, a phrase is
 * spoken) starts the next streak with a fresh budget. So a caller waits at most RECONNECT_BUDGET_MS in silence for a dead recognizer or
 * voice before the call speaks (the apology) or ends.
 */
import { backoffDelayMs } from '../util/backoff.js';
import type { Clock } from './types.js';

export const RECONNECT_BUDGET_MS = 5000;
/** A session that lasted this long before failing worked: its failure starts a new budget. */
export const STABLE_MS = 2000;
const BACKOFF = { baseMs: 200, maxMs: 1000 };

export class ReconnectBudget {
  private since: number | null = null;
  private attempts = 0;

  constructor(
    private readonly clock: Clock,
    readonly budgetMs = RECONNECT_BUDGET_MS,
  ) {}

  /** An attempt begins: the budget's clock starts now unless a streak is already running. */
  begin(): void {
    this.since ??= this.clock.now();
  }

  /** A failure: starts the streak's clock at the first one. Returns the ms left for reconnecting (≤ 0: spent). */
  fail(): number {
    this.since ??= this.clock.now();
    this.attempts++;
    return this.leftMs;
  }

  get leftMs(): number {
    return this.since === null ? this.budgetMs : this.since + this.budgetMs - this.clock.now();
  }

  get failures(): number {
    return this.attempts;
  }

  /** The provider works again: the next failure starts a new budget. */
  recovered(): void {
    this.since = null;
    this.attempts = 0;
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
