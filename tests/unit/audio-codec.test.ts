import { describe, expect, it } from 'vitest';
import { MULAW_SILENCE, mulawDecode, mulawDecodeSample, mulawEncode, mulawEncodeSample } from '../../src/audio/mulaw.js';
import { floatToPcm16, pcm16FromBytes, pcm16ToBytes } from '../../src/audio/pcm.js';
import { rms, rmsDbfs } from '../../src/audio/energy.js';

describe('μ-law (G.711)', () => {
  it('matches reference code points', () => {
    expect(mulawEncodeSample(0)).toBe(0xff);
    expect(MULAW_SILENCE).toBe(0xff);
    expect(mulawDecodeSample(0xff)).toBe(0);
    expect(mulawDecodeSample(0x7f)).toBe(0);
    expect(mulawDecodeSample(0x00)).toBe(-32124);
    expect(mulawDecodeSample(0x80)).toBe(32124);
    expect(mulawEncodeSample(32767)).toBe(0x80);
    expect(mulawEncodeSample(-32768)).toBe(0x00);
    // Segment starts from the G.711 reference decoder (Sun g711.c ulaw2linear).
    const expected: Array<[number, number]> = [
      [0x10, -15996], [0x20, -7932], [0x30, -3900], [0x40, -1884], [0x50, -876], [0x60, -372], [0x70, -120],
      [0x7e, -8], [0xf0, 120], [0xfe, 8],
    ];
    for (const [byte, linear] of expected) expect(mulawDecodeSample(byte)).toBe(linear);
  });

  it('round-trips with bounded relative error and is monotonic', () => {
    let last = -Infinity;
    for (let b = 0x00; b <= 0x7f; b++) {
      // Negative half: 0x00 is the most negative, 0x7f is -0; values increase.
      const v = mulawDecodeSample(b);
      expect(v).toBeGreaterThanOrEqual(last);
      last = v;
    }
    for (let s = -32000; s <= 32000; s += 37) {
      const back = mulawDecodeSample(mulawEncodeSample(s));
      const tolerance = Math.max(8, Math.abs(s) * 0.07);
      expect(Math.abs(back - s)).toBeLessThanOrEqual(tolerance);
    }
    for (let b = 0; b < 256; b++) {
      if (b === 0x7f) continue; // -0 re-encodes as +0
      expect(mulawEncodeSample(mulawDecodeSample(b))).toBe(b);
    }
  });

  it('encodes and decodes arrays, optionally into a caller buffer', () => {
    const pcm = new Int16Array([0, 100, -100, 1000, -1000, 30000, -30000]);
    const bytes = mulawEncode(pcm);
    expect(bytes.length).toBe(pcm.length);
    const out = new Int16Array(16);
    const decoded = mulawDecode(bytes, out);
    expect(decoded.length).toBe(pcm.length);
    expect(decoded.buffer).toBe(out.buffer);
    for (let i = 0; i < pcm.length; i++) expect(Math.abs(decoded[i]! - pcm[i]!)).toBeLessThanOrEqual(Math.max(8, Math.abs(pcm[i]!) * 0.07));
  });
});

describe('PCM16 bytes', () => {
  it('views aligned bytes without copying, little-endian', () => {
    const bytes = new Uint8Array([0x01, 0x00, 0xff, 0xff, 0x00, 0x80]);
    const samples = pcm16FromBytes(bytes);
    expect(Array.from(samples)).toEqual([1, -1, -32768]);
    expect(samples.buffer).toBe(bytes.buffer);
    const back = pcm16ToBytes(samples);
    expect(back.buffer).toBe(bytes.buffer);
    expect(Array.from(back)).toEqual(Array.from(bytes));
  });

  it('copies odd-offset input and ignores a trailing odd byte', () => {
    const backing = new Uint8Array([9, 0x02, 0x00, 0x03, 0x00, 7]);
    const samples = pcm16FromBytes(backing.subarray(1));
    expect(Array.from(samples)).toEqual([2, 3]);
  });

  it('converts floats with clipping', () => {
    expect(Array.from(floatToPcm16(new Float32Array([0, 0.5, -1, 2, -2])))).toEqual([0, 16384, -32768, 32767, -32768]);
  });
});

describe('energy', () => {
  it('measures RMS of a sine and of silence', () => {
    const sine = new Int16Array(1600);
    for (let i = 0; i < sine.length; i++) sine[i] = Math.round(16384 * Math.sin((2 * Math.PI * 440 * i) / 16000));
    expect(rms(sine)).toBeCloseTo(0.5 / Math.SQRT2, 2);
    expect(rmsDbfs(sine)).toBeCloseTo(-9.03, 0);
    expect(rms(new Int16Array(160))).toBe(0);
    expect(rmsDbfs(new Int16Array(160))).toBe(-Infinity);
    expect(rms(new Int16Array(0))).toBe(0);
  });
});
