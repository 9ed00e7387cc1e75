/**
 * The caller's audio, fanned out: every inbound frame goes to the recognizer (stt-connection.ts), to the call's
 * VAD (caller-voice.ts — or the recognizer's own, where it reports voice activity) and to the audio tail that
 * the end-of-turn model listens to (caller-audio-tail.ts). The session hears back VAD onsets and ends, and the
 * recognizer's events.
 *
 * A caller whose audio stops arriving (a web client that sends only while its microphone is open, a muted page,
 * a stalled network) has gone silent: after GAP_MS with no frame in the middle of a turn, silence is handed to all
 * three as if it had arrived — up to MAX_FILL_MS of it — so the VAD hears the speech end and the turn closes. Without it a question
 * ending where the audio ended was never answered and the call hung (no end of speech, so no re-prompt either).
 * Twilio sends a frame every 20 ms, so only a real outage reaches the threshold there.
 */
import { bytesPerMs, type AudioFormat } from '../audio/format.js';
import { MULAW_SILENCE } from '../audio/mulaw.js';
import type { SttEvent, SttProvider, SttSessionOptions } from '../providers/types.js';
import { CallerAudioTail } from './caller-audio-tail.js';
import { CallerVoiceSource, localCallerVoice, type CallerVoiceFactory, type VoiceEvent } from './caller-voice.js';
import { errText } from './conversation.js';
import type { ProsodyFeatures } from './prosody.js';
import { SttConnection } from './stt-connection.js';
import type { CallerTurnTracker } from './turn-taking.js';
import type { CallLogger, Clock } from './types.js';

export interface CallerInputOptions {
  format: AudioFormat;
  clock: Clock;
  log: CallLogger;
  stt: SttProvider;
  sttOptions: Omit<SttSessionOptions, 'signal'>;
  /** The call's signal: ending the call stops a reconnect. */
  signal: AbortSignal;
  /** undefined: the default energy VAD; null: none (the recognizer's events stand in). */
  callerVoice: CallerVoiceFactory | null | undefined;
  tracker: () => CallerTurnTracker;
  onVoice: (ev: VoiceEvent) => void;
  onStt: (ev: SttEvent) => void;
  /** The recognizer is gone for good (reconnect budget spent). */
  onSttLost: () => void;
  /** A recognizer session failed (`err`); `reconnecting` when a reopen follows (metrics). */
  onSttFailure?: ((reconnecting: boolean, err?: unknown) => void) | undefined;
  /** The recognizer is back after being out for `lostForMs`. */
  onSttRecovered?: ((lostForMs: number) => void) | undefined;
}

/** No frame for this long: the line is silent. Above any network jitter Twilio's 20 ms frames see. */
export const GAP_MS = 500;
/** Silence handed on per gap, at most: enough for the VAD's end of speech and the recognizer's endpointing. */
export const MAX_FILL_MS = 2000;
const GAP_CHECK_MS = 250;
const FILL_FRAME_MS = 20;

export class CallerInput {
  private readonly tail: CallerAudioTail;
  private readonly voice: CallerVoiceSource;
  private readonly stt: SttConnection;
  private readonly clock: Clock;
  private readonly tracker: () => CallerTurnTracker;
  /** 20 ms of silence in the input format. */
  private readonly silentFrame: Uint8Array;
  /** When the last real frame arrived (0: none yet); silence handed on since. */
  private lastFrameAt = 0;
  private filledMs = 0;
  private gapTimer: unknown = null;
  private closed = false;

  constructor(o: CallerInputOptions) {
    this.clock = o.clock;
    this.tracker = o.tracker;
    this.silentFrame = new Uint8Array(Math.round(bytesPerMs(o.format) * FILL_FRAME_MS)).fill(o.format.encoding === 'mulaw' ? MULAW_SILENCE : 0);
    this.tail = new CallerAudioTail(o.format, o.clock);
    this.voice = new CallerVoiceSource({
      factory: o.callerVoice === undefined ? localCallerVoice() : o.callerVoice,
      format: o.format,
      clock: o.clock,
      onEvent: o.onVoice,
      speaking: () => o.tracker().inSpeech,
      onUnavailable: (err) => o.log.warn({ err: errText(err) }, 'caller VAD unavailable; barge-in waits for the recognizer'),
    });
    this.stt = new SttConnection({
      provider: o.stt,
      open: o.sttOptions,
      signal: o.signal,
      clock: o.clock,
      onEvent: (ev) => {
        if (ev.type === 'voice') return this.voice.recognizer(ev.activity, ev.agoMs);
        // Words the caller said and the recognizer lost: in the call's log and the provider-failure metric.
        if (ev.type === 'unheard') {
          o.log.warn({ err: errText(ev.error) }, 'caller speech not recognised; asking the caller to repeat');
          o.onSttFailure?.(false);
        }
        o.onStt(ev);
      },
      onFailure: (err, leftMs) => {
        o.log.warn({ err: errText(err), leftMs }, 'STT session failed');
        o.onSttFailure?.(leftMs > 0, err);
      },
      onGiveUp: o.onSttLost,
      onRecovered: (ms) => o.onSttRecovered?.(ms),
    });
  }

  /** Opens the recognizer and the VAD (in the background). */
  start(): void {
    void this.stt.run();
    void this.voice.open();
    this.watchGaps();
  }

  /** Hot path: one inbound frame. */
  push(frame: Uint8Array): void {
    this.lastFrameAt = this.clock.now();
    this.filledMs = 0;
    this.fanOut(frame);
  }

  private fanOut(frame: Uint8Array): void {
    this.tail.push(frame);
    this.voice.push(frame);
    this.stt.push(frame);
  }

  /** Every GAP_CHECK_MS: the silence a gap in the caller's audio stands for, handed on (see the file's comment). */
  private watchGaps(): void {
    if (this.closed) return;
    this.gapTimer = this.clock.setTimeout(() => {
      const gap = this.clock.now() - this.lastFrameAt;
      const tracker = this.tracker();
      // Only mid-turn (speech heard, or words not yet a turn): a client idle between turns, or one that only types,
      // needs no silence.
      if (this.lastFrameAt > 0 && gap >= GAP_MS && this.filledMs < MAX_FILL_MS && (tracker.inSpeech || tracker.hasWords)) {
        const due = Math.min(gap, MAX_FILL_MS) - this.filledMs;
        for (let ms = 0; ms + FILL_FRAME_MS <= due; ms += FILL_FRAME_MS) {
          this.fanOut(this.silentFrame);
          this.filledMs += FILL_FRAME_MS;
        }
      }
      this.watchGaps();
    }, GAP_CHECK_MS);
  }

  /** The VAD heard the caller stop: ask the recognizer for its final now rather than after its own endpointing. */
  finalize(): void {
    this.stt.finalize();
  }

  /** Pitch of the caller's audio that ended at `endAt` (once per end of speech). */
  prosodyEndingAt(endAt: number): ProsodyFeatures | null {
    return this.tail.prosodyEndingAt(endAt);
  }

  close(): Promise<unknown> {
    this.closed = true;
    if (this.gapTimer !== null) this.clock.clearTimeout(this.gapTimer);
    return Promise.allSettled([this.stt.close(), this.voice.close()]);
  }
}
