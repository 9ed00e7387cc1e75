/** Voice activity detection on 16 kHz PCM16 mono audio. */

export type VadEvent =
  /** Speech began at `atMs` (ms of audio since the detector started). */
  | { type: 'speech_start'; atMs: number }
  /** Speech ended at `atMs` (where the trailing silence began); `startMs` repeats the matching start. */
  | { type: 'speech_end'; atMs: number; startMs: number };

export interface VadOptions {
  /** Probability at or above which a frame counts as speech. Default 0.5. */
  positiveThreshold?: number;
  /** Probability below which a frame counts as silence (hysteresis). Default 0.35. */
  negativeThreshold?: number;
  /** Speech shorter than this is a misfire (no event). Default 200 ms. */
  minSpeechMs?: number;
  /** Silence needed to end a speech segment. Default 600 ms. */
  minSilenceMs?: number;
  /** Called in audio order; keep it cheap (it runs on the audio path). */
  onEvent: (event: VadEvent) => void;
}

/** What the VAD needs from a logger (pino's logger fits). */
export interface VadLogger {
  warn(message: string): void;
}

export interface VoiceActivityDetector {
  readonly kind: 'silero' | 'energy';
  /** Hot path: queue 16 kHz samples. The detector copies what it keeps; the caller may reuse the array. */
  push(samples: Int16Array): void;
  /** Processes everything queued and closes an open speech segment. */
  flush(): Promise<void>;
  /** Ms of audio processed so far. */
  readonly processedMs: number;
  /**
   * Another segmentation of the same per-frame speech probabilities, with its own thresholds and events (the local
   * recognizer cuts utterances on 600 ms of silence and reports quick onsets for barge-in from one inference).
   * flush() does not close its open segment.
   */
  addSegmentation(options: VadOptions): void;
  close(): Promise<void>;
}
