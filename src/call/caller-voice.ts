/**
 * The caller's voice as the call loop sees it: onset and end of speech, in clock time. Tuned to react: 64 ms of
 * speech is an onset (the bot goes quiet; words decide later whether it was an interruption), 200 ms of silence
 * is an end of speech (the end-of-turn rules decide whether the caller is done).
 *
 * Which VAD (README "Turn-taking"): by default the energy VAD, on the transport's own samples (8 kHz μ-law is
 * decoded, not resampled) — a few µs per frame, so the cloud path stays cheap, with the recognizer's speech
 * start and words to confirm it. A recognizer that runs a VAD of its own (the local one: Silero) reports voice
 * activity instead, and the call then stops this one: one VAD per call. `engine: 'silero'` runs Silero here
 * (~0.4–0.8 % of a core per call, 8 kHz resampled to 16 kHz first).
 * Hot path: push() decodes the frame (no copy for PCM) and hands it to the VAD; no logging, no timers.
 */
import type { AudioFormat } from '../audio/format.js';
import { AudioConverter } from '../audio/convert.js';
import { WIDEBAND_FORMAT } from '../audio/format.js';
import { mulawDecode } from '../audio/mulaw.js';
import { pcm16FromBytes } from '../audio/pcm.js';
import { createVad } from '../providers/vad/create.js';
import type { VadLogger } from '../providers/vad/types.js';
import type { Clock } from './types.js';

export type VoiceEvent =
  /** Speech began at `at` (clock ms: when that audio arrived). */
  | { type: 'onset'; at: number }
  /** Speech ended at `at` (the end of the last voiced audio); reported `minSilenceMs` later. */
  | { type: 'end'; at: number };

export interface CallerVoice {
  /** Hot path: one inbound frame in the transport's input format. */
  push(frame: Uint8Array): void;
  close(): Promise<void>;
}

export interface CallerVoiceOptions {
  format: AudioFormat;
  clock: Clock;
  onEvent: (event: VoiceEvent) => void;
  logger?: VadLogger;
}

export type CallerVoiceFactory = (options: CallerVoiceOptions) => Promise<CallerVoice>;

export interface LocalVoiceSettings {
  /** Default 'energy' (see above). */
  engine?: 'silero' | 'energy';
  /** Speech this long is an onset. Default 64 ms (two Silero windows). */
  onsetMs?: number;
  /** Silence this long ends speech. Default 200 ms. */
  endSilenceMs?: number;
}

/** Onset after this much speech, end after this much silence: what the call loop reacts to. */
export const VOICE_ONSET_MS = 64;
export const VOICE_END_SILENCE_MS = 200;

/** The default: a VAD per call on the caller's audio (energy unless `engine: 'silero'`). */
export function localCallerVoice(settings: LocalVoiceSettings = {}): CallerVoiceFactory {
  return async ({ format, clock, onEvent, logger }) => {
    const engine = settings.engine ?? 'energy';
    // Silero needs 16 kHz; the energy VAD takes the transport's samples as they are.
    const toSamples = engine === 'silero' ? converterTo16k(format) : decoder(format);
    const samplesPerMs = engine === 'silero' ? 16 : format.sampleRate / 1000;
    let pushedMs = 0;
    let lastPushAt = 0;
    // Audio ms → clock: the frame holding audio ms `t` arrived about (pushedMs - t) before the latest frame.
    const toClock = (atMs: number): number => lastPushAt - Math.max(0, pushedMs - atMs);
    const vad = await createVad({
      engine,
      positiveThreshold: 0.5,
      minSpeechMs: settings.onsetMs ?? VOICE_ONSET_MS,
      minSilenceMs: settings.endSilenceMs ?? VOICE_END_SILENCE_MS,
      // Where Silero cannot load, its energy stand-in gets the same 16 kHz samples.
      energy: { sampleRate: samplesPerMs * 1000 },
      ...(logger ? { logger } : {}),
      onEvent: (e) => onEvent(e.type === 'speech_start' ? { type: 'onset', at: toClock(e.atMs) } : { type: 'end', at: toClock(e.atMs) }),
    });
    return {
      push(frame) {
        const samples = toSamples(frame);
        pushedMs += samples.length / samplesPerMs;
        lastPushAt = clock.now();
        vad.push(samples);
      },
      close: () => vad.close(),
    };
  };
}

function converterTo16k(format: AudioFormat): (frame: Uint8Array) => Int16Array {
  const converter = new AudioConverter(format, WIDEBAND_FORMAT);
  return (frame) => converter.toSamples(frame);
}

/** The transport's bytes as PCM16 at their own rate: a view for PCM, μ-law decoded into one reused array. */
function decoder(format: AudioFormat): (frame: Uint8Array) => Int16Array {
  if (format.encoding === 'pcm16') return pcm16FromBytes;
  let scratch = new Int16Array(160);
  return (frame) => {
    if (scratch.length !== frame.length) scratch = new Int16Array(frame.length);
    return mulawDecode(frame, scratch);
  };
}

export interface CallerVoiceSourceOptions {
  /** The call's own VAD; null = none (the recognizer's events stand in). */
  factory: CallerVoiceFactory | null;
  format: AudioFormat;
  clock: Clock;
  onEvent: (event: VoiceEvent) => void;
  /** Whether the call believes the caller is speaking now. */
  speaking: () => boolean;
  onUnavailable: (err: unknown) => void;
}

/**
 * The call's VAD, whichever it is: its own (the factory's) until the recognizer says that it reports voice
 * activity itself (`voice` events: the local recognizer's Silero), then the recognizer's — one VAD per call.
 */
export class CallerVoiceSource {
  private own: CallerVoice | null = null;
  private fromRecognizer = false;
  private closed = false;

  constructor(private readonly o: CallerVoiceSourceOptions) {}

  async open(): Promise<void> {
    if (!this.o.factory) return;
    try {
      const voice = await this.o.factory({ format: this.o.format, clock: this.o.clock, onEvent: this.o.onEvent });
      if (this.closed || this.fromRecognizer) void voice.close();
      else this.own = voice;
    } catch (err) {
      this.o.onUnavailable(err);
    }
  }

  /** Hot path: one caller frame. */
  push(frame: Uint8Array): void {
    this.own?.push(frame);
  }

  /** A `voice` event from the recognizer. */
  recognizer(activity: 'ready' | 'onset' | 'end', agoMs: number): void {
    if (activity !== 'ready') return this.o.onEvent({ type: activity, at: this.o.clock.now() - agoMs });
    this.fromRecognizer = true;
    const own = this.own;
    this.own = null;
    if (own) void own.close();
    // An onset of the call's VAD that the recognizer's never saw would hold the caller "speaking" forever.
    if (this.o.speaking()) this.o.onEvent({ type: 'end', at: this.o.clock.now() });
  }

  close(): Promise<void> {
    this.closed = true;
    const own = this.own;
    this.own = null;
    return own ? own.close() : Promise.resolve();
  }
}
