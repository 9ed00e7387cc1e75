import { describe, expect, it } from 'vitest';
import { readWav, wavToPcm16, writeWav, WavFormatError } from '../../src/audio/wav.js';
import { Framer } from '../../src/audio/framer.js';
import { mulawEncode } from '../../src/audio/mulaw.js';
import { pcm16ToBytes } from '../../src/audio/pcm.js';
import { TWILIO_FORMAT, WIDEBAND_FORMAT } from '../../src/audio/format.js';
import { normalizeWords, wordErrorRate } from '../../src/audio/wer.js';

describe('WAV', () => {
  it('writes and reads PCM16', () => {
    const samples = new Int16Array([0, 1, -1, 32767, -32768]);
    const file = writeWav(pcm16ToBytes(samples), { encoding: 'pcm16', sampleRate: 16000 });
    expect(new TextDecoder().decode(file.subarray(0, 4))).toBe('RIFF');
    const wav = readWav(file);
    expect(wav).toMatchObject({ encoding: 'pcm16', sampleRate: 16000, channels: 1 });
    expect(Array.from(wavToPcm16(wav))).toEqual(Array.from(samples));
  });

  it('writes and reads μ-law', () => {
    const bytes = mulawEncode(new Int16Array([0, 1000, -1000]));
    const wav = readWav(writeWav(bytes, { encoding: 'mulaw', sampleRate: 8000 }));
    expect(wav).toMatchObject({ encoding: 'mulaw', sampleRate: 8000 });
    expect(Array.from(wav.data)).toEqual(Array.from(bytes));
    expect(Math.abs(wavToPcm16(wav)[1]! - 1000)).toBeLessThan(70);
  });

  it('skips extra chunks, tolerates placeholder sizes and averages stereo', () => {
    const base = writeWav(pcm16ToBytes(new Int16Array([100, 300, -100, -300])), { encoding: 'pcm16', sampleRate: 8000, channels: 2 });
    // Insert a LIST chunk (odd size, padded) between fmt and data, and set the data size to a streaming placeholder.
    const list = new Uint8Array([0x4c, 0x49, 0x53, 0x54, 3, 0, 0, 0, 1, 2, 3, 0]);
    const file = new Uint8Array(base.length + list.length);
    file.set(base.subarray(0, 36));
    file.set(list, 36);
    file.set(base.subarray(36), 36 + list.length);
    new DataView(file.buffer).setUint32(36 + list.length + 4, 0x7ffff000, true);
    const wav = readWav(file);
    expect(wav.channels).toBe(2);
    expect(Array.from(wavToPcm16(wav))).toEqual([200, -200]);
  });

  it('rejects what is not a WAV file', () => {
    expect(() => readWav(new TextEncoder().encode('hello world, not a wav'))).toThrow(WavFormatError);
  });
});

describe('Framer', () => {
  it('re-chunks arbitrary pushes into 20 ms μ-law frames', () => {
    const framer = new Framer(TWILIO_FORMAT);
    expect(framer.frameBytes).toBe(160);
    const input = new Uint8Array(500).map((_, i) => i & 0xff);
    const frames = [...framer.push(input.subarray(0, 100)), ...framer.push(input.subarray(100, 170)), ...framer.push(input.subarray(170))];
    expect(frames.map((f) => f.length)).toEqual([160, 160, 160]);
    expect(Array.from(frames[1]!)).toEqual(Array.from(input.subarray(160, 320)));
    expect(framer.bufferedBytes).toBe(20);
    const last = framer.flush()!;
    expect(last.length).toBe(160);
    expect(Array.from(last.subarray(0, 20))).toEqual(Array.from(input.subarray(480)));
    expect(last[20]).toBe(0xff);
    expect(framer.flush()).toBeNull();
  });

  it('frames PCM16 16 kHz at 640 bytes and clears on barge-in', () => {
    const framer = new Framer(WIDEBAND_FORMAT);
    expect(framer.frameBytes).toBe(640);
    expect(framer.push(new Uint8Array(1000)).length).toBe(1);
    framer.clear();
    expect(framer.flush()).toBeNull();
  });
});

describe('word error rate', () => {
  it('normalises case and punctuation', () => {
    expect(normalizeWords("Hello, World! It's 3 PM.")).toEqual(['hello', 'world', "it's", '3', 'pm']);
  });
  it('counts substitutions, insertions and deletions', () => {
    expect(wordErrorRate('book a haircut tomorrow', 'book a haircut tomorrow').wer).toBe(0);
    expect(wordErrorRate('book a haircut tomorrow', 'look a haircut').errors).toBe(2);
    expect(wordErrorRate('a b c d', 'a x b c d e').errors).toBe(2);
    expect(wordErrorRate('i would like to book', 'i would like to but the').wer).toBeCloseTo(2 / 5);
  });
});
