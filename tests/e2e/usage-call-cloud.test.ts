/** a phone call through the real server stores what it consumed (STT, LLM, TTS) per provider and model. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../scripts/lib/twilio-caller.js';
import { mulawToneFrame } from '../fakes/fakeDeepgram.js';
import { PUBLIC_ORIGIN, startCloudStack, type CloudStack } from '../helpers/cloud-stack.js';
import { until } from '../helpers/until.js';
import { untilTranscriptHas } from '../helpers/transcript.js';

describe('usage of a phone call over Twilio with cloud providers', () => {
  let s: CloudStack;
  beforeAll(async () => {
    s = await startCloudStack({ deepgram: { utterances: ['what time do you close today'], finalLatencyMs: 50 }, cartesia: { chunkIntervalMs: 0 } });
  });
  afterAll(async () => s?.close());

  it('stores one row per kind, provider and model when the call ends', async () => {
    s.openai.reply = { text: 'We close at six.', usage: { promptTokens: 321, completionTokens: 7, cachedTokens: 256 } };
    const caller = await TwilioCaller.dial({ server: s.url, publicOrigin: PUBLIC_ORIGIN, authToken: s.twilioAuthToken, from: '+15557654321', to: s.botNumber });
    expect(await caller.waitForBotAudio(5000)).toBe(true);
    await caller.waitForBotQuiet(300);
    await caller.say(mulawToneFrame(1200, 8000));
    await untilTranscriptHas(s.t.db.sql, caller.callId, 'bot', 'We close at six');
    await caller.hangup();
    const rows = await until(async () => {
      const r = await s.t.db.sql<{ kind: string; provider: string; model: string; quantity: string; company_id: string; bot_id: string }[]>`
        select kind, provider, model, quantity::text as quantity, company_id, bot_id from call_usage where call_id = ${caller.callId} order by kind`;
      // The session's rows are written when it ends (the telephony minutes, with the call's duration, may come first).
      return r.some((row) => row.kind === 'llm_input_tokens') ? r : null;
    });
    const by = Object.fromEntries(rows.map((r) => [r.kind, r]));
    expect(rows.every((r) => r.company_id === s.company.companyId && r.bot_id === s.botId)).toBe(true);
    expect(by.llm_input_tokens).toMatchObject({ provider: 'openai', model: 'gpt-4o-mini', quantity: '65' });
    expect(by.llm_cached_input_tokens).toMatchObject({ provider: 'openai', quantity: '256' });
    expect(by.llm_output_tokens).toMatchObject({ provider: 'openai', quantity: '7' });
    // The greeting and the answer were sent to Cartesia.
    // Under the model the vendor ran (the adapters' defaults: the bot names none), through the prewarm and phrase-cache wrappers.
    expect(by.tts_chars).toMatchObject({ provider: 'cartesia', model: 'sonic-3' });
    expect(Number(by.tts_chars!.quantity)).toBeGreaterThanOrEqual('Hello, thanks for calling Alpha Salon.'.length + 'We close at six.'.length);
    // At least the 1.2 s the caller spoke went to Deepgram.
    expect(by.stt_audio_ms).toMatchObject({ provider: 'deepgram', model: 'nova-3' });
    expect(Number(by.stt_audio_ms!.quantity)).toBeGreaterThanOrEqual(1200);

    const res = await s.t.app.inject({ method: 'GET', url: `/v1/usage/calls/${caller.callId}`, headers: s.t.as(s.company.apiKey) });
    expect(res.statusCode).toBe(200);
    expect(res.json().cost).toBeGreaterThan(0);
  });
});
