/**
 * Playback's TTS deadline, for any provider: a phrase with no first audio within `firstAudioMs`, or no next chunk
 * within `audioIdleMs` while the provider has not ended it, fails the playback with TtsFailure and cancels the
 * provider's turn — even a provider whose stream never ends on cancel. Only the wait on the provider counts: audio
 * held back by the caller's pace (a pause, a backlog) never trips it, and one timer serves a whole phrase.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Playback, TtsFailure, type PlaybackOptions } from '../../src/call/playback.js';
import { systemClock, type Clock } from '../../src/call/types.js';
import type { TtsSession, TtsTurn } from '../../src/providers/types.js';
import { MemoryTransport } from '../helpers/memory-transport.js';

/** 100 ms of μ-law 8 kHz. */
const CHUNK = 800;

interface TurnScript {
  /** ms before each chunk (from the phrase request, then from the previous chunk). */
  gaps: number[];
  /** After the chunks: end the stream (default) or go silent without ending it. */
  hangAfter?: boolean;
  /** A stream that does not end even when cancelled (a badly behaved provider). */
  deaf?: boolean;
}

/** A TTS whose turns follow a script; counts cancels. */
function scriptedSession(scripts: TurnScript[]): TtsSession & { cancels: number; turns: number } {
  const s = {
    cancels: 0,
    turns: 0,
    close: async () => {},
    startTurn: (signal: AbortSignal): TtsTurn => {
      const script = scripts[Math.min(s.turns, scripts.length - 1)]!;
      s.turns++;
      let cancelled = false;
      let wakeCancel: (() => void) | null = null;
      const wait = (ms: number): Promise<void> =>
        new Promise((resolve) => {
          const t = setTimeout(resolve, ms);
          if (!script.deaf) wakeCancel = () => (clearTimeout(t), resolve());
        });
      async function* audio(): AsyncIterable<Uint8Array> {
        for (const gap of script.gaps) {
          await wait(gap);
          if (cancelled || signal.aborted) return;
          yield new Uint8Array(CHUNK);
        }
        if (script.hangAfter) {
          await new Promise<void>((resolve) => {
            if (!script.deaf) wakeCancel = resolve;
          });
        }
      }
      return {
        pushText: () => {},
        end: () => {},
        audio: audio(),
        cancel: async () => {
          if (!cancelled) s.cancels++;
          cancelled = true;
          const w = wakeCancel as (() => void) | null;
          w?.();
        },
      };
    },
  };
  return s;
}

function playback(tts: TtsSession, options: Partial<PlaybackOptions> = {}) {
  const transport = new MemoryTransport();
  const controller = new AbortController();
  const p = new Playback({ tts, transport, clock: systemClock, signal: controller.signal, markPrefix: 't1', firstAudioMs: 500, audioIdleMs: 300, ...options });
  transport.attach({ onAudio: () => {}, onDtmf: () => {}, onText: () => {}, onClose: () => {}, onMark: (name) => void p.onMark(name) });
  let outcome: string | null = null;
  p.done.then(
    (r) => void (outcome = r),
    (e: unknown) => void (outcome = e instanceof TtsFailure ? `failed: ${e.message}` : `error: ${String(e)}`),
  );
  return {
    p, transport, controller,
    get outcome() {
      return outcome;
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Playback TTS deadline', () => {
  it('a phrase with no audio fails at firstAudioMs (no retry) and its turn is cancelled, even if the stream ignores the cancel', async () => {
    const tts = scriptedSession([{ gaps: [], hangAfter: true, deaf: true }]);
    const h = playback(tts);
    h.p.say('Hello there.');
    h.p.finish();
    await vi.advanceTimersByTimeAsync(450);
    expect(h.outcome).toBeNull();
    await vi.advanceTimersByTimeAsync(100);
    expect(h.outcome).toBe('failed: TTS failed: no audio from TTS within 500 ms');
    expect(tts.cancels).toBe(1);
    expect(tts.turns).toBe(1);
    // The text stays unheard: the session says it again once TTS is back.
    expect(h.p.unheardText()).toBe('Hello there.');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a phrase whose audio stops without the provider ending it fails at audioIdleMs after its last chunk', async () => {
    const tts = scriptedSession([{ gaps: [50, 50], hangAfter: true }]);
    const h = playback(tts);
    h.p.say('Hello there.');
    h.p.finish();
    await vi.advanceTimersByTimeAsync(100 + 250);
    expect(h.outcome).toBeNull();
    expect(h.transport.count('audio')).toBeGreaterThan(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(h.outcome).toBe('failed: TTS failed: TTS audio stalled for 300 ms');
    expect(tts.cancels).toBe(1);
  });

  it('a provider slow within its budgets plays the phrase in full', async () => {
    const tts = scriptedSession([{ gaps: [450, 250, 250, 250] }]);
    const h = playback(tts);
    h.p.say('Hello there.');
    h.p.finish();
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.outcome).toBe('played');
    expect(tts.cancels).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('audio held back by a pause (a full lookahead) never trips the deadline', async () => {
    // 4 s of audio in 100 ms chunks, produced fast: the 2 s lookahead fills while the caller's onset holds the line.
    const tts = scriptedSession([{ gaps: Array.from({ length: 40 }, () => 5) }]);
    const h = playback(tts);
    h.p.say('A long answer.');
    h.p.finish();
    await vi.advanceTimersByTimeAsync(150);
    h.p.pause();
    await vi.advanceTimersByTimeAsync(10 * 300);
    expect(h.outcome).toBeNull();
    h.p.resume();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.outcome).toBe('played');
    expect(tts.cancels).toBe(0);
  });

  it('audio held back by a transport backlog never trips the deadline', async () => {
    const tts = scriptedSession([{ gaps: Array.from({ length: 40 }, () => 5) }]);
    const h = playback(tts);
    h.transport.pendingBytes = 1_000_000;
    h.p.say('A long answer.');
    h.p.finish();
    await vi.advanceTimersByTimeAsync(10 * 300);
    expect(h.outcome).toBeNull();
    expect(h.transport.count('audio')).toBe(0);
    h.transport.pendingBytes = 0;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.outcome).toBe('played');
  });

  it('one timer serves a phrase: chunks refresh the deadline without a timer each', async () => {
    const armed: number[] = [];
    const clock: Clock = { ...systemClock, setTimeout: (fn, ms) => (armed.push(ms), systemClock.setTimeout(fn, ms)) };
    // 40 chunks of 100 ms, 20 ms apart.
    const tts = scriptedSession([{ gaps: Array.from({ length: 40 }, () => 20) }]);
    const h = playback(tts, { clock, firstAudioMs: 7001, audioIdleMs: 7003 });
    h.p.say('A long answer.');
    h.p.finish();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.outcome).toBe('played');
    // The first-audio timer, then at most one more when it fires early and sleeps until the refreshed deadline.
    const deadlineTimers = armed.filter((ms) => ms > 6000);
    expect(deadlineTimers.length).toBeLessThanOrEqual(2);
  });

  it('an interrupted playback leaves no deadline timer behind', async () => {
    const tts = scriptedSession([{ gaps: [], hangAfter: true }]);
    const h = playback(tts);
    h.p.say('Hello there.');
    h.p.finish();
    await vi.advanceTimersByTimeAsync(100);
    h.p.interrupt();
    h.controller.abort();
    await vi.advanceTimersByTimeAsync(10);
    expect(h.outcome).toBe('interrupted');
    expect(vi.getTimerCount()).toBe(0);
  });
});
