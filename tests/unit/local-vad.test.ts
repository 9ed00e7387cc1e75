import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readWav, wavToPcm16 } from '../../src/audio/wav.js';
import { createVad, resetVadCache } from '../../src/providers/vad/create.js';
import type { VadEvent, VoiceActivityDetector } from '../../src/providers/vad/types.js';
import { concatSamples } from '../../src/audio/pcm.js';

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

const concat = concatSamples;

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

  it('segments the same probabilities a second way with addSegmentation (quick onset, short end), unflushed', async () => {
    const main: VadEvent[] = [];
    const quick: VadEvent[] = [];
    const vad = await createVad({ engine, onEvent: (e) => main.push(e), minSilenceMs: 2000 });
    vad.addSegmentation({ minSpeechMs: 64, minSilenceMs: 200, onEvent: (e) => quick.push(e) });
    // Two sentences 700 ms apart: one utterance for the 2 s segmentation, two or more bursts for the 200 ms one.
    const word = speech('hours-rms.wav');
    const audio = concat(silence(500), word, silence(700), word, silence(300));
    for (let i = 0; i < audio.length; i += 320) vad.push(audio.subarray(i, i + 320));
    while (vad.processedMs < (audio.length / 16) - 40) await new Promise((r) => setImmediate(r));
    const quickBeforeFlush = quick.length;
    await vad.flush();
    await vad.close();
    expect(main.map((e) => e.type)).toEqual(['speech_start', 'speech_end']);
    expect(quick.filter((e) => e.type === 'speech_start').length).toBeGreaterThanOrEqual(2);
    // The quick onset is never later than the main one.
    expect(quick[0]!.atMs).toBeLessThanOrEqual(main[0]!.atMs);
    // flush() closes the main segment only.
    expect(quick.length).toBe(quickBeforeFlush);
  });
});

describe('energy VAD at 8 kHz (Twilio audio decoded, not resampled)', () => {
  it('finds the same utterance as at 16 kHz', async () => {
    const talk = speech('book-slt.wav');
    const audio16 = concat(silence(1000), talk, silence(1000));
    const audio8 = new Int16Array(audio16.length / 2);
    for (let i = 0; i < audio8.length; i++) audio8[i] = audio16[2 * i]!;
    const events: VadEvent[] = [];
    const vad = await createVad({ engine: 'energy', energy: { sampleRate: 8000 }, onEvent: (e) => events.push(e), minSilenceMs: 600 });
    for (let i = 0; i < audio8.length; i += 160) vad.push(audio8.subarray(i, i + 160));
    await vad.flush();
    expect(events.map((e) => e.type)).toEqual(['speech_start', 'speech_end']);
    expect(Math.abs(events[0]!.atMs - 1000)).toBeLessThan(300);
    expect(vad.processedMs).toBe(Math.floor(audio8.length / 160) * 20);
  });
});

describe('one Silero model per process', () => {
  it('serves many detectors from one loaded model, each with its own state', async () => {
    const word = speech('hours-rms.wav');
    const a: VadEvent[] = [];
    const b: VadEvent[] = [];
    const vadA = await createVad({ onEvent: (e) => a.push(e), minSilenceMs: 300 });
    const vadB = await createVad({ onEvent: (e) => b.push(e), minSilenceMs: 300 });
    expect((vadA as unknown as { session: unknown }).session).toBe((vadB as unknown as { session: unknown }).session);
    // Interleaved: A hears speech while B hears silence, then the other way round.
    const speechFirst = concat(silence(300), word, silence(1500));
    const speechLater = concat(silence(300 + (word.length / 16) + 200), word, silence(300));
    for (let i = 0; i < Math.max(speechFirst.length, speechLater.length); i += 320) {
      if (i < speechFirst.length) vadA.push(speechFirst.subarray(i, i + 320));
      if (i < speechLater.length) vadB.push(speechLater.subarray(i, i + 320));
    }
    await Promise.all([vadA.flush(), vadB.flush()]);
    await vadA.close();
    // A closed detector leaves the shared model usable.
    const c: VadEvent[] = [];
    const vadC = await createVad({ onEvent: (e) => c.push(e), minSilenceMs: 300 });
    for (let i = 0; i < speechFirst.length; i += 320) vadC.push(speechFirst.subarray(i, i + 320));
    await vadC.flush();
    await Promise.all([vadB.close(), vadC.close()]);
    expect(a.map((e) => e.type)).toEqual(['speech_start', 'speech_end']);
    expect(b.map((e) => e.type)).toEqual(['speech_start', 'speech_end']);
    expect(c).toEqual(a);
    expect(b[0]!.atMs).toBeGreaterThan(a[1]!.atMs);
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

describe('silero VAD over a long stream', () => {
  it('still hears a short, soft onset after minutes of turns (its state is reset after a second of silence)', async () => {
    // A call: a question, the bot answering (silence on the caller's line), the caller cutting in with "No, …".
    const question = speech('hours-rms.wav');
    const no = speech('no-slt.wav');
    let firstVoiced = 0;
    while (Math.abs(no[firstVoiced]!) < 500) firstVoiced++;
    const parts: Int16Array[] = [];
    const cutIns: number[] = [];
    let at = 0;
    for (let t = 0; t < 30; t++) {
      for (const p of [silence(2000), question, silence(1500 + ((t * 373) % 2000))]) {
        parts.push(p);
        at += p.length;
      }
      cutIns.push(((at + firstVoiced) / 16000) * 1000);
      parts.push(no, silence(1000));
      at += no.length + 16000;
    }
    const onsets: number[] = [];
    const vad = await createVad({ engine: 'silero', minSpeechMs: 64, minSilenceMs: 200, onEvent: (e) => e.type === 'speech_start' && onsets.push(e.atMs) });
    expect(vad.kind).toBe('silero');
    const audio = concat(...parts);
    for (let i = 0; i < audio.length; i += 320) vad.push(audio.subarray(i, i + 320));
    await vad.flush();
    await vad.close();
    // Each cut-in is heard from its "No", not from "I meant" half a second later.
    const delays = cutIns.map((ms) => Math.round((onsets.find((o) => o > ms - 200) ?? Infinity) - ms));
    const late = delays.filter((d) => d > 150);
    expect(late).toEqual([]);
  });
});

