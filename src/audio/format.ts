/** Audio as it crosses an interface: μ-law bytes or little-endian PCM16 samples, mono. */
export type AudioEncoding = 'mulaw' | 'pcm16';

export interface AudioFormat {
  readonly encoding: AudioEncoding;
  readonly sampleRate: 8000 | 16000;
}

export const TWILIO_FORMAT: AudioFormat = { encoding: 'mulaw', sampleRate: 8000 };
export const WIDEBAND_FORMAT: AudioFormat = { encoding: 'pcm16', sampleRate: 16000 };

/** Bytes per millisecond of audio in a format (μ-law: 1 byte/sample; PCM16: 2). */
export function bytesPerMs(format: AudioFormat): number {
  return ((format.encoding === 'mulaw' ? 1 : 2) * format.sampleRate) / 1000;
}
