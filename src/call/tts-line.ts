/**
 * The call's voice: its TTS session, opened at the start and reopened after a failure — a session that will not
 * open (or hangs opening), or a phrase that fails mid-synthesis — within one bounded time budget
 * (reconnect-budget.ts). New audio heard whole, or a session that lasted STABLE_MS, proves it works: the next
 * failure gets a fresh budget. A failure the provider marks as not retryable (a rejected key) is given up at once;
 * a phrase the voice refuses on a working session never comes here (playback.ts skips it).
 */
import { isRetryable } from '../errors.js';
import type { TtsProvider, TtsSession, TtsSessionOptions } from '../providers/types.js';
import { ReconnectBudget, STABLE_MS } from './reconnect-budget.js';
import type { Clock } from './types.js';

export interface TtsLineOptions {
  provider: TtsProvider;
  open: TtsSessionOptions;
  clock: Clock;
  /** The call's signal: ending the call stops a reconnect. */
  signal: AbortSignal;
  /** An open or a phrase failed (for the log); `leftMs` = what is left of the budget. */
  onFailure: (err: unknown, leftMs: number) => void;
  /** Default RECONNECT_BUDGET_MS. */
  budgetMs?: number;
}

export class TtsLine {
  private session: TtsSession | null = null;
  private openedAt = 0;
  private readonly budget: ReconnectBudget;

  constructor(private readonly o: TtsLineOptions) {
    this.budget = new ReconnectBudget(o.clock, o.budgetMs);
  }

  /**
   * A session to speak with: opened now, or — after `failure` (the current session failed) — reopened. Tries
   * until the budget is spent; null then, or when the call ended meanwhile.
   */
  async connect(failure?: unknown): Promise<TtsSession | null> {
    if (failure !== undefined) {
      // A refusal retrying cannot change (a rejected key): no voice, at once.
      if (!isRetryable(failure)) {
        this.o.onFailure(failure, 0);
        return null;
      }
      // A session that worked for a while before failing gets a fresh budget: it has worked since it opened.
      if (this.session && this.o.clock.now() - this.openedAt >= STABLE_MS) this.budget.recovered(this.openedAt);
      this.o.onFailure(failure, this.budget.fail());
      const old = this.session;
      this.session = null;
      if (old) void old.close().catch(() => {});
      if (!(await this.budget.pause(this.o.signal))) return null;
    }
    for (;;) {
      try {
        const s = await this.budget.within(() => this.o.provider.open(this.o.open), this.o.signal, (late) => void late.close().catch(() => {}));
        if (this.o.signal.aborted) {
          void s.close().catch(() => {});
          return null;
        }
        this.session = s;
        this.openedAt = this.o.clock.now();
        return s;
      } catch (err) {
        if (this.o.signal.aborted) return null;
        if (!isRetryable(err)) {
          this.o.onFailure(err, 0);
          return null;
        }
        this.o.onFailure(err, this.budget.fail());
        if (!(await this.budget.pause(this.o.signal))) return null;
      }
    }
  }

  /**
   * New audio of the voice was heard whole (not a phrase made before the failure and sent again): it works. A
   * failure within STABLE_MS of that still backs off (ReconnectBudget).
   */
  recovered(): void {
    this.budget.recovered();
  }

  close(): Promise<void> {
    const s = this.session;
    this.session = null;
    return s ? s.close() : Promise.resolve();
  }
}
