/**
 * A bot's provider choices that cannot work are refused when it is saved (400 naming the field), not found by the
 * first caller: empty or malformed model and voice names, a voice the chosen TTS cannot take, a recognizer or a TTS
 * model without the bot's language. What only degrades a bot on this server stays a warning (bot warnings).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

const VOICE_ID = 'f786b574-daa5-4673-aa0c-cbe3e8534c02';

type Res = { statusCode: number; json(): { error: { message: string; details?: { field?: string } } } };
const refused = (res: Res, field: string) => {
  expect(res.statusCode, JSON.stringify(res.json())).toBe(400);
  expect(res.json().error.details?.field).toBe(field);
};

describe('bot provider choices', () => {
  let t: TestApp;
  let key: string;
  beforeAll(async () => {
    t = await createTestApp();
    key = (await t.createCompany()).apiKey;
  });
  afterAll(async () => t.close());

  const create = (config: Record<string, unknown>, more: Record<string, unknown> = {}) => {
    const body = botBody(more);
    return t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(key), payload: { ...body, config: { ...(body.config as object), ...config } } });
  };
  const patch = (id: string, payload: object) => t.app.inject({ method: 'PATCH', url: `/v1/bots/${id}`, headers: t.as(key), payload });

  it('refuses empty or malformed model and voice names', async () => {
    refused(await create({ voice: '' }), 'body.config.voice');
    refused(await create({ voice: 'slt\n' }), 'body.config.voice');
    for (const model of ['sttModel', 'llmModel', 'ttsModel']) {
      refused(await create({ providers: { [model]: '' } }), `body.config.providers.${model}`);
      refused(await create({ providers: { [model]: 'gpt 4o' } }), `body.config.providers.${model}`);
    }
    expect((await create({ providers: { llm: 'openai', llmModel: 'meta-llama/Llama-3.1-8B-Instruct' } })).statusCode).toBe(201);
  });

  it('a Cartesia voice is a voice id; a local voice a name', async () => {
    refused(await create({ voice: 'slt', providers: { tts: 'cartesia' } }), 'body.config.voice');
    expect((await create({ voice: VOICE_ID, providers: { tts: 'cartesia' } })).statusCode).toBe(201);
    expect((await create({ voice: 'slt', providers: { tts: 'local' } })).statusCode).toBe(201);
    const local = (await create({ voice: 'slt' })).json(); // this server's default TTS is local
    refused(await patch(local.id, { config: { greeting: 'Hi', voice: 'slt', providers: { tts: 'cartesia' } } }), 'body.config.voice');
  });

  it('a recognizer or TTS model without the bot\'s language is refused, on create and when the language changes', async () => {
    refused(await create({ providers: { stt: 'local' } }, { language: 'ru' }), 'body.config.providers.stt');
    refused(await create({ providers: { tts: 'cartesia', ttsModel: 'sonic-2' } }, { language: 'ru' }), 'body.config.providers.ttsModel');
    expect((await create({ providers: { tts: 'cartesia', ttsModel: 'sonic-3' } }, { language: 'ru' })).statusCode).toBe(201);
    // Unset: the server's recognizer; a warning says what it lacks, the bot still takes keypad and typed text.
    const ru = await create({}, { language: 'ru' });
    expect(ru.statusCode).toBe(201);
    expect(ru.json().warnings).toContainEqual(expect.objectContaining({ capability: 'recognizer' }));

    const en = (await create({ providers: { stt: 'local', tts: 'cartesia', ttsModel: 'sonic-2' } })).json();
    refused(await patch(en.id, { language: 'ru' }), 'body.config.providers.stt');
    const [row] = await t.db.sql`select language from bots where id = ${en.id}`;
    expect(row!.language).toBe('en');
    expect((await patch(en.id, { name: 'renamed' })).statusCode).toBe(200);
  });
});

describe('bot provider choices on a server whose default TTS is Cartesia', () => {
  it('a voice that is not a Cartesia voice id is refused for a bot that leaves its TTS unset', async () => {
    const t = await createTestApp({ env: { CARTESIA_API_KEY: 'ct-test-key' } });
    try {
      const { apiKey } = await t.createCompany();
      const body = botBody();
      const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(apiKey), payload: { ...body, config: { ...(body.config as object), voice: 'slt' } } });
      refused(res, 'body.config.voice');
    } finally {
      await t.close();
    }
  });
});
