/**
 * One bot turn being spoken: its AbortController (LLM + TTS), its paced playback, whether the caller may
 * interrupt it, and its latency. pause() / resume() for a caller onset that may not be an interruption;
 * stop(reason) is the one way a turn ends early — interruption, wrap-up and the end of the call alike.
 */
import type { UnsafePhrase } from './agent-turn.js';
import type { CallTransport } from '../telephony/transport.js';
import { Playback, type PlaybackOptions } from './playback.js';
import { SpokenToolRounds } from './tool-rounds.js';
import type { TurnLatency } from './types.js';

export type BotTurnKind = 'greeting' | 'agent' | 'resume' | 'reprompt' | 'goodbye' | 'notice';
/** 'tts-failed': the voice failed mid-turn (the rest is said again once TTS is back). */
export type StopReason = 'interrupted' | 'wrap-up' | 'call-ended' | 'tts-failed';

export interface PauseRecord {
  /** Caller speech onset that caused it. */
  onsetAt: number;
  /** The line was cleared (null when nothing was playing yet). */
  quietAt: number | null;
}

export class SpeakingTurn {
  readonly controller = new AbortController();
  readonly playback: Playback;
  stopped: StopReason | null = null;
  pauseInfo: PauseRecord | null = null;
  /** Phrases of this answer the safe-speech check changed or refused (recorded with the turn). */
  safety: UnsafePhrase[] | null = null;
  /** An answer's tool rounds in the LLM history (agent-turn.ts): settled to what was heard if the turn is stopped. */
  readonly toolRounds = new SpokenToolRounds();

  constructor(
    readonly id: number,
    readonly kind: BotTurnKind,
    public interruptible: boolean,
    /** Latency of an agent answer (null for fixed phrases). */
    readonly latency: TurnLatency | null,
    /** The start of the turn's latency timeline (the caller's end of speech for an answer). */
    public startedAt: number,
    private readonly transport: CallTransport,
    playback: Omit<PlaybackOptions, 'signal' | 'markPrefix' | 'transport'>,
  ) {
    this.playback = new Playback({ ...playback, transport, signal: this.controller.signal, markPrefix: `t${id}` });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }
  get paused(): boolean {
    return this.pauseInfo !== null;
  }
  get active(): boolean {
    return this.stopped === null;
  }

  /** The caller started speaking: silence the line (if anything was playing) and hold the rest. */
  pause(onsetAt: number, now: number): PauseRecord | null {
    if (this.stopped || this.pauseInfo) return null;
    const playing = this.playback.started;
    this.playback.pause();
    this.pauseInfo = { onsetAt, quietAt: playing ? now : null };
    return this.pauseInfo;
  }

  /** Not an interruption: go on from where the caller stopped hearing. */
  resume(): PauseRecord | null {
    const p = this.pauseInfo;
    if (this.stopped || !p) return null;
    this.pauseInfo = null;
    this.playback.resume();
    return p;
  }

  /**
   * Ends the turn: the line is cleared (unless a pause already did, or the call is over), LLM and TTS are
   * aborted, and what the caller heard is frozen. Returns the heard text (the phrase cut short, in part).
   */
  stop(reason: StopReason): string {
    if (this.stopped) return '';
    this.stopped = reason;
    if (reason !== 'call-ended' && !this.pauseInfo) this.transport.clear();
    this.playback.interrupt();
    this.controller.abort();
    return this.playback.heardTranscript();
  }
}
