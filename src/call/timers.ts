/**
 * The one owner of a call's timers. Each timer has a name (at most one of each runs); setting a name again
 * replaces it, and ending the call clears them all, so no callback outlives the call or fires twice.
 */
import type { Clock } from './types.js';

export type CallTimerName =
  | 'max-length'
  | 'silence-reprompt'
  | 'silence-hangup'
  | 'barge-in'
  | 'resume'
  | 'end-of-turn'
  | 'keypad'
  | 'typed-input';

export class CallTimers {
  private readonly handles = new Map<CallTimerName, unknown>();

  constructor(private readonly clock: Clock) {}

  /** Runs `fn` after `ms`, replacing a pending timer of the same name. */
  set(name: CallTimerName, ms: number, fn: () => void): void {
    this.clear(name);
    this.handles.set(
      name,
      this.clock.setTimeout(() => {
        this.handles.delete(name);
        fn();
      }, Math.max(0, ms)),
    );
  }

  has(name: CallTimerName): boolean {
    return this.handles.has(name);
  }

  clear(...names: CallTimerName[]): void {
    for (const name of names) {
      const h = this.handles.get(name);
      if (h === undefined) continue;
      this.clock.clearTimeout(h);
      this.handles.delete(name);
    }
  }

  clearAll(): void {
    for (const h of this.handles.values()) this.clock.clearTimeout(h);
    this.handles.clear();
  }
}
