/** the counting decorators around a call's providers, and pricing. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { TWILIO_FORMAT, WIDEBAND_FORMAT } from '../../src/audio/format.js';
import { testConfig } from '../../src/config.js';
import { PhraseCachingTts } from '../../src/providers/tts/phrase-cache.js';
import type { LlmEvent, LlmProvider, SttProvider, TtsProvider, TtsTurn } from '../../src/providers/types.js';
import { CallUsageMeter, countingProviders } from '../../src/usage/counting.js';
import { pricesFrom } from '../../src/usage/prices.js';
import { priceItems } from '../../src/usage/repo.js';

/** An adapter as the contract has it: the usage it learns is told through onUsage (here with `done`). */
const llm = (events: LlmEvent[]): LlmProvider => ({
  name: 'openai', model: 'gpt-x',
  async *stream(request) {
    for (const e of events) {
      if (e.type === 'done' && e.usage) request.onUsage?.(e.usage);
      yield e;
    }
  },
});
const pushed: number[] = [];
const stt: SttProvider = {
  name: 'deepgram',
  async open() {
    return { pushAudio: (f) => void pushed.push(f.byteLength), finalize() {}, events: (async function* () {})(), close: async () => {} };
  },
};
const spoken: string[] = [];
const tts: TtsProvider = {
  name: 'cartesia',
  async open() {
    return {
      startTurn: () => ({ pushText: (t) => void spoken.push(t), end() {}, audio: (async function* () {})(), cancel: async () => {} }),
      close: async () => {},
    };
  },
};

describe('usage counting', () => {
  it('sums the LLM usage its adapter reports, splitting cached from uncached input', async () => {
    const meter = new CallUsageMeter();
    const p = countingProviders({ stt, tts, llm: llm([{ type: 'text', text: 'hi' }, { type: 'done', finishReason: 'stop', usage: { inputTokens: 100, outputTokens: 7, cachedInputTokens: 60 } }]) }, meter);
    const signal = new AbortController().signal;
    for (let i = 0; i < 2; i++) {
      const seen: LlmEvent[] = [];
      for await (const e of p.llm.stream({ system: '', messages: [], tools: [], signal })) seen.push(e);
      expect(seen.map((e) => e.type)).toEqual(['text', 'done']);
    }
    // A response without reported usage counts nothing.
    for await (const _ of countingProviders({ stt, tts, llm: llm([{ type: 'done', finishReason: 'stop' }]) }, meter).llm.stream({ system: '', messages: [], tools: [], model: 'other', signal })) void _;
    expect(meter.items().sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
      { kind: 'llm_cached_input_tokens', provider: 'openai', model: 'gpt-x', quantity: 120 },
      { kind: 'llm_input_tokens', provider: 'openai', model: 'gpt-x', quantity: 80 },
      { kind: 'llm_output_tokens', provider: 'openai', model: 'gpt-x', quantity: 14 },
    ]);
  });

  it('counts STT audio by its format and TTS characters sent, passing everything through', async () => {
    const meter = new CallUsageMeter();
    const p = countingProviders({ stt, tts, llm: llm([]), sttModel: 'nova-3' }, meter);
    const signal = new AbortController().signal;
    const narrow = await p.stt.open({ format: TWILIO_FORMAT, language: 'en', model: 'nova-3', signal });
    for (let i = 0; i < 150; i++) narrow.pushAudio(new Uint8Array(160)); // 3 s of 8 kHz μ-law
    const wide = await p.stt.open({ format: WIDEBAND_FORMAT, language: 'en', model: 'nova-3', signal });
    for (let i = 0; i < 50; i++) wide.pushAudio(new Uint8Array(640)); // 1 s of 16 kHz PCM16
    const session = await p.tts.open({ format: TWILIO_FORMAT, language: 'en', model: 'sonic-3' });
    const turn = session.startTurn(signal);
    turn.pushText('Hello there. ');
    turn.pushText('Bye.');
    expect(pushed.slice(-200).length).toBe(200);
    expect(spoken.slice(-2)).toEqual(['Hello there. ', 'Bye.']);
    expect(meter.items()).toEqual(expect.arrayContaining([
      { kind: 'stt_audio_ms', provider: 'deepgram', model: 'nova-3', quantity: 4000 },
      { kind: 'tts_chars', provider: 'cartesia', model: 'sonic-3', quantity: 17 },
    ]));
    expect(meter.items()).toHaveLength(2);
  });

  it('counts what the phrase cache synthesised into one counter per session, never holding a turn', async () => {
    setFlagsFromString('--expose-gc');
    const collectGarbage = runInNewContext('gc') as () => void;
    const engineTurns: Array<WeakRef<TtsTurn>> = [];
    const engine: TtsProvider = {
      name: 'cartesia',
      async open() {
        return {
          startTurn: () => {
            const turn: TtsTurn = { pushText() {}, end() {}, audio: (async function* () { yield new Uint8Array(800); })(), cancel: async () => {} };
            engineTurns.push(new WeakRef(turn));
            return turn;
          },
          close: async () => {},
        };
      },
    };
    const meter = new CallUsageMeter();
    const p = countingProviders({ stt, tts: new PhraseCachingTts(engine, { maxBytes: 100_000 }), llm: llm([]) }, meter);
    const session = await p.tts.open({ format: TWILIO_FORMAT, language: 'en', model: 'sonic-3' });
    const signal = new AbortController().signal;
    // Turns are made and played inside speak(), so nothing here holds one afterwards.
    const speak = async (...parts: string[]): Promise<void> => {
      const turn = session.startTurn(signal);
      for (const [i, text] of parts.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, 0));
        turn.pushText(text);
      }
      turn.end();
      for await (const chunk of turn.audio) expect(chunk.byteLength).toBe(800);
    };
    for (const text of ['Hello there.', 'One moment.', 'Hello there.']) await speak(text);
    // A streamed turn (text still coming after it started) passes through the cache: all of its text counts.
    await speak('Let me ', 'check.');
    // The repeated phrase came from the cache: 12 + 11 + 13 characters synthesised, not 48.
    expect(meter.items()).toEqual([{ kind: 'tts_chars', provider: 'cartesia', model: 'sonic-3', quantity: 36 }]);
    expect(engineTurns).toHaveLength(3);
    // Weak references hold their target until the current job ends.
    await new Promise((r) => setTimeout(r, 0));
    collectGarbage();
    expect(engineTurns.filter((t) => t.deref() !== undefined)).toHaveLength(0);
    expect(meter.items()).toEqual([{ kind: 'tts_chars', provider: 'cartesia', model: 'sonic-3', quantity: 36 }]);
  });

  it('prices items with the configured prices; local providers cost 0', () => {
    const prices = pricesFrom(testConfig({ PRICE_OPENAI_INPUT_PER_MTOK: '2', PRICE_OPENAI_OUTPUT_PER_MTOK: '8', PRICE_DEEPGRAM_PER_MIN: '0.006', PRICE_TWILIO_INBOUND_PER_MIN: '0.01' }));
    const { items, cost } = priceItems(prices, [
      { kind: 'llm_input_tokens', provider: 'openai', model: 'm', quantity: 500_000 },
      { kind: 'llm_output_tokens', provider: 'openai', model: 'm', quantity: 250_000 },
      { kind: 'stt_audio_ms', provider: 'deepgram', model: 'nova-3', quantity: 90_000 },
      { kind: 'stt_audio_ms', provider: 'local', model: '', quantity: 90_000 },
      { kind: 'telephony_minutes', provider: 'twilio', model: 'inbound', quantity: 3 },
      { kind: 'telephony_minutes', provider: 'web', model: 'web', quantity: 3 },
    ]);
    const byKey = Object.fromEntries(items.map((i) => [`${i.kind}/${i.provider}`, i]));
    expect(byKey['llm_input_tokens/openai']!.cost).toBe(1);
    expect(byKey['llm_output_tokens/openai']!.cost).toBe(2);
    expect(byKey['stt_seconds/deepgram']).toMatchObject({ quantity: 90, unit: 'seconds', cost: 0.009 });
    expect(byKey['stt_seconds/local']!.cost).toBe(0);
    expect(byKey['telephony_minutes/twilio']!.cost).toBe(0.03);
    expect(byKey['telephony_minutes/web']!.cost).toBe(0);
    expect(cost).toBe(3.039);
  });

  it('refuses a malformed price', () => {
    expect(() => testConfig({ PRICE_DEEPGRAM_PER_MIN: '-1' })).toThrow(/PRICE_DEEPGRAM_PER_MIN/);
    expect(() => testConfig({ PRICE_DEEPGRAM_PER_MIN: '1e3' })).toThrow(/PRICE_DEEPGRAM_PER_MIN/);
    expect(() => testConfig({ PRICE_CURRENCY: 'dollars' })).toThrow(/PRICE_CURRENCY/);
  });
});
