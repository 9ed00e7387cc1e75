/**
 * A client that plays the bot's audio but never echoes marks (a web client written without them): its audio must
 * flow at real time. The clock stands in for each missing mark after a grace; once it has done so on a call where
 * no mark ever came back, the call's later slices count as played at their play-out — one wait of the grace in
 * the first turn, not one per 400 ms of lead (which paced such a client at about an eighth of real time).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MarkEchoes, Playback } from '../../src/call/playback.js';
import { systemClock } from '../../src/call/types.js';
import type { TtsSession } from '../../src/providers/types.js';
import { MemoryTransport } from '../helpers/memory-transport.js';
import { ScriptedTts } from '../helpers/scripted-providers.js';

/** 5 s of speech: 50 words of 100 ms (μ-law 8 kHz), synthesised at once. */
const FIVE_SECONDS = Array.from({ length: 50 }, (_, i) => `w${i}`).join(' ');
const GRACE_MS = 3000;

async function openTts(): Promise<TtsSession> {
  return new ScriptedTts({ firstAudioMs: 1, chunkMs: 0, bytesPerWord: 800 }).open({ format: new MemoryTransport().outputFormat, language: 'en' });
}

/** Plays one 5 s turn on `transport`; resolves with how long it took to count as played. */
async function playTurn(transport: MemoryTransport, echoes: MarkEchoes, id: number): Promise<{ ms: number; result: string }> {
  const started = Date.now();
  const p = new Playback({
    tts: await openTts(), transport, clock: systemClock, signal: new AbortController().signal,
    markPrefix: `t${id}`, markGraceMs: GRACE_MS, markEchoes: echoes,
  });
  current = p;
  p.say(FIVE_SECONDS);
  p.finish();
  let result: string | null = null;
  void p.done.then((r) => (result = r));
  for (let waited = 0; result === null && waited < 120_000; waited += 100) await vi.advanceTimersByTimeAsync(100);
  return { ms: Date.now() - started, result: result ?? 'not done in 120 s' };
}

let current: Playback | null = null;
function transport(echoesMarks: boolean): MemoryTransport {
  const t = new MemoryTransport();
  t.echoesMarks = echoesMarks;
  t.attach({ onAudio: () => {}, onDtmf: () => {}, onText: () => {}, onClose: () => {}, onMark: (name) => void current?.onMark(name) });
  return t;
}

/** The longest wait between two audio sends after `from` (ms). */
function longestGap(t: MemoryTransport, from: number): number {
  const at = t.sent.filter((s) => s.type === 'audio' && s.at >= from).map((s) => s.at);
  return at.slice(1).reduce((worst, a, i) => Math.max(worst, a - at[i]!), 0);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
  current = null;
});

describe('a client that never echoes marks', () => {
  it('hears the first turn at real time after one grace, and every later turn at real time', async () => {
    const t = transport(false);
    const echoes = new MarkEchoes();
    const first = await playTurn(t, echoes, 1);
    expect(first.result).toBe('played');
    expect(echoes.absent).toBe(true);
    // 5 s of audio plus the one grace (and a slice or two of rounding) — not ~40 s.
    expect(first.ms).toBeGreaterThanOrEqual(5000);
    expect(first.ms).toBeLessThanOrEqual(5000 + GRACE_MS + 300);
    const secondFrom = Date.now();
    const second = await playTurn(t, echoes, 2);
    expect(second.result).toBe('played');
    expect(second.ms).toBeLessThanOrEqual(5000 + 300);
    expect(longestGap(t, secondFrom)).toBeLessThanOrEqual(150);
  });

  it('a client that echoes marks is paced by them, and one late echo later does not turn the grace off', async () => {
    const t = transport(true);
    const echoes = new MarkEchoes();
    const first = await playTurn(t, echoes, 1);
    expect(first.result).toBe('played');
    expect(echoes).toMatchObject({ seen: true, absent: false });
    expect(first.ms).toBeLessThanOrEqual(5000 + 300);
    // Its marks stop coming for a while (a network stall): the grace still applies to them.
    t.echoesMarks = false;
    const second = await playTurn(t, echoes, 2);
    expect(second.result).toBe('played');
    expect(echoes.absent).toBe(false);
    expect(second.ms).toBeGreaterThan(5000 + GRACE_MS);
  });

  it('a client taken for markless that then echoes a mark is paced by its marks again', async () => {
    const t = transport(false);
    const echoes = new MarkEchoes();
    await playTurn(t, echoes, 1);
    expect(echoes.absent).toBe(true);
    t.echoesMarks = true;
    const second = await playTurn(t, echoes, 2);
    expect(second.result).toBe('played');
    expect(echoes).toMatchObject({ seen: true, absent: false });
  });
});
