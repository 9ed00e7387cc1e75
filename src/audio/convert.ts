/**
 * Stateful format conversion for one stream (a call's inbound or outbound audio): decode → resample → encode.
 * Keep one converter per direction per call; the resampler carries filter history between frames.
 */
import type { AudioFormat } from './format.js';
import { mulawDecode, mulawEncode } from './mulaw.js';
import { pcm16FromBytes, pcm16ToBytes } from './pcm.js';
import { createResampler, type Resampler } from './resample.js';

export class AudioConverter {
  private readonly resampler: Resampler | null;
  private readonly identity: boolean;
  /** Decoded μ-law reused across frames when a resampler copies it anyway. */
  private scratch = new Int16Array(0);

  constructor(
    readonly from: AudioFormat,
    readonly to: AudioFormat,
  ) {
    this.identity = from.encoding === to.encoding && from.sampleRate === to.sampleRate;
    this.resampler = from.sampleRate === to.sampleRate ? null : createResampler(from.sampleRate, to.sampleRate);
  }

  /** Converts one chunk of `from` bytes to `to` bytes. Identity conversions return the input itself. */
  convert(frame: Uint8Array): Uint8Array {
    if (this.identity) return frame;
    return this.encode(this.toSamplesAtTargetRate(frame));
  }

  /** Converts to PCM16 samples at the target rate (for consumers such as a VAD that want samples). */
  toSamples(frame: Uint8Array): Int16Array {
    return this.toSamplesAtTargetRate(frame);
  }

  reset(): void {
    this.resampler?.reset();
  }

  private toSamplesAtTargetRate(frame: Uint8Array): Int16Array {
    if (!this.resampler) return this.from.encoding === 'mulaw' ? mulawDecode(frame) : pcm16FromBytes(frame);
    if (this.from.encoding === 'pcm16') return this.resampler.process(pcm16FromBytes(frame));
    if (this.scratch.length < frame.length) this.scratch = new Int16Array(frame.length);
    return this.resampler.process(mulawDecode(frame, this.scratch));
  }

  private encode(samples: Int16Array): Uint8Array {
    return this.to.encoding === 'mulaw' ? mulawEncode(samples) : pcm16ToBytes(samples);
  }
}

/** Encodes PCM16 samples in a given format's encoding (the sample rate must already match). */
export function encodeSamples(samples: Int16Array, encoding: AudioFormat['encoding']): Uint8Array {
  return encoding === 'mulaw' ? mulawEncode(samples) : pcm16ToBytes(samples);
}

/** Decodes bytes of a format's encoding into PCM16 samples (a view when possible). */
export function decodeSamples(bytes: Uint8Array, encoding: AudioFormat['encoding']): Int16Array {
  return encoding === 'mulaw' ? mulawDecode(bytes) : pcm16FromBytes(bytes);
}

/** One-shot conversion of a whole clip (a fresh converter, so no history from elsewhere). */
export function convertAudio(bytes: Uint8Array, from: AudioFormat, to: AudioFormat): Uint8Array {
  return new AudioConverter(from, to).convert(bytes);
}
