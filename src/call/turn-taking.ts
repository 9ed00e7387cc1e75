/**
 * Decides from STT events when the caller has finished a turn, and whether what they are saying while the bot
 * talks is a real interruption (enough speech or words) rather than a cough or an "uh-huh".
 */
import type { SttEvent } from '../providers/types.js';
import { meaningfulWordCount } from './session-phrases.js';
import type { Clock } from './types.js';

export interface CallerUtterance {
  text: string;
  /** When the utterance was judged finished. */
  closedAt: number;
  /** Last event that brought new words → the close (the recognizer's endpointing delay). */
  endpointMs: number | null;
  speechStartedAt: number | null;
}

export interface BargeInLimits {
  bargeInMinMs: number;
  bargeInMinWords: number;
}

export class CallerTurnTracker {
  private finals: string[] = [];
  private interim = '';
  speechStartedAt: number | null = null;
  lastWordsAt: number | null = null;
  /** Counts events that brought new words, so callers can tell "something new was said". */
  wordEvents = 0;

  constructor(
    private readonly limits: BargeInLimits,
    private readonly clock: Clock,
  ) {}

  /** Feeds one event; returns the caller's finished utterance when this event closes one. */
  handle(ev: SttEvent): CallerUtterance | null {
    const now = this.clock.now();
    switch (ev.type) {
      case 'speech_started':
        // A new burst after noise that produced no words starts the clock again.
        if (!this.hasWords || this.speechStartedAt === null) this.speechStartedAt = now;
        return null;
      case 'interim': {
        const text = ev.text.trim();
        if (text && text !== this.interim) {
          this.lastWordsAt = now;
          this.wordEvents++;
        }
        this.interim = text;
        if (text) this.speechStartedAt ??= now;
        return null;
      }
      case 'final': {
        const text = ev.text.trim();
        if (text) {
          // A final repeating the last interim brings no new words: the caller stopped talking back then.
          if (text !== this.interim) this.lastWordsAt = now;
          this.finals.push(text);
          this.wordEvents++;
          this.speechStartedAt ??= now;
        }
        this.interim = '';
        return ev.endOfUtterance ? this.close(now) : null;
      }
      case 'utterance_end':
        // Deepgram may send UtteranceEnd with words still only interim: keep them.
        if (this.interim) {
          this.finals.push(this.interim);
          this.interim = '';
        }
        return this.close(now);
      case 'error':
        return null;
    }
  }

  /** The text heard so far in the current (unfinished) utterance. */
  get pendingText(): string {
    return [...this.finals, this.interim].filter(Boolean).join(' ');
  }

  get hasWords(): boolean {
    return this.finals.length > 0 || this.interim.length > 0;
  }

  /** Whether the caller's current speech is enough to interrupt the bot. */
  isInterruption(): boolean {
    if (this.speechStartedAt === null) return false;
    return this.passes(meaningfulWordCount(this.pendingText), this.clock.now() - this.speechStartedAt);
  }

  private passes(words: number, speechMs: number): boolean {
    if (words >= Math.max(1, this.limits.bargeInMinWords)) return true;
    if (this.limits.bargeInMinWords === 0) return speechMs >= this.limits.bargeInMinMs;
    return words >= 1 && speechMs >= this.limits.bargeInMinMs;
  }

  /** The same rule applied to an utterance that has just been closed. */
  isInterruptionUtterance(u: CallerUtterance): boolean {
    return this.passes(meaningfulWordCount(u.text), u.closedAt - (u.speechStartedAt ?? u.closedAt));
  }

  /** When the time criterion could next turn this speech into an interruption (ms from now), or null. */
  msUntilTimeCriterion(): number | null {
    if (this.speechStartedAt === null) return null;
    const left = this.speechStartedAt + this.limits.bargeInMinMs - this.clock.now();
    return left > 0 ? left : null;
  }

  reset(): void {
    this.finals = [];
    this.interim = '';
    this.speechStartedAt = null;
  }

  private close(now: number): CallerUtterance | null {
    const text = this.finals.join(' ').replace(/\s+/g, ' ').trim();
    const utterance: CallerUtterance | null = text
      ? { text, closedAt: now, endpointMs: this.lastWordsAt === null ? null : now - this.lastWordsAt, speechStartedAt: this.speechStartedAt }
      : null;
    this.reset();
    return utterance;
  }
}
