/**
 * A Parley app listening on port 0 with the Twilio routes and the real cloud adapters pointed at fake vendor
 * servers (Deepgram, OpenAI, Cartesia) — the production code path end to end, with set provider latencies.
 */
import type { FastifyPluginAsync } from 'fastify';
import { createMetrics } from '../../src/api/metrics.js';
import { TWILIO_FORMAT } from '../../src/audio/format.js';
import { ProviderPrewarmer } from '../../src/telephony/prewarm.js';
import { createLogger } from '../../src/log.js';
import { OpenAiLlm } from '../../src/providers/llm/openai.js';
import { DeepgramStt } from '../../src/providers/stt/deepgram.js';
import { CartesiaTts } from '../../src/providers/tts/cartesia.js';
import { CallRunner } from '../../src/telephony/call-runner.js';
import { outboundCallRoutes } from '../../src/api/routes/outbound-calls.js';
import { twilioMediaRoute } from '../../src/telephony/twilio/media-route.js';
import { OutboundDialer } from '../../src/telephony/twilio/outbound.js';
import { TwilioRestClient } from '../../src/telephony/twilio/rest.js';
import { twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { FakeCartesia, type FakeCartesiaOptions } from '../fakes/fakeCartesia.js';
import { FakeDeepgram, type FakeDeepgramOptions } from '../fakes/fakeDeepgram.js';
import { FakeOpenAI, type FakeOpenAIOptions } from '../fakes/fakeOpenAI.js';
import { botBody, createTestApp, type TestApp } from './app.js';

export const TWILIO_AUTH = 'twilio-auth-test-token';
export const PUBLIC_ORIGIN = 'https://parley.example.com';

export interface CloudStack {
  t: TestApp;
  url: string;
  runner: CallRunner;
  metrics: ReturnType<typeof createMetrics>;
  deepgram: FakeDeepgram;
  openai: FakeOpenAI;
  cartesia: FakeCartesia;
  company: { companyId: string; apiKey: string };
  botId: string;
  botNumber: string;
  close(): Promise<void>;
}

export async function startCloudStack(options: {
  deepgram?: FakeDeepgramOptions;
  openai?: FakeOpenAIOptions;
  cartesia?: FakeCartesiaOptions;
  botConfig?: Record<string, unknown>;
  logLevel?: string;
  /** Open the provider sessions at the voice webhook, as the server does (see src/telephony/prewarm.ts). */
  prewarm?: boolean;
  /** Twilio's REST API (a FakeTwilioRest): enables POST /v1/bots/:id/calls. */
  twilioRest?: { url: string; accountSid: string; authToken: string };
} = {}): Promise<CloudStack> {
  const deepgram = await FakeDeepgram.start(options.deepgram);
  const openai = await FakeOpenAI.start(options.openai);
  const cartesia = await FakeCartesia.start(options.cartesia);
  const stt = new DeepgramStt({ apiKey: deepgram.options.apiKey, baseUrl: deepgram.url });
  const llm = new OpenAiLlm({ apiKey: openai.apiKey, baseUrl: openai.baseUrl });
  const tts = new CartesiaTts({ apiKey: cartesia.options.apiKey, voice: 'voice-1', baseUrl: cartesia.url });
  const metrics = createMetrics();
  const log = createLogger(options.logLevel ?? 'silent');
  let runner!: CallRunner;
  const t = await createTestApp({
    env: { PUBLIC_URL: PUBLIC_ORIGIN, RATE_LIMIT_PER_MIN: '100000' },
    tenantRoutes: (db): FastifyPluginAsync[] => {
      const r = options.twilioRest;
      const rest = r ? new TwilioRestClient({ accountSid: r.accountSid, authToken: r.authToken, baseUrl: r.url }) : null;
      return [outboundCallRoutes({ sql: db.sql, dialer: rest ? new OutboundDialer({ sql: db.sql, rest, publicOrigin: PUBLIC_ORIGIN }) : null })];
    },
    publicRoutes: (db): FastifyPluginAsync[] => {
      const providersFor = () => ({ stt, llm, tts, voice: 'voice-1' });
      const prewarmer = options.prewarm ? new ProviderPrewarmer({ providersFor, log }) : null;
      runner = new CallRunner({ sql: db.sql, log, metrics, providersFor, adoptPrewarmed: prewarmer ? (id, set) => prewarmer.adopt(id, set) : undefined });
      return [
        twilioVoiceRoutes({
          sql: db.sql, authToken: TWILIO_AUTH, publicOrigin: PUBLIC_ORIGIN, callTokenSecret: 'secret',
          prewarm: prewarmer ? (callId, bot) => prewarmer.warm(callId, bot, { input: TWILIO_FORMAT, output: TWILIO_FORMAT }) : undefined,
        }),
        twilioMediaRoute({ sql: db.sql, authToken: TWILIO_AUTH, publicOrigin: PUBLIC_ORIGIN, callTokenSecret: 'secret', runner, metrics, twilioControl: null }),
      ];
    },
  });
  const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const company = await t.createCompany();
  const botNumber = '+15550100200';
  const res = await t.app.inject({
    method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey),
    payload: botBody({ phone_number: botNumber, config: { greeting: 'Hello, thanks for calling Alpha Salon.', systemPrompt: 'Be brief.', ...options.botConfig } }),
  });
  if (res.statusCode !== 201) throw new Error(res.body);
  return {
    t, url, runner, metrics, deepgram, openai, cartesia, company, botId: res.json().id, botNumber,
    async close() {
      await t.close();
      await Promise.all([deepgram.close(), openai.close(), cartesia.close()]);
    },
  };
}
