import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CartesiaTts } from '../../src/providers/tts/cartesia.js';
import { TWILIO_FORMAT, WIDEBAND_FORMAT } from '../../src/audio/format.js';
import { ParleyError, isAccountFailure, isRetryable } from '../../src/errors.js';
import type { TtsTurn } from '../../src/providers/types.js';
import { FakeCartesia } from '../fakes/fakeCartesia.js';

let fake: FakeCartesia;

beforeAll(async () => {
  fake = await FakeCartesia.start({ apiKey: 'ct-good', msPerWord: 60 });
});
afterAll(() => fake.close());

const tts = (apiKey = 'ct-good'): CartesiaTts =>
  new CartesiaTts({ apiKey, baseUrl: fake.url, voice: 'voice-1', model: 'sonic-3' });

async function drain(turn: TtsTurn): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of turn.audio) out.push(chunk);
  return out;
}

const total = (chunks: Uint8Array[]): number => chunks.reduce((n, c) => n + c.length, 0);

describe('CartesiaTts against fakeCartesia', () => {
  it('streams a turn phrase by phrase and returns μ-law 8 kHz audio of the right length', async () => {
    const session = await tts().open({ format: TWILIO_FORMAT, language: 'en' });
    const conn = fake.connections.at(-1)!;
    expect(conn.headers.authorization).toBe('Bearer ct-good');
    expect(conn.headers['cartesia-version']).toBeTruthy();

    const turn = session.startTurn(new AbortController().signal);
    turn.pushText('Hello, ');
    turn.pushText('how can I help you today? ');
    turn.end();
    const audio = await drain(turn);
    // 7 words × 60 ms × 8 bytes/ms.
    expect(total(audio)).toBe(7 * 60 * 8);

    expect(conn.requests).toHaveLength(3);
    const [first, second, last] = conn.requests as Array<Record<string, unknown>>;
    expect(first).toMatchObject({
      model_id: 'sonic-3', voice: { id: 'voice-1' }, transcript: 'Hello, ', continue: true, language: 'en',
      max_buffer_delay_ms: 0, output_format: { container: 'raw', encoding: 'pcm_mulaw', sample_rate: 8000 },
    });
    expect(second).toMatchObject({ transcript: 'how can I help you today? ', continue: true, context_id: first!.context_id });
    expect(last).toMatchObject({ transcript: '', continue: false, context_id: first!.context_id });
    await session.close();
  });

  it('a burst of chunks that arrives while the consumer is busy reaches it merged, byte for byte', async () => {
    const session = await tts().open({ format: TWILIO_FORMAT, language: 'en' });
    const turn = session.startTurn(new AbortController().signal);
    // 20 words: 1,200 ms of audio, which the fake sends as sixty 20 ms chunks with no gap between them.
    turn.pushText(`${Array.from({ length: 20 }, (_, i) => `word${i}`).join(' ')} `);
    turn.end();
    const chunks: Uint8Array[] = [];
    for await (const chunk of turn.audio) {
      chunks.push(Buffer.from(chunk));
      // A consumer busy for a moment (playback sending, a phrase cache copying): the rest of the burst queues.
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(total(chunks)).toBe(20 * 60 * 8);
    expect(chunks.length).toBeLessThan(60 / 4);
    // The fake's tone is the same bytes in every 20 ms chunk: the merged audio is still that sequence.
    const joined = Buffer.concat(chunks);
    const first = joined.subarray(0, 160);
    for (let at = 0; at < joined.length; at += 160) expect(Buffer.compare(joined.subarray(at, at + 160), first)).toBe(0);
    await session.close();
  });

  it('uses a new context per turn and pcm_s16le 16 kHz for wideband', async () => {
    const session = await tts().open({ format: WIDEBAND_FORMAT, language: 'ru', voice: 'voice-ru' });
    const conn = fake.connections.at(-1)!;
    for (const [text, words] of [['Здравствуйте! ', 1], ['Чем помочь? ', 2]] as const) {
      const turn = session.startTurn(new AbortController().signal);
      turn.pushText(text);
      turn.end();
      expect(total(await drain(turn))).toBe(words * 60 * 32);
    }
    const contexts = new Set(conn.requests.map((r) => r.context_id));
    expect(contexts.size).toBe(2);
    expect(conn.requests[0]).toMatchObject({ language: 'ru', voice: { id: 'voice-ru' }, output_format: { encoding: 'pcm_s16le', sample_rate: 16000 } });
    expect(fake.connections.at(-1)).toBe(conn); // one socket for the session
    await session.close();
  });

  it('cancel stops the turn at once and tells Cartesia; the abort signal does the same', async () => {
    fake.options.chunkIntervalMs = 10;
    const session = await tts().open({ format: TWILIO_FORMAT, language: 'en' });
    const conn = fake.connections.at(-1)!;
    const turn = session.startTurn(new AbortController().signal);
    turn.pushText('one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen ');
    turn.end();
    const got: Uint8Array[] = [];
    for await (const chunk of turn.audio) {
      got.push(chunk);
      if (got.length === 2) await turn.cancel();
    }
    expect(got.length).toBe(2);
    await vi.waitFor(() => expect(conn.requests.at(-1)).toEqual({ context_id: conn.requests[0]!.context_id, cancel: true }));
    await turn.cancel(); // idempotent

    const controller = new AbortController();
    const second = session.startTurn(controller.signal);
    second.pushText('a b c d e f g h i j k l m n o p ');
    const seen: Uint8Array[] = [];
    for await (const chunk of second.audio) {
      seen.push(chunk);
      controller.abort();
    }
    expect(seen.length).toBe(1);
    await vi.waitFor(() => expect(conn.requests.at(-1)).toMatchObject({ cancel: true }));
    fake.options.chunkIntervalMs = 0;
    await session.close();
  });

  it('rejects a bad API key with a clear error', async () => {
    const err = await tts('ct-wrong').open({ format: TWILIO_FORMAT, language: 'en' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).message).toMatch(/Cartesia rejected the API key/);
    expect((err as ParleyError).message).not.toContain('ct-wrong');
    // An account refusal: no retry, no refused phrase — the voice is down (call-session.ts).
    expect((err as ParleyError).details).toMatchObject({ status: 401, retryable: false, account: true });
  });

  it('surfaces a Cartesia error message for a bad request', async () => {
    const session = await new CartesiaTts({ apiKey: 'ct-good', baseUrl: fake.url, voice: 'v' }).open({
      format: TWILIO_FORMAT,
      language: 'de' as 'en',
    });
    const turn = session.startTurn(new AbortController().signal);
    turn.pushText('Hallo ');
    await expect(drain(turn)).rejects.toThrow(/Cartesia error: unsupported language/);
    await session.close();
  });

  it('a phrase\'s error is retried as the connection\'s would be: 429 and 5xx are retryable, a 4xx refusal is not, 401/402/403 refuse the account', async () => {
    // A 429 on a phrase (Cartesia's concurrency limit) read as a refusal: the call skipped the phrase unsaid; so
    // did a 401/402 (key revoked, credits spent mid-call), which is the account's, not the phrase's.
    const session = await tts().open({ format: TWILIO_FORMAT, language: 'en' });
    try {
      for (const [status, retryable, account] of [[429, true, false], [503, true, false], [400, false, false], [401, false, true], [402, false, true], [403, false, true]] as const) {
        fake.misbehave = () => ({ error: status });
        const turn = session.startTurn(new AbortController().signal);
        turn.pushText('Hello there. ');
        turn.end();
        const err = await drain(turn).then(() => null, (e: unknown) => e);
        expect(err, `status ${status}`).toBeInstanceOf(ParleyError);
        expect(isRetryable(err), `status ${status}`).toBe(retryable);
        expect(isAccountFailure(err), `status ${status}`).toBe(account);
      }
    } finally {
      fake.misbehave = null;
      await session.close();
    }
  });

  it('a context Cartesia ends without audio ends the phrase with none (the call leaves it unsaid: playback.ts), and the next plays', async () => {
    const session = await tts().open({ format: TWILIO_FORMAT, language: 'en' });
    try {
      fake.misbehave = (transcript) => (transcript.startsWith('Nothing') ? 'empty' : null);
      const empty = session.startTurn(new AbortController().signal);
      empty.pushText('Nothing comes of this. ');
      empty.end();
      expect(await drain(empty)).toEqual([]);
      const next = session.startTurn(new AbortController().signal);
      next.pushText('Still here. ');
      next.end();
      expect(total(await drain(next))).toBe(2 * 60 * 8);
    } finally {
      fake.misbehave = null;
      await session.close();
    }
  });

  it('fails the live turn on a mid-stream drop (retryable) and reconnects once for the next turn', async () => {
    fake.options.chunkIntervalMs = 10;
    const session = await tts().open({ format: TWILIO_FORMAT, language: 'en' });
    const conn = fake.connections.at(-1)!;
    const turn = session.startTurn(new AbortController().signal);
    turn.pushText('one two three four five six seven eight nine ten ');
    turn.end();
    const err = await (async () => {
      for await (const _chunk of turn.audio) conn.drop();
    })().catch((e: unknown) => e);
    fake.options.chunkIntervalMs = 0;
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).details).toMatchObject({ retryable: true });

    const before = fake.connections.length;
    const next = session.startTurn(new AbortController().signal);
    next.pushText('Still here. ');
    next.end();
    expect(total(await drain(next))).toBe(2 * 60 * 8);
    expect(fake.connections.length).toBe(before + 1);
    await session.close();
  });
});
