/**
 * The call's recognizer session: opened, fed every caller frame, its events handed to the session, and reopened
 * after a failure within one bounded time budget (reconnect-budget.ts): an open that hangs is cut when the budget
 * runs out, a session that errors or ends is reopened with backoff (a session that delivered events, or lasted
 * STABLE_MS, worked: its failure starts a new budget), and when the budget is spent — or the
 * provider says the failure is not recoverable — `onGiveUp` tells the session (which apologises and ends).
 * Audio that arrives while no session is open (connecting, reconnecting) is held — the last MAX_HELD_FRAMES of
 * it — so the caller's words over a short outage are not lost. So is a request to finalise made then (the VAD heard
 * the caller stop, or the call ends and wants their last words): it is kept in its place among the held frames and
 * sent to the new session right after the audio it followed, so the caller's last words still come back as a final
 * and the turn closes on them rather than waiting out the recognizer grace. (The other requests need no holding:
 * keep-alives are the session's own, and a close made while none is open ends the reconnect — a session opened
 * after it is closed at once.)
 *
 * A session lost mid-utterance: the failure that ended it (an `error` event, also for a stream that ended or threw)
 * is passed on when a reopen follows, so the turn keeps the words it had recognised (turn-taking.ts). The new
 * session is given only the audio held since, never what the lost one was sent: the lost session's words for that
 * audio are already in the turn, and a replay would have them said twice. (Audio the lost session was sent but had
 * not yet answered for is lost with it: the recognizer's latency.)
 *
 * A session can fail before the call sees it (a Deepgram socket whose closing handshake is under way, or whose error
 * event is still queued): it then refuses the frames and finalise requests handed to it (pushAudio / finalize return
 * false), and they are held exactly as if no session were open — and so is the audio it took but never sent (the
 * packet it was filling, `unsent()`), ahead of them. Nothing the caller says in that window is lost.
 */
import { isRetryable } from '../errors.js';
import type { SttEvent, SttProvider, SttSession, SttSessionOptions } from '../providers/types.js';
import { ReconnectBudget, STABLE_MS } from './reconnect-budget.js';
import type { Clock } from './types.js';

/** 3 s of 20 ms frames. */
export const MAX_HELD_FRAMES = 150;

/** In the held audio: the caller's turn was asked to be finalised here. */
const FINALIZE = null;
type Held = Uint8Array | typeof FINALIZE;

export interface SttConnectionOptions {
  provider: SttProvider;
  open: Omit<SttSessionOptions, 'signal'>;
  signal: AbortSignal;
  clock: Clock;
  /** The sessions' events; `error`: the session was lost and a new one will be opened (its words stand). */
  onEvent: (ev: SttEvent) => void;
  /** A session failed or would not open (for the log); `leftMs` = what is left of the reconnect budget. */
  onFailure: (err: unknown, leftMs: number) => void;
  /** No recognizer within the budget (or a failure that no reconnect can mend): the call cannot listen. */
  onGiveUp: (err: unknown) => void;
  /** A session opened after a failure: the recognizer was out for `lostForMs` (from the streak's first failure). */
  onRecovered?: (lostForMs: number) => void;
  /** Default RECONNECT_BUDGET_MS. */
  budgetMs?: number;
}

export class SttConnection {
  private session: SttSession | null = null;
  /** Audio and finalise requests made while no session was open, in order (FINALIZE marks a request). */
  private readonly held: Held[] = [];
  private closed = false;
  private readonly budget: ReconnectBudget;
  /** When the recognizer was lost (the first failure since a session last opened); null while one is open. */
  private lostAt: number | null = null;

  constructor(private readonly o: SttConnectionOptions) {
    this.budget = new ReconnectBudget(o.clock, o.budgetMs);
  }

  /** Hot path: one caller frame (copied only when held: no session, or one that refused it). */
  push(frame: Uint8Array): void {
    const session = this.session;
    if (session && session.pushAudio(frame) !== false) return;
    if (this.closed) return;
    this.hold(frame.slice());
  }

  /**
   * Ask the recognizer to finalise what it has now (the VAD heard the caller stop). With no session open, the
   * request waits among the held audio for the next one.
   */
  finalize(): void {
    const session = this.session;
    if (session && session.finalize() !== false) return;
    if (this.closed || this.held[this.held.length - 1] === FINALIZE) return;
    this.hold(FINALIZE);
  }

  /** The oldest entry goes past MAX_HELD_FRAMES (a request at the front then covers audio that is gone: none). */
  private hold(entry: Held): void {
    this.held.push(entry);
    if (this.held.length > MAX_HELD_FRAMES) this.held.shift();
  }

  /**
   * Hands a new session what was held while none was open: the audio and the finalise requests, in order. What a
   * session that fails meanwhile refuses stays held, in order, for the one after it.
   */
  private replayHeld(session: SttSession): void {
    const entries = this.held.splice(0);
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const taken = entry === FINALIZE ? session.finalize() : session.pushAudio(entry);
      if (taken === false) return void this.held.push(...entries.slice(i));
    }
  }

  /**
   * A lost session's audio that it took but never sent goes back to the front of the held audio (what it refused,
   * held meanwhile, came after it) — unless the held audio is full of newer frames.
   */
  private takeBackUnsent(session: SttSession): void {
    const audio = session.unsent?.();
    if (audio && this.held.length < MAX_HELD_FRAMES) this.held.unshift(audio);
  }

  /** Runs until the call ends or the recognizer is given up. */
  async run(): Promise<void> {
    while (!this.closed) {
      let session: SttSession;
      try {
        session = await this.budget.within(
          (signal) => this.o.provider.open({ ...this.o.open, signal }),
          this.o.signal,
          (late) => void late.close().catch(() => {}),
        );
      } catch (err) {
        // A refusal that cannot change by retrying (a rejected key) gives up at once: the caller hears the apology now.
        if (!(await this.failed(err, isRetryable(err)))) return;
        continue;
      }
      if (this.closed) {
        void session.close().catch(() => {});
        return;
      }
      this.session = session;
      const openedAt = this.o.clock.now();
      if (this.lostAt !== null) this.o.onRecovered?.(openedAt - this.lostAt);
      this.lostAt = null;
      // The caller may have started talking (and stopped) while the recognizer was connecting: hand it what we held.
      this.replayHeld(session);
      let failure: Error | null = null;
      let recoverable = true;
      try {
        for await (const ev of session.events) {
          if (this.closed) break;
          if (ev.type === 'error') {
            failure = ev.error;
            recoverable = ev.recoverable;
            break;
          }
          // It works: a later failure gets a fresh budget.
          if (ev.type !== 'speech_started') this.budget.recovered();
          this.o.onEvent(ev);
        }
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
      }
      this.session = null;
      void session.close().catch(() => {});
      if (this.closed) return;
      this.takeBackUnsent(session);
      failure ??= new Error('STT stream ended');
      if (this.o.clock.now() - openedAt >= STABLE_MS) this.budget.recovered(openedAt);
      if (!(await this.failed(failure, recoverable))) return;
      // A new session takes over: the turn keeps what this one recognised (and may close on it). Passed on only now
      // that a reopen follows: a failure that spent the budget (or that no reopen can mend) ends the call, which
      // stores the caller's unfinished words itself, and a turn closed on it would start an answer the apology
      // cancels at once.
      this.o.onEvent({ type: 'error', error: failure, recoverable: true });
    }
  }

  /** Counts a failure against the budget; resolves whether to try again (after the backoff). */
  private async failed(err: unknown, recoverable: boolean): Promise<boolean> {
    if (this.closed) return false;
    this.lostAt ??= this.o.clock.now();
    const left = this.budget.fail();
    // A failure no reopen can mend has nothing left of the budget, whatever its clock says.
    this.o.onFailure(err, recoverable ? left : 0);
    if (recoverable && (await this.budget.pause(this.o.signal))) return !this.closed;
    if (!this.closed) this.o.onGiveUp(err);
    return false;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.held.length = 0;
    const s = this.session;
    this.session = null;
    if (s) await s.close();
  }
}
