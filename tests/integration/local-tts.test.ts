import { mkdtempSync, readFileSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TWILIO_FORMAT, WIDEBAND_FORMAT, type AudioFormat } from '../../src/audio/format.js';
import { pcm16FromBytes } from '../../src/audio/pcm.js';
import { rms } from '../../src/audio/energy.js';
import { mulawDecode } from '../../src/audio/mulaw.js';
import { LocalTtsProvider, type LocalTtsOptions } from '../../src/providers/tts/local.js';
import type { Language } from '../../src/providers/types.js';

async function speak(phrases: string[], format: AudioFormat, language: Language = 'en', options: LocalTtsOptions = {}): Promise<{ bytes: Uint8Array; chunks: number[] }> {
  const session = await new LocalTtsProvider(options).open({ format, language });
  const turn = session.startTurn(new AbortController().signal);
  for (const p of phrases) turn.pushText(p);
  turn.end();
  const parts: Uint8Array[] = [];
  for await (const chunk of turn.audio) parts.push(chunk);
  await session.close();
  return { bytes: Buffer.concat(parts), chunks: parts.map((p) => p.length) };
}

describe('local TTS with flite', () => {
  it('produces Twilio μ-law audio of a plausible length, in 200 ms chunks', async () => {
    const { bytes, chunks } = await speak(['Hello, thanks for calling. ', 'How can I help you today?'], TWILIO_FORMAT);
    const seconds = bytes.length / 8000;
    expect(seconds).toBeGreaterThan(1.5);
    expect(seconds).toBeLessThan(8);
    expect(Math.max(...chunks)).toBe(1600);
    expect(rms(mulawDecode(bytes))).toBeGreaterThan(0.01);
  });

  it('emits phrases in the order pushed even when synthesized concurrently', async () => {
    const a = (await speak(['Your appointment is confirmed for Tuesday.'], WIDEBAND_FORMAT)).bytes;
    const b = (await speak(['Bye.'], WIDEBAND_FORMAT)).bytes;
    // The short phrase finishes first in parallel; it must still come second.
    const both = (await speak(['Your appointment is confirmed for Tuesday.', 'Bye.'], WIDEBAND_FORMAT, 'en', { maxConcurrentProcesses: 2 })).bytes;
    expect(both.length).toBe(a.length + b.length);
    expect(Buffer.compare(Buffer.from(both.subarray(0, a.length)), Buffer.from(a))).toBe(0);
    expect(Buffer.compare(Buffer.from(both.subarray(a.length)), Buffer.from(b))).toBe(0);
  });

  it('accepts text pushed after earlier audio was read, and ignores punctuation-only pushes', async () => {
    const session = await new LocalTtsProvider().open({ format: WIDEBAND_FORMAT, language: 'en' });
    const turn = session.startTurn(new AbortController().signal);
    const iterator = turn.audio[Symbol.asyncIterator]();
    turn.pushText('One.');
    const first = await iterator.next();
    expect(first.done).toBe(false);
    turn.pushText(' ... ');
    turn.pushText('Two.');
    turn.end();
    let more = 0;
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) more += r.value.length;
    expect(more).toBeGreaterThan(0);
  });
});

describe('local TTS with espeak-ng', () => {
  it('speaks Russian at 16 kHz PCM (resampled from 22050 Hz)', async () => {
    const { bytes } = await speak(['Здравствуйте! Чем могу помочь?'], WIDEBAND_FORMAT, 'ru');
    const samples = pcm16FromBytes(bytes);
    expect(samples.length / 16000).toBeGreaterThan(1);
    expect(rms(samples)).toBeGreaterThan(0.01);
  });

  it('speaks English with espeak when configured', async () => {
    const provider = new LocalTtsProvider({ englishEngine: 'espeak' });
    expect(provider.voiceFor('en')).toMatchObject({ engine: 'espeak', voice: 'en-us' });
    const { bytes } = await speak(['Hello there.'], TWILIO_FORMAT, 'en', { englishEngine: 'espeak' });
    expect(bytes.length).toBeGreaterThan(4000);
  });
});

/** A stand-in synthesizer that records its pid and hangs, so tests can see concurrency and kills. */
function hangingSynth(): { binary: string; pids: () => number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'parley-tts-'));
  const binary = join(dir, 'fake-flite.sh');
  writeFileSync(binary, `#!/bin/sh\necho $$ >> "${dir}/pids"\nexec sleep 30\n`);
  chmodSync(binary, 0o755);
  const file = join(dir, 'pids');
  return { binary, pids: () => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map(Number) : []) };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 20));
}

describe('local TTS process control', () => {
  it('limits concurrent processes and kills them all on cancel', async () => {
    const fake = hangingSynth();
    const session = await new LocalTtsProvider({ fliteBinary: fake.binary, maxConcurrentProcesses: 2 }).open({ format: TWILIO_FORMAT, language: 'en' });
    const turn = session.startTurn(new AbortController().signal);
    for (let i = 0; i < 5; i++) turn.pushText(`Phrase number ${i}.`);
    turn.end();
    await until(() => fake.pids().length >= 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.pids()).toHaveLength(2);
    const received: Uint8Array[] = [];
    const reading = (async () => {
      for await (const chunk of turn.audio) received.push(chunk);
    })();
    await turn.cancel();
    await turn.cancel();
    await reading;
    expect(received).toEqual([]);
    await until(() => fake.pids().every((pid) => !alive(pid)));
    // Queued phrases never start after a cancel.
    await new Promise((r) => setTimeout(r, 200));
    expect(fake.pids()).toHaveLength(2);
  });

  it('aborting the turn signal cancels it', async () => {
    const fake = hangingSynth();
    const session = await new LocalTtsProvider({ fliteBinary: fake.binary }).open({ format: TWILIO_FORMAT, language: 'en' });
    const controller = new AbortController();
    const turn = session.startTurn(controller.signal);
    turn.pushText('Hello.');
    await until(() => fake.pids().length === 1);
    controller.abort();
    const chunks: Uint8Array[] = [];
    for await (const c of turn.audio) chunks.push(c);
    expect(chunks).toEqual([]);
    await until(() => !alive(fake.pids()[0]!));
  });

  it('reports a missing binary as an unavailable error from the audio stream', async () => {
    const session = await new LocalTtsProvider({ fliteBinary: '/nonexistent/flite' }).open({ format: TWILIO_FORMAT, language: 'en' });
    const turn = session.startTurn(new AbortController().signal);
    turn.pushText('Hello.');
    turn.end();
    await expect(async () => {
      for await (const _ of turn.audio) void _;
    }).rejects.toMatchObject({ code: 'PARLEY_ERR_UNAVAILABLE' });
  });
});
