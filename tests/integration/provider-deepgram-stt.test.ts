import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { biasParams, DeepgramStt } from '../../src/providers/stt/deepgram.js';
import { TWILIO_FORMAT, WIDEBAND_FORMAT } from '../../src/audio/format.js';
import { ParleyError } from '../../src/errors.js';
import type { SttEvent, SttSession, SttSessionOptions } from '../../src/providers/types.js';
import { readSttEvents } from '../helpers/stt-events.js';
import { FakeDeepgram, mulawSilenceFrame, mulawToneFrame } from '../fakes/fakeDeepgram.js';

let fake: FakeDeepgram;

beforeAll(async () => {
  fake = await FakeDeepgram.start({ apiKey: 'dg-good', utterances: ['I would like to book a haircut', 'Tomorrow at ten'] });
});
afterAll(() => fake.close());

function stt(overrides: Partial<ConstructorParameters<typeof DeepgramStt>[0]> = {}): DeepgramStt {
  return new DeepgramStt({ apiKey: 'dg-good', baseUrl: fake.url, endpointingMs: 200, utteranceEndMs: 300, ...overrides });
}

function sessionOptions(overrides: Partial<SttSessionOptions> = {}): SttSessionOptions {
  return { format: TWILIO_FORMAT, language: 'en', signal: new AbortController().signal, ...overrides };
}

/** Collects events in the background; `until` resolves when a predicate matches. */
function collector(session: SttSession) {
  const { events, done } = readSttEvents(session);
  return {
    events,
    done,
    until: (pred: (e: SttEvent) => boolean) => vi.waitFor(() => expect(events.some(pred)).toBe(true), { timeout: 5000 }),
  };
}

function speak(session: SttSession, speechMs: number, silenceMs: number): void {
  const tone = mulawToneFrame();
  const silence = mulawSilenceFrame();
  for (let t = 0; t < speechMs; t += 20) session.pushAudio(tone);
  for (let t = 0; t < silenceMs; t += 20) session.pushAudio(silence);
}

describe('biasParams', () => {
  it('uses keyterm prompting on Nova-3 and keywords on the older models that reject keyterm', () => {
    expect(biasParams('nova-3', ['Acme'])).toEqual({ keyterm: ['Acme'] });
    expect(biasParams('nova-3-medical', ['Acme'])).toEqual({ keyterm: ['Acme'] });
    expect(biasParams('nova-2', ['Acme'])).toEqual({ keywords: ['Acme'] });
    expect(biasParams('nova-2-phonecall', ['Acme'])).toEqual({ keywords: ['Acme'] });
    expect(biasParams('enhanced', ['Acme'])).toEqual({ keywords: ['Acme'] });
    expect(biasParams('base', ['Acme'])).toEqual({ keywords: ['Acme'] });
  });
});

describe('DeepgramStt against fakeDeepgram', () => {
  it('connects with the right auth and query, streams μ-law as is, and maps the event sequence', async () => {
    const session = await stt().open(sessionOptions({ keyterms: ['Acme Salon', 'balayage'] }));
    const c = collector(session);
    const conn = fake.connections.at(-1)!;
    expect(conn.headers.authorization).toBe('Token dg-good');
    const q = conn.query;
    expect(Object.fromEntries(['model', 'language', 'encoding', 'sample_rate', 'interim_results', 'endpointing', 'utterance_end_ms', 'vad_events', 'smart_format'].map((k) => [k, q.get(k)]))).toEqual({
      model: 'nova-3', language: 'en', encoding: 'mulaw', sample_rate: '8000', interim_results: 'true',
      endpointing: '200', utterance_end_ms: '300', vad_events: 'true', smart_format: 'true',
    });
    expect(q.getAll('keyterm')).toEqual(['Acme Salon', 'balayage']);
    expect(q.getAll('keywords')).toEqual([]);

    speak(session, 1600, 400);
    await c.until((e) => e.type === 'utterance_end');
    expect(conn.audioBytes).toBe(2000 * 8);

    const types = c.events.map((e) => e.type);
    expect(types[0]).toBe('speech_started');
    expect(types).toContain('interim');
    expect(types.indexOf('final')).toBeGreaterThan(types.indexOf('interim'));
    expect(c.events.find((e) => e.type === 'final')).toEqual({ type: 'final', text: 'I would like to book a haircut', endOfUtterance: true, confidence: 0.98 });
    expect(types.at(-1)).toBe('utterance_end');

    await session.close();
    await c.done;
    expect(conn.controls.map((m) => m.type)).toContain('CloseStream');
  });

  it('concatenates is_final segments until speech_final', async () => {
    const session = await stt().open(sessionOptions());
    const c = collector(session);
    const conn = fake.connections.at(-1)!;
    const base = { type: 'Results', channel_index: [0, 1], duration: 1, start: 0, metadata: {} };
    conn.send({ ...base, is_final: true, speech_final: false, channel: { alternatives: [{ transcript: 'I need', words: [] }] } });
    conn.send({ ...base, is_final: false, channel: { alternatives: [{ transcript: 'an appoint', words: [] }] } });
    conn.send({ ...base, is_final: true, speech_final: true, channel: { alternatives: [{ transcript: 'an appointment.', words: [] }] } });
    await c.until((e) => e.type === 'final');
    expect(c.events).toEqual([
      { type: 'interim', text: 'I need' },
      { type: 'interim', text: 'I need an appoint' },
      { type: 'final', text: 'I need an appointment.', endOfUtterance: true },
    ]);
    await session.close();
  });

  it('passes over JSON that is not a message (null, a number, an array) without a stack on the console', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const session = await stt().open(sessionOptions());
      const c = collector(session);
      const conn = fake.connections.at(-1)!;
      for (const raw of ['null', '42', '"text"', '[1,2]']) conn.sendRaw(raw);
      const base = { type: 'Results', channel_index: [0, 1], duration: 1, start: 0, metadata: {} };
      conn.send({ ...base, is_final: true, speech_final: true, channel: { alternatives: [{ transcript: 'still here', words: [] }] } });
      await c.until((e) => e.type === 'final');
      expect(c.events).toEqual([{ type: 'final', text: 'still here', endOfUtterance: true }]);
      expect(errors).not.toHaveBeenCalled();
      await session.close();
    } finally {
      errors.mockRestore();
    }
  });

  it('reads a result whose fields have the wrong types (or text that is not JSON) as no words: no stack on the console, the next result stands', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const session = await stt().open(sessionOptions());
      const c = collector(session);
      const conn = fake.connections.at(-1)!;
      const base = { type: 'Results', channel_index: [0, 1], duration: 1, start: 0, metadata: {} };
      conn.sendRaw('{"type":"Results", not json');
      conn.send({ ...base, is_final: false, channel: { alternatives: [{ transcript: 42 }] } });
      conn.send({ ...base, is_final: true, speech_final: true, channel: { alternatives: { transcript: 'not a list' } } });
      conn.send({ ...base, is_final: true, speech_final: true, channel: 'no channel' });
      conn.send({ ...base, is_final: true, speech_final: false, channel: { alternatives: [null] } });
      conn.send({ ...base, is_final: true, speech_final: false, channel: { alternatives: [{ transcript: 'still', confidence: 'high' }] } });
      conn.send({ type: 'SpeechStarted', channel: [0], timestamp: 'soon' });
      conn.send({ ...base, is_final: true, speech_final: true, channel: { alternatives: [{ transcript: 'here', confidence: 0.9 }] } });
      await c.until((e) => e.type === 'final');
      expect(c.events).toEqual([
        { type: 'interim', text: 'still' },
        { type: 'speech_started', atMs: 0 },
        { type: 'final', text: 'still here', endOfUtterance: true, confidence: 0.9 },
      ]);
      expect(errors).not.toHaveBeenCalled();
      await session.close();
    } finally {
      errors.mockRestore();
    }
  });

  it('sends Finalize on finalize() and emits the flushed final', async () => {
    const session = await stt({ endpointingMs: 5000 }).open(sessionOptions());
    const c = collector(session);
    const conn = fake.connections.at(-1)!;
    speak(session, 800, 100);
    await c.until((e) => e.type === 'speech_started');
    session.finalize();
    await c.until((e) => e.type === 'final');
    expect(conn.controls.map((m) => m.type)).toContain('Finalize');
    expect(c.events.filter((e) => e.type === 'final')).toHaveLength(1);
    await session.close();
  });

  it('sends linear16 16 kHz for wideband sessions and the ru language', async () => {
    const session = await stt().open(sessionOptions({ format: WIDEBAND_FORMAT, language: 'ru' }));
    const q = fake.connections.at(-1)!.query;
    expect([q.get('encoding'), q.get('sample_rate'), q.get('language')]).toEqual(['linear16', '16000', 'ru']);
    await session.close();
  });

  it('sends KeepAlive while no audio flows', async () => {
    const session = await stt({ keepAliveIntervalMs: 30 }).open(sessionOptions());
    const conn = fake.connections.at(-1)!;
    await vi.waitFor(() => expect(conn.controls.filter((m) => m.type === 'KeepAlive').length).toBeGreaterThanOrEqual(2));
    expect(conn.audioBytes).toBe(0);
    await session.close();
  });

  it('rejects a bad API key with a clear, non-retryable error', async () => {
    const err = await stt({ apiKey: 'dg-wrong' }).open(sessionOptions()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).message).toMatch(/Deepgram rejected the API key/);
    expect((err as ParleyError).message).not.toContain('dg-wrong');
    expect((err as ParleyError).details).toMatchObject({ status: 401, retryable: false, account: true });
  });

  it('turns a dropped connection into a recoverable error event and ends the stream', async () => {
    const session = await stt().open(sessionOptions());
    const c = collector(session);
    fake.connections.at(-1)!.drop();
    await c.done;
    expect(c.events.at(-1)).toMatchObject({ type: 'error', recoverable: true });
    session.pushAudio(mulawToneFrame()); // must not throw after the drop
    await session.close();
  });

  it('closes the socket when the session signal aborts', async () => {
    const controller = new AbortController();
    const session = await stt().open(sessionOptions({ signal: controller.signal }));
    const c = collector(session);
    const conn = fake.connections.at(-1)!;
    controller.abort();
    await c.done;
    await conn.closed;
    expect(c.events.some((e) => e.type === 'error')).toBe(false);
  });
});
