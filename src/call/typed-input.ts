/**
 * Typed text (web calls) and keypad entries, paced per call. Each one is a caller turn that interrupts the bot,
 * writes the transcript and starts an LLM request, so a peer flooding them (a script, a stuck key) would make
 * database work and LLM cost grow with what it sends. A bucket lets a person's pace through untouched (a burst
 * of TYPED_BURST, then one every TYPED_EVERY_MS); beyond it the entries wait and leave together as one turn once
 * the bucket allows — nothing is dropped but what exceeds TYPED_MAX_CHARS while waiting.
 */
import type { CallTimers } from './timers.js';
import type { Clock } from './types.js';

export const TYPED_BURST = 5;
export const TYPED_EVERY_MS = 2000;
/** Text held back while the bucket is empty, at most (a turn's worth; the rest of a flood is not kept). */
export const TYPED_MAX_CHARS = 2000;

export class TypedInputPacer {
  private tokens = TYPED_BURST;
  private refilledAt: number;
  private held: string[] = [];
  private heldChars = 0;

  constructor(
    private readonly clock: Clock,
    private readonly timers: CallTimers,
    private readonly deliver: (text: string) => void,
  ) {
    this.refilledAt = clock.now();
  }

  push(text: string): void {
    this.refill();
    if (this.held.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.deliver(text);
      return;
    }
    if (this.heldChars + text.length <= TYPED_MAX_CHARS) {
      this.held.push(text);
      this.heldChars += text.length;
    }
    if (!this.timers.has('typed-input')) this.timers.set('typed-input', Math.ceil((1 - this.tokens) * TYPED_EVERY_MS), () => this.release());
  }

  private release(): void {
    this.refill();
    if (this.held.length === 0) return;
    this.tokens = Math.max(0, this.tokens - 1);
    const text = this.held.join('\n');
    this.held = [];
    this.heldChars = 0;
    this.deliver(text);
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(TYPED_BURST, this.tokens + (now - this.refilledAt) / TYPED_EVERY_MS);
    this.refilledAt = now;
  }
}
