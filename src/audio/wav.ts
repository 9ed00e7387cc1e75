/**
 * WAV (RIFF) reading and writing for mono/stereo PCM16 and μ-law. Reading skips unknown chunks (LIST, fact, …)
 * and tolerates streaming headers whose sizes are placeholders (espeak-ng --stdout writes 0x7ffff…).
 */
import { mulawDecode } from './mulaw.js';

export type WavEncoding = 'pcm16' | 'mulaw';

export interface WavAudio {
  encoding: WavEncoding;
  sampleRate: number;
  channels: number;
  /** The raw sample bytes of the data chunk (a view into the input). */
  data: Uint8Array;
}

const FORMAT_PCM = 1;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

export class WavFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WavFormatError';
  }
}

function tag(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(bytes[offset]!, bytes[offset + 1]!, bytes[offset + 2]!, bytes[offset + 3]!);
}

export function readWav(bytes: Uint8Array): WavAudio {
  if (bytes.length < 12 || tag(bytes, 0) !== 'RIFF' || tag(bytes, 8) !== 'WAVE') {
    throw new WavFormatError('not a RIFF/WAVE file');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 12;
  let fmt: { encoding: WavEncoding; sampleRate: number; channels: number } | null = null;
  while (offset + 8 <= bytes.length) {
    const id = tag(bytes, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.length) throw new WavFormatError('truncated fmt chunk');
      let formatTag = view.getUint16(body, true);
      const channels = view.getUint16(body + 2, true);
      const sampleRate = view.getUint32(body + 4, true);
      const bits = view.getUint16(body + 14, true);
      if (formatTag === FORMAT_EXTENSIBLE && size >= 40) formatTag = view.getUint16(body + 24, true);
      if (formatTag === FORMAT_PCM && bits === 16) fmt = { encoding: 'pcm16', sampleRate, channels };
      else if (formatTag === FORMAT_MULAW && bits === 8) fmt = { encoding: 'mulaw', sampleRate, channels };
      else throw new WavFormatError(`unsupported WAV format tag ${formatTag} with ${bits} bits`);
    } else if (id === 'data') {
      if (!fmt) throw new WavFormatError('data chunk before fmt chunk');
      // Placeholder sizes from streaming writers overrun the buffer: take what is there.
      const end = Math.min(bytes.length, body + size);
      let data = bytes.subarray(body, end);
      if (fmt.encoding === 'pcm16' && data.length % 2 === 1) data = data.subarray(0, data.length - 1);
      return { ...fmt, data };
    }
    // Chunks are padded to an even size.
    offset = body + size + (size & 1);
  }
  throw new WavFormatError('no data chunk');
}

/** The file's audio as mono PCM16 samples (μ-law decoded, channels averaged). */
export function wavToPcm16(wav: WavAudio): Int16Array {
  let samples: Int16Array;
  if (wav.encoding === 'mulaw') samples = mulawDecode(wav.data);
  else {
    samples = new Int16Array(wav.data.length >> 1);
    new Uint8Array(samples.buffer).set(wav.data.subarray(0, samples.length * 2));
  }
  if (wav.channels <= 1) return samples;
  const frames = Math.floor(samples.length / wav.channels);
  const mono = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < wav.channels; c++) sum += samples[i * wav.channels + c]!;
    mono[i] = Math.round(sum / wav.channels);
  }
  return mono;
}

/** A canonical WAV file around raw sample bytes (PCM16 LE or μ-law), mono unless told otherwise. */
export function writeWav(data: Uint8Array, options: { encoding: WavEncoding; sampleRate: number; channels?: number }): Uint8Array {
  const channels = options.channels ?? 1;
  const mulaw = options.encoding === 'mulaw';
  const bytesPerSample = mulaw ? 1 : 2;
  const fmtSize = mulaw ? 18 : 16;
  const factSize = mulaw ? 12 : 0;
  const padded = data.length + (data.length & 1);
  const headerSize = 12 + 8 + fmtSize + factSize + 8;
  const out = new Uint8Array(headerSize + padded);
  const view = new DataView(out.buffer);
  const ascii = (offset: number, text: string): void => {
    for (let i = 0; i < 4; i++) out[offset + i] = text.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, out.length - 8, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, fmtSize, true);
  view.setUint16(20, mulaw ? FORMAT_MULAW : FORMAT_PCM, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, options.sampleRate, true);
  view.setUint32(28, options.sampleRate * channels * bytesPerSample, true);
  view.setUint16(32, channels * bytesPerSample, true);
  view.setUint16(34, bytesPerSample * 8, true);
  let offset = 36;
  if (mulaw) {
    view.setUint16(offset, 0, true);
    offset += 2;
    ascii(offset, 'fact');
    view.setUint32(offset + 4, 4, true);
    view.setUint32(offset + 8, Math.floor(data.length / channels), true);
    offset += 12;
  }
  ascii(offset, 'data');
  view.setUint32(offset + 4, data.length, true);
  out.set(data, offset + 8);
  return out;
}
