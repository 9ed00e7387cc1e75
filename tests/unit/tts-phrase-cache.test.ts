import { describe, expect, it } from 'vitest';
import { PhraseCachingTts } from '../../src/providers/tts/phrase-cache.js';
import type { TtsProvider, TtsSession, TtsSessionOptions, TtsTurn } from '../../src/providers/types.js';

const MULAW = { encoding: 'mulaw', sampleRate: 8000, channels: 1 } as unknown as TtsSessionOptions['format'];
const OPTS: TtsSessionOptions = { format: MULAW, language: 'en', voice: 'v1' };

/** A TTS that turns each character of the text into 10 bytes of that character code, and counts its work. */
function countingTts(opts: { failOn?: string } = {}) {
  const synthesized: string[] = [];
  const provider: TtsProvider = {
    name: 'counting',
    async open(): Promise<TtsSession> {
      return {
        startTurn(signal: AbortSignal): TtsTurn {
          let text = '';
          let ended!: () => void;
          const done = new Promise<void>((r) => (ended = r));
          let cancelled = false;
          return {
            pushText: (t) => void (text += t),
            end: () => ended(),
            cancel: async () => {
              cancelled = true;
              ended();
            },
            audio: (async function* () {
              await done;
              if (cancelled || signal.aborted) return;
              synthesized.push(text);
              if (opts.failOn && text.includes(opts.failOn)) throw new Error('synthesis failed');
              for (const ch of text) {
                if (cancelled) return;
                yield new Uint8Array(10).fill(ch.charCodeAt(0));
              }
            })(),
          };
        },
        close: async () => {},
      };
    },
  };
  return { provider, synthesized };
}

async function say(session: TtsSession, text: string, signal = new AbortController().signal): Promise<Buffer> {
  const turn = session.startTurn(signal);
  turn.pushText(text);
  turn.end();
  const parts: Uint8Array[] = [];
  for await (const c of turn.audio) parts.push(c);
  return Buffer.concat(parts);
}

describe('PhraseCachingTts', () => {
  it('synthesises a phrase once and replays the same audio, in slices, for every later call', async () => {
    const { provider, synthesized } = countingTts();
    const tts = new PhraseCachingTts(provider, { maxBytes: 10_000, sliceMs: 5 }); // 40-byte slices
    const first = await say(await tts.open(OPTS), 'Hello! ');
    const session2 = await tts.open(OPTS);
    const turn = session2.startTurn(new AbortController().signal);
    turn.pushText('Hello! ');
    turn.end();
    const slices: number[] = [];
    for await (const c of turn.audio) slices.push(c.byteLength);
    expect(synthesized).toEqual(['Hello! ']);
    expect(slices).toEqual([40, 30]);
    expect(await say(session2, 'Hello! ')).toEqual(first);
    expect(tts.stats).toMatchObject({ hits: 2, misses: 1, entries: 1, bytes: 70 });
  });

  it('keys on voice, language and format as well as the text', async () => {
    const { provider, synthesized } = countingTts();
    const tts = new PhraseCachingTts(provider, { maxBytes: 10_000 });
    await say(await tts.open(OPTS), 'Hi');
    await say(await tts.open({ ...OPTS, voice: 'v2' }), 'Hi');
    await say(await tts.open({ ...OPTS, language: 'ru' }), 'Hi');
    await say(await tts.open({ ...OPTS, format: { ...MULAW, sampleRate: 16000 } }), 'Hi');
    expect(synthesized).toHaveLength(4);
  });

  it('does not store a phrase that was cancelled, aborted or failed', async () => {
    const { provider, synthesized } = countingTts({ failOn: 'boom' });
    const tts = new PhraseCachingTts(provider, { maxBytes: 10_000 });
    const session = await tts.open(OPTS);

    const cut = session.startTurn(new AbortController().signal);
    cut.pushText('Long answer');
    cut.end();
    const it = cut.audio[Symbol.asyncIterator]();
    await it.next();
    await cut.cancel();
    while (!(await it.next()).done);
    await expect(say(session, 'boom')).rejects.toThrow('synthesis failed');
    await say(session, 'Long answer');
    await expect(say(session, 'boom')).rejects.toThrow('synthesis failed');
    expect(synthesized).toEqual(['Long answer', 'boom', 'Long answer', 'boom']);
    expect(tts.stats.entries).toBe(1);
  });

  it('does not store a phrase whose call was aborted or whose session closed under it', async () => {
    const { provider, synthesized } = countingTts();
    const tts = new PhraseCachingTts(provider, { maxBytes: 10_000 });
    const abort = new AbortController();
    const session = await tts.open(OPTS);
    const turn = session.startTurn(abort.signal);
    turn.pushText('Aborted');
    turn.end();
    const it = turn.audio[Symbol.asyncIterator]();
    await it.next();
    abort.abort();
    while (!(await it.next()).done);

    // Closing the session ends a turn's audio early but without an error: partial, so not stored either.
    const closing = await tts.open(OPTS);
    const cut = closing.startTurn(new AbortController().signal);
    cut.pushText('Closed');
    cut.end();
    const it2 = cut.audio[Symbol.asyncIterator]();
    await it2.next();
    await closing.close();
    while (!(await it2.next()).done);

    expect(tts.stats.entries).toBe(0);
    await say(await tts.open(OPTS), 'Closed');
    expect(synthesized.filter((t) => t === 'Closed')).toHaveLength(2);
  });

  it('reports a provider that refuses to start a turn through the audio, not as an uncaught error', async () => {
    const refusing: TtsProvider = {
      name: 'closed',
      open: async () => ({ startTurn: () => { throw new Error('TTS session is closed'); }, close: async () => {} }),
    };
    const tts = new PhraseCachingTts(refusing, { maxBytes: 10_000 });
    await expect(say(await tts.open(OPTS), 'Hello')).rejects.toThrow('TTS session is closed');
  });

  it('passes a turn still fed text after it started straight through, uncached', async () => {
    const { provider, synthesized } = countingTts();
    const tts = new PhraseCachingTts(provider, { maxBytes: 10_000 });
    const session = await tts.open(OPTS);
    for (let i = 0; i < 2; i++) {
      const turn = session.startTurn(new AbortController().signal);
      turn.pushText('Streamed ');
      await new Promise((r) => setTimeout(r, 1));
      turn.pushText('answer');
      turn.end();
      for await (const _ of turn.audio);
    }
    expect(synthesized).toEqual(['Streamed answer', 'Streamed answer']);
    expect(tts.stats.entries).toBe(0);
  });

  it('evicts the least recently used phrases past its byte budget, and skips long phrases', async () => {
    const { provider, synthesized } = countingTts();
    const tts = new PhraseCachingTts(provider, { maxBytes: 100, maxPhraseChars: 20 });
    const session = await tts.open(OPTS);
    await say(session, 'aaaa'); // 40 bytes
    await say(session, 'bbbb'); // 80
    await say(session, 'aaaa'); // hit: a is now the most recent
    await say(session, 'cccc'); // 120 > 100: b goes
    expect(tts.stats).toMatchObject({ entries: 2, bytes: 80 });
    await say(session, 'aaaa');
    await say(session, 'bbbb');
    expect(synthesized).toEqual(['aaaa', 'bbbb', 'cccc', 'bbbb']);
    const long = 'x'.repeat(21);
    await say(session, long);
    await say(session, long);
    expect(synthesized.filter((t) => t === long)).toHaveLength(2);
  });
});
