import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readWav, wavToPcm16 } from '../../src/audio/wav.js';
import { createVad, resetVadCache } from '../../src/providers/vad/create.js';
import type { VadEvent, VoiceActivityDetector } from '../../src/providers/vad/types.js';

const speech = (name: string): Int16Array =>
  wavToPcm16(readWav(readFileSync(fileURLToPath(new URL(`../fixtures/speech/${name}`, import.meta.url)))));

/** Deterministic white noise (LCG) at a given RMS level in dBFS. */
function noise(samples: number, dbfs: number, seed = 1): Int16Array {
  const out = new Int16Array(samples);
  const amplitude = 32768 * 10 ** (dbfs / 20) * Math.sqrt(3);
  let s = seed;
  for (let i = 0; i < samples; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = Math.round(((s / 0x7fffffff) * 2 - 1) * amplitude);
  }
  return out;
}

function concat(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Feeds audio in 20 ms frames, like a call does, and collects events. */
async function run(engine: 'silero' | 'energy', audio: Int16Array, modelPath?: string): Promise<{ events: VadEvent[]; vad: VoiceActivityDetector }> {
  const events: VadEvent[] = [];
  const vad = await createVad({ engine, modelPath, onEvent: (e) => events.push(e), minSilenceMs: 600 });
  for (let i = 0; i < audio.length; i += 320) vad.push(audio.subarray(i, i + 320));
  await vad.flush();
  await vad.close();
  return { events, vad };
}

const silence = (ms: number): Int16Array => new Int16Array(ms * 16);

afterEach(() => resetVadCache());

describe.each(['silero', 'energy'] as const)('%s VAD', (engine) => {
  it('finds two utterances separated by silence, at the right times', async () => {
    const first = speech('book-slt.wav');
    const second = speech('hours-rms.wav');
    const audio = concat(silence(1000), first, silence(1500), second, silence(1000));
    const { events, vad } = await run(engine, audio);
    expect(vad.kind).toBe(engine);
    expect(events.map((e) => e.type)).toEqual(['speech_start', 'speech_end', 'speech_start', 'speech_end']);
    const firstMs = (first.length / 16000) * 1000;
    const secondStart = 1000 + firstMs + 1500;
    const secondEnd = secondStart + (second.length / 16000) * 1000;
    // Synthetic speech has ~100 ms of lead-in/out silence inside the files; allow 300 ms.
    expect(Math.abs(events[0]!.atMs - 1000)).toBeLessThan(300);
    expect(Math.abs(events[1]!.atMs - (1000 + firstMs))).toBeLessThan(300);
    expect(Math.abs(events[2]!.atMs - secondStart)).toBeLessThan(300);
    expect(Math.abs(events[3]!.atMs - secondEnd)).toBeLessThan(300);
    expect(events[3]).toMatchObject({ startMs: events[2]!.atMs });
  });

  it('stays quiet on digital silence', async () => {
    const { events } = await run(engine, silence(3000));
    expect(events).toEqual([]);
  });
});

describe('silero VAD specifically', () => {
  it('ignores steady background noise that is louder than the energy threshold', async () => {
    const { events } = await run('silero', noise(16000 * 3, -35));
    expect(events).toEqual([]);
  });

  it('still finds speech over that noise', async () => {
    const talk = speech('hours-rms.wav');
    const audio = concat(noise(16000, -35, 3), talk, noise(16000, -35, 5));
    const mixed = new Int16Array(audio.length);
    const bed = noise(audio.length, -40, 9);
    for (let i = 0; i < audio.length; i++) mixed[i] = Math.max(-32768, Math.min(32767, audio[i]! + bed[i]!));
    const { events } = await run('silero', mixed);
    expect(events.filter((e) => e.type === 'speech_start').length).toBeGreaterThanOrEqual(1);
  });
});

describe('fallback', () => {
  it('uses the energy VAD and warns once when the model cannot load', async () => {
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m) };
    const a = await createVad({ modelPath: '/nonexistent/model.onnx', logger, onEvent: () => undefined });
    const b = await createVad({ modelPath: '/nonexistent/model.onnx', logger, onEvent: () => undefined });
    expect(a.kind).toBe('energy');
    expect(b.kind).toBe('energy');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/energy VAD/);
  });
});
