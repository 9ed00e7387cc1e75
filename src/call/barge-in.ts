/**
 * Barge-in: react to voice, confirm with words. A caller onset while the bot speaks pauses the bot's turn at once
 * (the line is cleared in the same event-loop turn); words (the existing rules) or sustained speech commit the
 * interruption (the turn is stopped end to end); otherwise the turn resumes from the first audio the caller did not
 * hear — when the recognizer has had its say, or `resumeWindowMs` after the caller went quiet. A committed
 * interruption that brings no words at all (side talk) gets the unheard rest of the answer spoken after all.
 *
 * The session owns the turn, the state and the transcript; this file owns the decisions and the barge-in timers
 * ('barge-in', 'resume'), and records each outcome in `metrics`.
 */
import type { CallLimits } from '../bots/config-schema.js';
import type { SpeakingTurn, StopReason } from './speaking-turn.js';
import type { CallTimers } from './timers.js';
import type { CallerTurnTracker, CallerUtterance } from './turn-taking.js';
import type { Clock, TurnLatency } from './types.js';

export interface BargeInMetric {
  /** Caller speech onset → line cleared (null when nothing was playing). */
  onsetToQuietMs: number | null;
  outcome: 'committed' | 'resumed';
  /** Onset → committed, or onset → resumed. */
  onsetToOutcomeMs: number;
  /** Commit → transport.clear() (0 when the pause had cleared it). */
  detectToClearMs: number;
}

/** What barge-in needs from the session. */
export interface BargeInHost {
  /** The bot turn being spoken, if any. */
  turn(): SpeakingTurn | null;
  ended(): boolean;
  /** The bot paused for the caller, is speaking again, or is listening after a committed interruption. */
  stateChanged(state: 'paused' | 'speaking' | 'thinking' | 'listening'): void;
  stopTurn(t: SpeakingTurn, reason: StopReason, addLatency?: (l: TurnLatency) => void): void;
  /** Says the unheard rest of a cut turn (from the start of the phrase cut short); false when nothing was left. */
  sayRestOf(cut: SpeakingTurn): boolean;
  enterListening(): void;
}

export interface BargeInOptions {
  tracker: CallerTurnTracker;
  timers: CallTimers;
  clock: Clock;
  limits: CallLimits;
  /** A pause that nothing confirms resumes this long after the caller went quiet. Default 1200 ms. */
  resumeWindowMs?: number | undefined;
  host: BargeInHost;
}

/** After a committed interruption with no words at all, the unheard rest is spoken this long after the caller went quiet. */
const RESUME_AFTER_COMMIT_MS = 2500;

export class BargeIn {
  readonly metrics: BargeInMetric[] = [];
  /** A committed interruption whose rest may still be spoken if the caller says nothing. */
  private cutTurn: SpeakingTurn | null = null;
  private readonly resumeWindowMs: number;

  constructor(private readonly o: BargeInOptions) {
    this.resumeWindowMs = o.resumeWindowMs ?? 1200;
  }

  /** A VAD onset: cancel a pending resume and pause the bot. */
  onOnset(at: number): void {
    this.o.timers.clear('resume');
    this.pause(at);
  }

  /** New words from the caller: they are talking (an interruption after a cut was real). */
  onWords(): void {
    this.cutTurn = null;
    this.o.timers.clear('resume');
  }

  /** The caller's turn begins, or the call winds down: nothing is left to resume. */
  forget(): void {
    this.cutTurn = null;
  }

  /** The caller started speaking (onset at `onsetAt`): silence the line and hold the rest of the turn. */
  pause(onsetAt: number): void {
    const t = this.o.host.turn();
    if (!t || !t.interruptible || !t.active || t.paused) return;
    t.pause(onsetAt, this.o.clock.now());
    this.o.host.stateChanged('paused');
    this.check();
    // Without a VAD nothing will say the caller went quiet: look again after the window.
    if (!this.o.tracker.hasVoice) this.armResume();
  }

  /** Words (the existing rules) or sustained speech turn a pause into an interruption. */
  check(): void {
    const t = this.o.host.turn();
    const { tracker, timers } = this.o;
    if (!t || !t.interruptible || !t.active) return;
    const sustained = this.o.limits.bargeInSustainedMs ?? 1000;
    if (tracker.isInterruption() || (tracker.hasVoice && tracker.sustainedSpeechMs() >= sustained)) {
      this.commit(t);
      return;
    }
    const waits = [tracker.msUntilTimeCriterion(), tracker.inSpeech ? sustained - tracker.sustainedSpeechMs() : null].filter((w): w is number => w !== null && w > 0);
    if (waits.length > 0 && !timers.has('barge-in')) timers.set('barge-in', Math.min(...waits), () => this.check());
  }

  /** The caller went quiet (VAD end, or the recognizer had its say): resume a pause nothing confirmed. */
  afterCallerQuiet(): void {
    const { tracker } = this.o;
    if (tracker.inSpeech) return;
    const t = this.o.host.turn();
    if (t?.paused && t.active) {
      if (tracker.recognizerDone && !tracker.isInterruption()) return this.resume(t);
      this.armResume();
    } else if (this.cutTurn && !tracker.hasWords) {
      const cut = this.cutTurn;
      this.o.timers.set('resume', RESUME_AFTER_COMMIT_MS, () => this.speakRestOf(cut));
    }
  }

  /**
   * The caller's utterance closed while the bot's turn `t` is on: returns whether it is the caller's turn now (the
   * bot's turn was interrupted), or false when it was a backchannel (a paused turn resumes).
   */
  utteranceOverBot(t: SpeakingTurn, u: CallerUtterance): boolean {
    if (!t.interruptible) return false;
    const interruption = this.o.tracker.isInterruptionUtterance(u);
    if (!interruption) {
      if (t.paused) this.resume(t);
      return false;
    }
    this.commit(t);
    return true;
  }

  /** Not an interruption: go on from where the caller stopped hearing. */
  resume(t: SpeakingTurn): void {
    const p = t.resume();
    if (!p) return;
    this.o.timers.clear('resume', 'barge-in');
    // The burst was not addressed to the bot (a cough, "uh-huh", side talk): forget it.
    this.o.tracker.reset();
    const onsetToOutcomeMs = this.o.clock.now() - p.onsetAt;
    if (t.latency) t.latency.bargeInOnsetToResumeMs = onsetToOutcomeMs;
    if (p.quietAt !== null) this.metrics.push({ onsetToQuietMs: p.quietAt - p.onsetAt, outcome: 'resumed', onsetToOutcomeMs, detectToClearMs: 0 });
    this.o.host.stateChanged(t.playback.started ? 'speaking' : 'thinking');
  }

  /** The interruption is real: stop the turn end to end (the session keeps what was heard). */
  commit(t: SpeakingTurn): void {
    const now = this.o.clock.now();
    const pause = t.pauseInfo;
    const onsetAt = pause?.onsetAt ?? this.o.tracker.speechStartedAt ?? now;
    const quietAt = pause ? pause.quietAt : t.playback.started ? now : null;
    this.o.host.stopTurn(t, 'interrupted', (latency) => {
      if (quietAt !== null) latency.bargeInOnsetToQuietMs = quietAt - onsetAt;
      latency.bargeInOnsetToCommitMs = now - onsetAt;
      latency.bargeInDetectToClearMs = 0;
    });
    this.metrics.push({ onsetToQuietMs: quietAt === null ? null : quietAt - onsetAt, outcome: 'committed', onsetToOutcomeMs: now - onsetAt, detectToClearMs: 0 });
    if (t.kind === 'agent' || t.kind === 'resume' || t.kind === 'greeting') {
      this.cutTurn = t;
      // The unheard remainder is read when the window closes: the LLM's last words arrive after the abort.
      this.o.timers.set('resume', this.resumeWindowMs, () => this.speakRestOf(t));
    }
    this.o.host.stateChanged('listening');
  }

  private armResume(): void {
    this.o.timers.set('resume', this.resumeWindowMs, () => {
      const t = this.o.host.turn();
      if (!t?.paused || !t.active) return;
      if (this.o.tracker.inSpeech) return; // the VAD end will look again
      this.resume(t);
    });
  }

  /** A committed interruption that brought no words after all (side talk): finish what was being said. */
  private speakRestOf(cut: SpeakingTurn): void {
    const { host } = this.o;
    if (host.ended() || host.turn() || this.cutTurn !== cut) return;
    if (this.o.tracker.inSpeech) return;
    // Its tools still running (a booking being made): their say is part of the rest, so it waits for them (the
    // tools' deadline bounds it; words from the caller meanwhile make it their turn, as before).
    const tools = cut.toolRounds.toolsDone;
    if (tools) return void tools.then(() => this.speakRestOf(cut));
    this.cutTurn = null;
    this.o.tracker.reset();
    if (!host.sayRestOf(cut)) host.enterListening();
  }
}
