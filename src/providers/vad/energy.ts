/**
 * Energy VAD: 20 ms frames, speech = level above max(absolute threshold, adaptive noise floor + margin).
 * Cheap (a few µs per frame, at the transport's own rate: no resampling), so it is the call's onset detector on
 * the cloud path, where the recognizer's words confirm or dismiss what it hears; and the fallback when the
 * Silero model cannot load. It cannot tell speech from loud non-stationary noise (a cough, a door).
 */
import { Segmentations } from './segmenter.js';
import type { VadOptions, VoiceActivityDetector } from './types.js';

export interface EnergyVadOptions extends VadOptions {
  /** Frames quieter than this are never speech. Default -45 dBFS. */
  thresholdDbfs?: number;
  /** How far above the tracked noise floor speech must be. Default 12 dB. */
  marginDb?: number;
  /** Sample rate of the pushed samples: 16000 (default) or 8000 (Twilio audio, decoded, not resampled). */
  sampleRate?: number;
}

const FRAME_MS = 20;
const FULL_SCALE_SQUARED = 32768 * 32768;

export class EnergyVad implements VoiceActivityDetector {
  readonly kind = 'energy' as const;
  private readonly segmentations: Segmentations;
  private readonly frameSamples: number;
  private readonly thresholdDbfs: number;
  private readonly marginDb: number;
  private noiseFloorDb = -70;
  private sumSquares = 0;
  private frameFill = 0;
  private frames = 0;

  constructor(options: EnergyVadOptions) {
    this.segmentations = new Segmentations(options);
    this.frameSamples = ((options.sampleRate ?? 16000) * FRAME_MS) / 1000;
    this.thresholdDbfs = options.thresholdDbfs ?? -45;
    this.marginDb = options.marginDb ?? 12;
  }

  get processedMs(): number {
    return this.frames * FRAME_MS;
  }

  /**
   * Hot path (every caller frame on the cloud path). Squares are summed as integers per stretch of a frame and
   * scaled once: the same value as summing (v / 32768)² sample by sample (every partial sum is exact in a double
   * either way), without touching the detector's fields per sample.
   */
  push(samples: Int16Array): void {
    const n = samples.length;
    let i = 0;
    while (i < n) {
      const end = Math.min(n, i + this.frameSamples - this.frameFill);
      let sum = 0;
      for (let k = i; k < end; k++) {
        const v = samples[k]!;
        sum += v * v;
      }
      this.sumSquares += sum / FULL_SCALE_SQUARED;
      this.frameFill += end - i;
      i = end;
      if (this.frameFill === this.frameSamples) this.endFrame();
    }
  }

  addSegmentation(options: VadOptions): void {
    this.segmentations.add(options);
  }

  async flush(): Promise<void> {
    this.segmentations.flush(this.processedMs);
  }

  async close(): Promise<void> {}

  private endFrame(): void {
    const db = 10 * Math.log10(this.sumSquares / this.frameSamples + 1e-12);
    this.sumSquares = 0;
    this.frameFill = 0;
    const isSpeech = db > Math.max(this.thresholdDbfs, this.noiseFloorDb + this.marginDb);
    // The floor follows quieter frames quickly and louder ones slowly, and not at all during speech.
    if (db < this.noiseFloorDb) this.noiseFloorDb += (db - this.noiseFloorDb) * 0.3;
    else if (!this.segmentations.primary.inSpeech && !isSpeech) this.noiseFloorDb += (db - this.noiseFloorDb) * 0.05;
    else if (!this.segmentations.primary.inSpeech) this.noiseFloorDb += (db - this.noiseFloorDb) * 0.002;
    const startMs = this.frames * FRAME_MS;
    this.frames++;
    this.segmentations.update(isSpeech ? 1 : 0, startMs, FRAME_MS);
  }
}
