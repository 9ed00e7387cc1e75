/**
 * Energy VAD: 20 ms frames, speech = level above max(absolute threshold, adaptive noise floor + margin).
 * The fallback when the Silero model cannot load; it cannot tell speech from loud non-stationary noise.
 */
import { SpeechSegmenter } from './segmenter.js';
import type { VadOptions, VoiceActivityDetector } from './types.js';

export interface EnergyVadOptions extends VadOptions {
  /** Frames quieter than this are never speech. Default -45 dBFS. */
  thresholdDbfs?: number;
  /** How far above the tracked noise floor speech must be. Default 12 dB. */
  marginDb?: number;
}

const FRAME_SAMPLES = 320;
const FRAME_MS = 20;

export class EnergyVad implements VoiceActivityDetector {
  readonly kind = 'energy' as const;
  private readonly segmenter: SpeechSegmenter;
  private readonly onEvent: VadOptions['onEvent'];
  private readonly thresholdDbfs: number;
  private readonly marginDb: number;
  private noiseFloorDb = -70;
  private sumSquares = 0;
  private frameFill = 0;
  private frames = 0;

  constructor(options: EnergyVadOptions) {
    this.segmenter = new SpeechSegmenter(options);
    this.onEvent = options.onEvent;
    this.thresholdDbfs = options.thresholdDbfs ?? -45;
    this.marginDb = options.marginDb ?? 12;
  }

  get processedMs(): number {
    return this.frames * FRAME_MS;
  }

  push(samples: Int16Array): void {
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i]! / 32768;
      this.sumSquares += v * v;
      if (++this.frameFill === FRAME_SAMPLES) this.endFrame();
    }
  }

  async flush(): Promise<void> {
    const event = this.segmenter.flush(this.processedMs);
    if (event) this.onEvent(event);
  }

  async close(): Promise<void> {}

  private endFrame(): void {
    const db = 10 * Math.log10(this.sumSquares / FRAME_SAMPLES + 1e-12);
    this.sumSquares = 0;
    this.frameFill = 0;
    const isSpeech = db > Math.max(this.thresholdDbfs, this.noiseFloorDb + this.marginDb);
    // The floor follows quieter frames quickly and louder ones slowly, and not at all during speech.
    if (db < this.noiseFloorDb) this.noiseFloorDb += (db - this.noiseFloorDb) * 0.3;
    else if (!this.segmenter.inSpeech && !isSpeech) this.noiseFloorDb += (db - this.noiseFloorDb) * 0.05;
    else if (!this.segmenter.inSpeech) this.noiseFloorDb += (db - this.noiseFloorDb) * 0.002;
    const startMs = this.frames * FRAME_MS;
    this.frames++;
    const event = this.segmenter.update(isSpeech ? 1 : 0, startMs, FRAME_MS);
    if (event) this.onEvent(event);
  }
}
