import { describe, expect, it } from 'vitest';
import { mulawDecode } from '../../src/audio/mulaw.js';
import { CallerAudioTail } from '../../src/call/caller-audio-tail.js';
import type { Clock } from '../../src/call/types.js';

/** The tail keeps the transport's bytes in a ring and decodes them only when read: check it against the plain answer. */
describe('the caller audio tail, frame by frame', () => {
  const clock: Clock = { now: () => 0, setTimeout: () => 0, clearTimeout: () => {} };

  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  }

  it('holds the last 4.5 s of μ-law frames of any size, decoded, across the ring boundary', () => {
    const next = rng(3);
    const tail = new CallerAudioTail({ encoding: 'mulaw', sampleRate: 8000 }, clock);
    const all: number[] = [];
    for (let k = 0; k < 400; k++) {
      // Mostly 20 ms frames, some odd sizes, and now and then one longer than the whole ring.
      const size = k % 97 === 50 ? 50_000 : next() < 0.8 ? 160 : 1 + Math.floor(next() * 700);
      const frame = Uint8Array.from({ length: size }, () => Math.floor(next() * 256));
      tail.push(frame);
      all.push(...mulawDecode(frame));
      if (k % 7 === 0) {
        const kept = Math.min(all.length, 36_000);
        expect([...tail.endingAt(0, 9000)]).toEqual(all.slice(all.length - kept));
        expect([...tail.endingAt(0, 100)]).toEqual(all.slice(all.length - Math.min(800, kept)));
      }
    }
  });

  it('holds PCM16 frames as samples, ignoring a trailing odd byte as before', () => {
    const next = rng(5);
    const tail = new CallerAudioTail({ encoding: 'pcm16', sampleRate: 16000 }, clock);
    const all: number[] = [];
    for (let k = 0; k < 600; k++) {
      const size = next() < 0.8 ? 640 : 1 + Math.floor(next() * 2000);
      const frame = Uint8Array.from({ length: size }, () => Math.floor(next() * 256));
      tail.push(frame);
      const view = new DataView(frame.buffer);
      for (let i = 0; i + 1 < size; i += 2) all.push(view.getInt16(i, true));
      if (k % 10 === 0) expect([...tail.endingAt(0, 9000)]).toEqual(all.slice(Math.max(0, all.length - 72_000)));
    }
  });
});
