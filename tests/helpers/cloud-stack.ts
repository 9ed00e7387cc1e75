/**
 * The real server (startServer: the wiring `npm start` uses) on port 0 with its cloud adapters pointed at fake
 * vendor servers (Deepgram, OpenAI or Anthropic, Cartesia, optionally Twilio REST) through the config — the
 * production code path end to end, with set provider latencies, on a fresh test database.
 */
import type { Metrics } from '../../src/metrics.js';
import { testConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';
import type { CallRunner } from '../../src/telephony/call-runner.js';
import { FakeAnthropic, type FakeAnthropicOptions } from '../fakes/fakeAnthropic.js';
import { FakeCartesia, type FakeCartesiaOptions } from '../fakes/fakeCartesia.js';
import { FakeDeepgram, type FakeDeepgramOptions } from '../fakes/fakeDeepgram.js';
import { FakeOpenAI, type FakeOpenAIOptions } from '../fakes/fakeOpenAI.js';
import { ADMIN_TOKEN, botBody, testAppOn, type TestApp } from './app.js';
import { createTestDb } from './db.js';

export const PUBLIC_ORIGIN = 'https://parley.example.com';

/** What every stack has, whichever LLM it runs on. */
export interface CloudStackBase {
  t: TestApp;
  url: string;
  runner: CallRunner;
  metrics: Metrics;
  deepgram: FakeDeepgram;
  cartesia: FakeCartesia;
  company: { companyId: string; apiKey: string };
  botId: string;
  botNumber: string;
  /** The token Twilio signs webhooks with (TWILIO_AUTH_TOKEN). */
  twilioAuthToken: string;
  close(): Promise<void>;
}

/** The stack with OpenAI as the LLM. */
export interface CloudStack extends CloudStackBase {
  openai: FakeOpenAI;
}

/** The stack with Anthropic as the only LLM (no OpenAI key set, so every call's LLM is the Anthropic adapter). */
export interface AnthropicCloudStack extends CloudStackBase {
  anthropic: FakeAnthropic;
}

interface StackOptions {
  deepgram?: FakeDeepgramOptions;
  cartesia?: FakeCartesiaOptions;
  botConfig?: Record<string, unknown>;
  logLevel?: string;
  /** Twilio's REST API (a FakeTwilioRest): enables POST /v1/bots/:id/calls. */
  twilioRest?: { url: string; accountSid: string; authToken: string };
  /** More settings (audit scratch). */
  extraEnv?: Record<string, string>;
}

export async function startCloudStack(options: StackOptions & { openai?: FakeOpenAIOptions } = {}): Promise<CloudStack> {
  const openai = await FakeOpenAI.start(options.openai);
  const stack = await startStack(options, { OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseUrl }, () => openai.close());
  return { ...stack, openai };
}

export async function startAnthropicCloudStack(options: StackOptions & { anthropic?: FakeAnthropicOptions } = {}): Promise<AnthropicCloudStack> {
  const anthropic = await FakeAnthropic.start(options.anthropic);
  const stack = await startStack(options, { ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.baseUrl }, () => anthropic.close());
  return { ...stack, anthropic };
}

async function startStack(options: StackOptions, llmEnv: Record<string, string>, closeLlm: () => Promise<void>): Promise<CloudStackBase> {
  const deepgram = await FakeDeepgram.start(options.deepgram);
  const cartesia = await FakeCartesia.start(options.cartesia);
  const twilioAuthToken = options.twilioRest?.authToken ?? 'twilio-auth-test-token';
  const db = await createTestDb();
  const config = testConfig({
    HOST: '127.0.0.1',
    PUBLIC_URL: PUBLIC_ORIGIN,
    ADMIN_TOKEN,
    CALL_TOKEN_SECRET: 'call-token-secret-for-the-cloud-stack',
    RATE_LIMIT_PER_MIN: '100000',
    WORKERS_ENABLED: 'false',
    TWILIO_AUTH_TOKEN: twilioAuthToken,
    ...(options.twilioRest ? { TWILIO_ACCOUNT_SID: options.twilioRest.accountSid, TWILIO_API_URL: options.twilioRest.url } : {}),
    DEEPGRAM_API_KEY: deepgram.options.apiKey,
    DEEPGRAM_URL: deepgram.url,
    ...llmEnv,
    CARTESIA_API_KEY: cartesia.options.apiKey,
    CARTESIA_URL: cartesia.url.replace(/^ws/, 'http'),
    CARTESIA_VOICE_EN: 'voice-1',
    ...options.extraEnv,
  });
  const server = await startServer(config, createLogger(options.logLevel ?? 'silent'), { port: 0, database: db });
  const app = server.app;
  const t: TestApp = testAppOn(app, db, config, async () => {
    await server.stop();
    await db.close();
  });
  const company = await t.createCompany();
  const botNumber = '+15550100200';
  const res = await app.inject({
    method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey),
    payload: botBody({ phone_number: botNumber, config: { greeting: 'Hello, thanks for calling Alpha Salon.', systemPrompt: 'Be brief.', ...options.botConfig } }),
  });
  if (res.statusCode !== 201) throw new Error(res.body);
  return {
    t, url: server.url, runner: server.runner, metrics: app.metrics, deepgram, cartesia, company, botId: res.json().id, botNumber, twilioAuthToken,
    async close() {
      await t.close();
      await Promise.all([deepgram.close(), closeLlm(), cartesia.close()]);
    },
  };
}
