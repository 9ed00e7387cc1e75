/**
 * No dead bots: a bot's missing capabilities are named by the API with their fixes, and a Russian bot with no
 * recognizer still opens its call, turns spoken audio into one polite notice and answers typed text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { botWarnings } from '../../src/bots/capabilities.js';
import { NoRecognizerStt, NO_RECOGNIZER_TEXT } from '../../src/providers/stt/no-recognizer.js';
import { ScenarioEngine } from '../../src/scenario/engine.js';
import { ProviderRegistry } from '../../src/telephony/provider-registry.js';
import { testConfig } from '../../src/config.js';
import { WIDEBAND_FORMAT } from '../../src/audio/format.js';
import type { SttProvider, TtsProvider } from '../../src/providers/types.js';
import { readSttEvents } from '../helpers/stt-events.js';
import type { BotRow } from '../../src/db/bots.js';

describe('bot warnings over the API', () => {
  let t: TestApp;
  let key: string;
  beforeAll(async () => {
    t = await createTestApp();
    key = (await t.createCompany('Warnings')).apiKey;
  });
  afterAll(async () => t?.close());

  it('POST, PATCH and GET /v1/bots name every missing capability and its fix', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(key), payload: { name: 'Салон', language: 'ru', config: { greeting: 'Здравствуйте' } } });
    expect(created.statusCode).toBe(201);
    const bot = created.json() as { id: string; warnings: Array<{ capability: string; fix: string }> };
    const caps = bot.warnings.map((w) => w.capability);
    expect(caps).toEqual(expect.arrayContaining(['recognizer', 'llm', 'embedder']));
    expect(bot.warnings.find((w) => w.capability === 'recognizer')!.fix).toContain('DEEPGRAM_API_KEY');
    const got = (await t.app.inject({ method: 'GET', url: `/v1/bots/${bot.id}`, headers: t.as(key) })).json() as typeof bot;
    expect(got.warnings.map((w) => w.capability)).toEqual(caps);
    const patched = await t.app.inject({ method: 'PATCH', url: `/v1/bots/${bot.id}`, headers: t.as(key), payload: { language: 'en' } });
    expect((patched.json() as typeof bot).warnings.find((w) => w.capability === 'recognizer')?.fix).not.toContain('English only');
    const list = (await t.app.inject({ method: 'GET', url: '/v1/bots', headers: t.as(key) })).json() as { data: Array<typeof bot> };
    expect(list.data[0]!.warnings.length).toBeGreaterThan(0);
  });

  it('with every key set there is nothing to warn about', () => {
    const keys = { DEEPGRAM_API_KEY: 'k', OPENAI_API_KEY: 'k', ANTHROPIC_API_KEY: undefined, CARTESIA_API_KEY: 'k' };
    expect(botWarnings({ language: 'ru', config: { greeting: 'x', systemPrompt: '' } }, keys, null)).toEqual([]);
  });
});

describe('a Russian bot without a recognizer', () => {
  it('gets a recognizer that opens, and turns speech into one notice (later speech is ignored)', async () => {
    const local = { stt: { name: 'local', open: async () => { throw new Error('English only'); } } as SttProvider, tts: { name: 'local' } as TtsProvider };
    const registry = new ProviderRegistry(testConfig({}), { warn: () => {}, info: () => {} } as never, local);
    const bot = { id: 'b', company_id: 'c', name: 'x', language: 'ru', config: { greeting: 'Здравствуйте', systemPrompt: '' } } as unknown as BotRow;
    const stt = registry.forBot(bot).stt;
    expect(stt).toBeInstanceOf(NoRecognizerStt);
    const session = await stt.open({ format: WIDEBAND_FORMAT, language: 'ru', signal: new AbortController().signal });
    const loud = new Uint8Array(640);
    const view = new DataView(loud.buffer);
    for (let i = 0; i < 320; i++) view.setInt16(i * 2, i % 2 ? 8000 : -8000, true);
    const quiet = new Uint8Array(640);
    const { events, done: reading } = readSttEvents(session);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 25; i++) session.pushAudio(loud);
      for (let i = 0; i < 50; i++) session.pushAudio(quiet);
    }
    await new Promise((r) => setTimeout(r, 10));
    await session.close();
    await reading;
    expect(events.filter((e) => e.type === 'final')).toEqual([{ type: 'final', text: NO_RECOGNIZER_TEXT, endOfUtterance: true }]);
    const engine = new ScenarioEngine({ language: 'ru' });
    const reply = engine.decide({ system: '', messages: [{ role: 'user', content: NO_RECOGNIZER_TEXT }], tools: [], signal: new AbortController().signal });
    expect(reply.text).toContain('напишите сообщение или воспользуйтесь клавиатурой');
  });
});
