import { describe, expect, it } from 'vitest';
import { createResampler, resampleOffline } from '../../src/audio/resample.js';
import { AudioConverter, convertAudio } from '../../src/audio/convert.js';
import { mulawEncode } from '../../src/audio/mulaw.js';
import { concatSamples, pcm16FromBytes, pcm16ToBytes } from '../../src/audio/pcm.js';
import { TWILIO_FORMAT, WIDEBAND_FORMAT } from '../../src/audio/format.js';

function sine(freq: number, rate: number, seconds: number, amplitude = 10000): Int16Array {
  const out = new Int16Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate));
  return out;
}

/** Amplitude of one frequency component (single-bin DFT), over the middle of the signal to skip filter warm-up. */
function amplitudeAt(samples: Int16Array, freq: number, rate: number): number {
  const start = Math.floor(samples.length * 0.2);
  const end = Math.floor(samples.length * 0.8);
  let re = 0;
  let im = 0;
  for (let i = start; i < end; i++) {
    re += samples[i]! * Math.cos((2 * Math.PI * freq * i) / rate);
    im += samples[i]! * Math.sin((2 * Math.PI * freq * i) / rate);
  }
  return (2 * Math.hypot(re, im)) / (end - start);
}

function inChunks(resampler: { process(x: Int16Array): Int16Array }, input: Int16Array, sizes: number[]): Int16Array {
  const parts: Int16Array[] = [];
  let offset = 0;
  let k = 0;
  while (offset < input.length) {
    const size = sizes[k++ % sizes.length]!;
    parts.push(resampler.process(input.subarray(offset, offset + size)));
    offset += size;
  }
  return concatSamples(...parts);
}

describe('16 kHz → 8 kHz', () => {
  it('keeps an in-band tone and removes an out-of-band one instead of aliasing it', () => {
    const down = createResampler(16000, 8000);
    const tone = down.process(sine(1000, 16000, 1));
    expect(tone.length).toBe(8000);
    expect(amplitudeAt(tone, 1000, 8000)).toBeGreaterThan(9000);
    expect(amplitudeAt(tone, 1000, 8000)).toBeLessThan(11000);

    // 6 kHz at 16 kHz would alias to 2 kHz at 8 kHz with naive decimation.
    const high = createResampler(16000, 8000).process(sine(6000, 16000, 1));
    expect(amplitudeAt(high, 2000, 8000)).toBeLessThan(100);
  });

  it('gives the same output frame by frame (odd sizes too) as in one call', () => {
    const input = sine(700, 16000, 0.5);
    const whole = createResampler(16000, 8000).process(input);
    const chunked = inChunks(createResampler(16000, 8000), input, [320, 7, 161, 1, 320]);
    expect(Array.from(chunked)).toEqual(Array.from(whole));
  });
});

describe('8 kHz → 16 kHz', () => {
  it('interpolates (no images) and preserves the tone', () => {
    const up = createResampler(8000, 16000).process(sine(1000, 8000, 1));
    expect(up.length).toBe(16000);
    expect(amplitudeAt(up, 1000, 16000)).toBeGreaterThan(9000);
    // Zero-stuffing or sample repetition leaves an image at 8000 - 1000 = 7000 Hz.
    expect(amplitudeAt(up, 7000, 16000)).toBeLessThan(150);
  });

  it('is streaming-safe', () => {
    const input = sine(450, 8000, 0.5);
    const whole = createResampler(8000, 16000).process(input);
    const chunked = inChunks(createResampler(8000, 16000), input, [160, 3, 77]);
    expect(Array.from(chunked)).toEqual(Array.from(whole));
  });
});

describe('resampleOffline', () => {
  it('converts 22050 Hz to 16000 Hz and 8000 Hz keeping the tone', () => {
    const input = sine(500, 22050, 1);
    const to16 = resampleOffline(input, 22050, 16000);
    expect(Math.abs(to16.length - 16000)).toBeLessThanOrEqual(1);
    expect(amplitudeAt(to16, 500, 16000)).toBeGreaterThan(9000);
    const to8 = resampleOffline(input, 22050, 8000);
    expect(amplitudeAt(to8, 500, 8000)).toBeGreaterThan(9000);
    // A 7 kHz tone must not fold into the 8 kHz output (it would appear at 1 kHz).
    const folded = resampleOffline(sine(7000, 22050, 1), 22050, 8000);
    expect(amplitudeAt(folded, 1000, 8000)).toBeLessThan(200);
  });
});

describe('AudioConverter', () => {
  it('converts Twilio μ-law 8k to PCM16 16k and back, frame by frame', () => {
    const original = sine(800, 8000, 0.4);
    const inbound = new AudioConverter(TWILIO_FORMAT, WIDEBAND_FORMAT);
    const outbound = new AudioConverter(WIDEBAND_FORMAT, TWILIO_FORMAT);
    const mulaw = mulawEncode(original);
    const back: number[] = [];
    for (let i = 0; i < mulaw.length; i += 160) {
      const wide = inbound.convert(mulaw.subarray(i, i + 160));
      expect(wide.length).toBe(640);
      const narrow = outbound.convert(wide);
      expect(narrow.length).toBe(160);
      back.push(...Array.from(narrow));
    }
    const decoded = new Int16Array(back.length);
    // Decode μ-law and compare the tone amplitude with the original's.
    const conv = convertAudio(Uint8Array.from(back), TWILIO_FORMAT, { encoding: 'pcm16', sampleRate: 8000 });
    decoded.set(pcm16FromBytes(conv));
    expect(amplitudeAt(decoded, 800, 8000)).toBeGreaterThan(9000);
    expect(amplitudeAt(decoded, 800, 8000)).toBeLessThan(11000);
  });

  it('returns the same bytes for identical formats', () => {
    const frame = pcm16ToBytes(sine(300, 16000, 0.02));
    expect(new AudioConverter(WIDEBAND_FORMAT, WIDEBAND_FORMAT).convert(frame)).toBe(frame);
  });
});
