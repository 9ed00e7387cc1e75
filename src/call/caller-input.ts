/**
 * The caller's audio, fanned out: every inbound frame goes to the recognizer (stt-connection.ts), to the call's
 * VAD (caller-voice.ts — or the recognizer's own, where it reports voice activity) and to the audio tail that
 * the end-of-turn model listens to (caller-audio-tail.ts). The session hears back VAD onsets and ends, and the
 * recognizer's events.
 */
import type { AudioFormat } from '../audio/format.js';
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
}

export class CallerInput {
  private readonly tail: CallerAudioTail;
  private readonly voice: CallerVoiceSource;
  private readonly stt: SttConnection;

  constructor(o: CallerInputOptions) {
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
      onEvent: (ev) => (ev.type === 'voice' ? this.voice.recognizer(ev.activity, ev.agoMs) : o.onStt(ev)),
      onFailure: (err, leftMs) => o.log.warn({ err: errText(err), leftMs }, 'STT session failed'),
      onGiveUp: o.onSttLost,
    });
  }

  /** Opens the recognizer and the VAD (in the background). */
  start(): void {
    void this.stt.run();
    void this.voice.open();
  }

  /** Hot path: one inbound frame. */
  push(frame: Uint8Array): void {
    this.tail.push(frame);
    this.voice.push(frame);
    this.stt.push(frame);
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
    return Promise.allSettled([this.stt.close(), this.voice.close()]);
  }
}
