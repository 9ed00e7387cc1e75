/**
 * Turns per-frame speech probabilities into speech start/end events with hysteresis, a minimum speech length
 * (misfire rejection) and a minimum silence length (end of speech).
 */
import type { VadEvent, VadOptions } from './types.js';

export class SpeechSegmenter {
  private readonly positive: number;
  private readonly negative: number;
  private readonly minSpeechMs: number;
  private readonly minSilenceMs: number;
  private speaking = false;
  private candidateStartMs = -1;
  private candidateSpeechMs = 0;
  private silenceStartMs = -1;

  constructor(options: Omit<VadOptions, 'onEvent'>) {
    this.positive = options.positiveThreshold ?? 0.5;
    this.negative = Math.min(options.negativeThreshold ?? 0.35, this.positive);
    this.minSpeechMs = options.minSpeechMs ?? 200;
    this.minSilenceMs = options.minSilenceMs ?? 600;
  }

  get inSpeech(): boolean {
    return this.speaking;
  }

  /** Feeds one frame's probability; returns the event it causes, if any. */
  update(probability: number, frameStartMs: number, frameMs: number): VadEvent | null {
    const frameEndMs = frameStartMs + frameMs;
    if (!this.speaking) {
      if (probability >= this.positive) {
        if (this.candidateStartMs < 0) {
          this.candidateStartMs = frameStartMs;
          this.candidateSpeechMs = 0;
        }
        this.candidateSpeechMs += frameMs;
        this.silenceStartMs = -1;
        if (this.candidateSpeechMs >= this.minSpeechMs) {
          this.speaking = true;
          return { type: 'speech_start', atMs: this.candidateStartMs };
        }
      } else if (this.candidateStartMs >= 0 && probability < this.negative) {
        if (this.silenceStartMs < 0) this.silenceStartMs = frameStartMs;
        // A short burst followed by silence was a misfire; forget it.
        if (frameEndMs - this.silenceStartMs >= Math.min(this.minSilenceMs, 300)) this.resetCandidate();
      }
      return null;
    }
    if (probability >= this.positive) {
      this.silenceStartMs = -1;
    } else if (probability < this.negative) {
      if (this.silenceStartMs < 0) this.silenceStartMs = frameStartMs;
      if (frameEndMs - this.silenceStartMs >= this.minSilenceMs) return this.end(this.silenceStartMs);
    }
    return null;
  }

  /** Ends an open segment (stream end or forced finalize). */
  flush(nowMs: number): VadEvent | null {
    if (!this.speaking) {
      this.resetCandidate();
      return null;
    }
    return this.end(this.silenceStartMs >= 0 ? this.silenceStartMs : nowMs);
  }

  private end(atMs: number): VadEvent {
    const event: VadEvent = { type: 'speech_end', atMs, startMs: this.candidateStartMs };
    this.speaking = false;
    this.resetCandidate();
    return event;
  }

  private resetCandidate(): void {
    this.candidateStartMs = -1;
    this.candidateSpeechMs = 0;
    this.silenceStartMs = -1;
  }
}

/** A detector's segmentations: the primary one and any added with addSegmentation(), fed the same probabilities. */
export class Segmentations {
  readonly primary: SpeechSegmenter;
  private readonly extra: { segmenter: SpeechSegmenter; onEvent: VadOptions['onEvent'] }[] = [];

  constructor(private readonly options: VadOptions) {
    this.primary = new SpeechSegmenter(options);
  }

  add(options: VadOptions): void {
    this.extra.push({ segmenter: new SpeechSegmenter(options), onEvent: options.onEvent });
  }

  update(probability: number, frameStartMs: number, frameMs: number): void {
    const event = this.primary.update(probability, frameStartMs, frameMs);
    if (event) this.options.onEvent(event);
    for (const x of this.extra) {
      const e = x.segmenter.update(probability, frameStartMs, frameMs);
      if (e) x.onEvent(e);
    }
  }

  /** Closes the primary segmentation's open segment (stream end or forced finalize). */
  flush(nowMs: number): void {
    const event = this.primary.flush(nowMs);
    if (event) this.options.onEvent(event);
  }
}
