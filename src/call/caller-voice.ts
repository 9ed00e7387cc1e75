/**
 * The caller's voice as the call loop sees it: onset and end of speech, in clock time, from a VAD running on
 * the caller's audio (Silero, or the energy VAD where its model cannot load). Tuned to react: 64 ms of speech
 * is an onset (the bot goes quiet; words decide later whether it was an interruption), 200 ms of silence is an
 * end of speech (the end-of-turn rules decide whether the caller is done).
 * Hot path: push() converts the frame (no copy for 16 kHz PCM) and queues it for the VAD; no logging, no timers.
 */
import type { AudioFormat } from '../audio/format.js';
import { AudioConverter } from '../audio/convert.js';
import { WIDEBAND_FORMAT } from '../audio/format.js';
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
  engine?: 'silero' | 'energy';
  /** Speech this long is an onset. Default 64 ms (two Silero windows). */
  onsetMs?: number;
  /** Silence this long ends speech. Default 200 ms. */
  endSilenceMs?: number;
}

/** The default: a local VAD per call. */
export function localCallerVoice(settings: LocalVoiceSettings = {}): CallerVoiceFactory {
  return async ({ format, clock, onEvent, logger }) => {
    const converter = new AudioConverter(format, WIDEBAND_FORMAT);
    let pushedMs = 0;
    let lastPushAt = 0;
    // Audio ms → clock: the frame holding audio ms `t` arrived about (pushedMs - t) before the latest frame.
    const toClock = (atMs: number): number => lastPushAt - Math.max(0, pushedMs - atMs);
    const vad = await createVad({
      engine: settings.engine ?? 'silero',
      positiveThreshold: 0.5,
      minSpeechMs: settings.onsetMs ?? 64,
      minSilenceMs: settings.endSilenceMs ?? 200,
      ...(logger ? { logger } : {}),
      onEvent: (e) => onEvent(e.type === 'speech_start' ? { type: 'onset', at: toClock(e.atMs) } : { type: 'end', at: toClock(e.atMs) }),
    });
    return {
      push(frame) {
        const samples = converter.toSamples(frame);
        pushedMs += samples.length / 16;
        lastPushAt = clock.now();
        vad.push(samples);
      },
      close: () => vad.close(),
    };
  };
}
