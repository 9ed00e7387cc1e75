/**
 * The caller's silence while the bot listens: a re-prompt after `silenceRepromptSec`, and a polite hang-up once
 * the caller has said nothing for `silenceHangupSec` (counted across re-prompts). A caller mid-sentence, or a
 * pending resume of a paused answer, postpones both.
 */
import type { CallLimits } from '../bots/config-schema.js';
import type { CallTimers } from './timers.js';
import type { CallerTurnTracker } from './turn-taking.js';
import type { Clock } from './types.js';

export interface SilenceHost {
  /** Whether the bot is busy (a turn on, or the call over): silence is not the caller's then. */
  busy(): boolean;
  reprompt(): void;
  hangUp(): void;
}

export class SilenceWatch {
  /** The caller has said nothing since (null: they just spoke, or the bot asked something new). */
  private since: number | null = null;

  constructor(
    private readonly limits: Pick<CallLimits, 'silenceRepromptSec' | 'silenceHangupSec'>,
    private readonly timers: CallTimers,
    private readonly tracker: CallerTurnTracker,
    private readonly clock: Clock,
    private readonly host: SilenceHost,
  ) {}

  /** The caller spoke, or the bot said something other than a re-prompt: the count starts again. */
  reset(): void {
    this.since = null;
  }

  /** The bot listens: arm the re-prompt and hang-up timers (hangs up now when the silence is already too long). */
  listen(): void {
    const now = this.clock.now();
    this.since ??= now;
    const hangAt = this.since + this.limits.silenceHangupSec * 1000;
    if (hangAt <= now) return this.host.hangUp();
    const repromptAt = now + this.limits.silenceRepromptSec * 1000;
    this.timers.clear('silence-reprompt');
    if (repromptAt < hangAt) this.timers.set('silence-reprompt', repromptAt - now, () => this.fire('reprompt'));
    this.timers.set('silence-hangup', hangAt - now, () => this.fire('hangup'));
  }

  private fire(what: 'reprompt' | 'hangup'): void {
    if (this.host.busy() || this.timers.has('resume')) return;
    // The caller is mid-sentence: look again shortly.
    if (this.tracker.hasWords || this.tracker.inSpeech) {
      this.timers.set(what === 'hangup' ? 'silence-hangup' : 'silence-reprompt', 1000, () => this.fire(what));
      return;
    }
    if (what === 'hangup') this.host.hangUp();
    else this.host.reprompt();
  }
}
