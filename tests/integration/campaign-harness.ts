/**
 * Shared set-up for the campaign tests: an app with the campaign routes and the Twilio webhooks, the fake Twilio
 * REST API behind the real OutboundDialer, and schedulers on an injected clock.
 */
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { campaignRoutes } from '../../src/api/routes/campaigns.js';
import { CampaignScheduler } from '../../src/campaigns/scheduler.js';
import { createLogger } from '../../src/log.js';
import { OutboundDialer } from '../../src/telephony/twilio/outbound.js';
import { TwilioRestClient } from '../../src/telephony/twilio/rest.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { FakeTwilioRest } from '../fakes/fakeTwilioRest.js';
import { VoicemailAudio } from '../../src/campaigns/voicemail-audio.js';
import { ScriptedTts } from '../helpers/scripted-providers.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import { backgroundHandle } from '../../src/db/param-guard.js';

export const AUTH = 'twilio-auth-token-test';
export const ORIGIN = 'https://voice.example.com';

export class Clock {
  constructor(public t: Date) {}
  now = (): Date => new Date(this.t);
  set(iso: string): void {
    this.t = new Date(iso);
  }
  advance(ms: number): void {
    this.t = new Date(this.t.getTime() + ms);
  }
}

export interface Harness {
  t: TestApp;
  fake: FakeTwilioRest;
  clock: Clock;
  dialer: OutboundDialer;
  /** The bots' TTS for voicemail messages (every bot speaks with it), and the audio it renders. */
  voicemailTts: ScriptedTts;
  voicemail: VoicemailAudio;
  scheduler(): CampaignScheduler;
  company(): Promise<{ companyId: string; apiKey: string; botId: string; botNumber: string }>;
  api(apiKey: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown): Promise<LightMyRequestResponse>;
  twilio(path: string, form: Record<string, string>): Promise<LightMyRequestResponse>;
  /** Creates a campaign with contacts, schedules it, and returns its id. */
  campaign(apiKey: string, botId: string, body: Record<string, unknown>, contacts: unknown[]): Promise<string>;
  /** Twilio create-call requests so far, per To number. */
  dialsTo(phone: string): number;
  /** Twilio reports the end of the call placed to `phone` (its latest). */
  endCall(phone: string, status?: string, extra?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7];
export const ALWAYS = [{ days: ALL_DAYS, start: '00:00', end: '23:59' }];

let botNo = 0;

export interface HarnessOptions {
  /** The app's database (the caller closes it), e.g. one opened with a short query deadline; default a fresh test database. */
  db?: TestDatabase;
}

export async function campaignHarness(start = '2026-03-09T15:00:00Z', options: HarnessOptions = {}): Promise<Harness> {
  const fake = await FakeTwilioRest.start();
  const clock = new Clock(new Date(start));
  const rest = new TwilioRestClient({ accountSid: fake.accountSid, authToken: fake.authToken, baseUrl: fake.url, retryDelayMs: 1, timeoutMs: 2000 });
  let dialer!: OutboundDialer;
  let voicemail!: VoicemailAudio;
  const voicemailTts = new ScriptedTts({ firstAudioMs: 1, chunkMs: 0, bytesPerWord: 800 });
  const t = await createTestApp({
    ...(options.db ? { db: options.db } : {}),
    env: { RATE_LIMIT_PER_MIN: '100000' },
    tenantRoutes: (db) => {
      dialer = new OutboundDialer({ sql: db.sql, publicOrigin: ORIGIN, rest, maxActivePerCompany: 10_000 });
      return [campaignRoutes({ sql: db.sql, dialingAvailable: true })];
    },
    publicRoutes: (db) => {
      voicemail = new VoicemailAudio({ sql: db.sql, callTokenSecret: 'secret', publicOrigin: ORIGIN, ttsFor: () => ({ tts: voicemailTts }) });
      return [twilioVoiceRoutes({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: 'secret', rateLimitPerMin: 1_000_000, voicemail })];
    },
  });
  const log = createLogger('silent');
  const h: Harness = {
    t, fake, clock, dialer, voicemailTts, voicemail,
    // On the background handle, as the server runs it (a longer query deadline than requests).
    scheduler: () => new CampaignScheduler({ sql: backgroundHandle(t.db.sql), dialer, log, now: clock.now, concurrency: 50, outageBackoff: { baseMs: 60_000, maxMs: 600_000, jitter: 0 } }),
    async company() {
      const c = await t.createCompany();
      const botNumber = `+1555777${String(++botNo).padStart(4, '0')}`;
      const bot = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(c.apiKey), payload: botBody({ name: 'Ava', phone_number: botNumber }) });
      expect(bot.statusCode).toBe(201);
      await t.app.inject({ method: 'PUT', url: '/v1/company/webhook', headers: t.as(c.apiKey), payload: { url: 'https://hooks.example.com/parley' } });
      return { ...c, botId: bot.json().id as string, botNumber };
    },
    api: (apiKey, method, url, payload) =>
      t.app.inject({ method, url, headers: t.as(apiKey), ...(payload !== undefined ? { payload: payload as object } : {}) }),
    twilio: (path, form) =>
      t.app.inject({
        method: 'POST', url: path,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeSignature(AUTH, `${ORIGIN}${path}`, form) },
        payload: new URLSearchParams(form).toString(),
      }),
    async campaign(apiKey, botId, body, contacts) {
      const created = await h.api(apiKey, 'POST', '/v1/campaigns', { bot_id: botId, name: 'Reminders', windows: ALWAYS, ...body });
      expect(created.statusCode, created.body).toBe(201);
      const id = created.json().id as string;
      const up = await h.api(apiKey, 'POST', `/v1/campaigns/${id}/contacts`, { contacts });
      expect(up.statusCode, up.body).toBe(200);
      expect(up.json().rejected).toEqual([]);
      const scheduled = await h.api(apiKey, 'POST', `/v1/campaigns/${id}/schedule`);
      expect(scheduled.statusCode, scheduled.body).toBe(200);
      return id;
    },
    dialsTo: (phone) => fake.requests.filter((r) => r.path.endsWith('/Calls.json') && r.form.get('To') === phone).length,
    async endCall(phone, status = 'no-answer', extra = {}) {
      const [call] = await t.db.sql<{ id: string; twilio_call_sid: string }[]>`
        select id, twilio_call_sid from calls where to_number = ${phone} and direction = 'outbound' order by started_at desc limit 1`;
      expect(call, `a call to ${phone}`).toBeDefined();
      const res = await h.twilio(`/twilio/status/${call!.id}`, { CallSid: call!.twilio_call_sid, CallStatus: status, SequenceNumber: '9', ...extra });
      expect(res.statusCode).toBe(204);
    },
    async close() {
      await t.close();
      await fake.close();
    },
  };
  return h;
}

export async function contactRow(h: Harness, campaignId: string, phone: string) {
  const [row] = await h.t.db.sql<{ state: string; attempts: number; next_attempt_at: Date; skip_reason: string | null; deferred_reason: string | null; last_outcome: string | null }[]>`
    select state, attempts, next_attempt_at, skip_reason, deferred_reason, last_outcome from campaign_contacts where campaign_id = ${campaignId} and phone = ${phone}`;
  return row!;
}
