import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTBOUND_PATH } from '../../src/telephony/twilio/outbound.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { SHUTDOWN_NOTICE, SHUTDOWN_REFUSAL, twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { verifyCallToken } from '../../src/telephony/call-token.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

const AUTH = 'twilio-auth-token-test';
const ORIGIN = 'https://voice.example.com';
const SECRET = 'call-token-secret';

describe('Twilio voice and status webhooks', () => {
  let t: TestApp;
  let company: { companyId: string; apiKey: string };
  let botId: string;
  const prewarmed: Array<{ callId: string; botId: string }> = [];
  /** The server is stopping with no other instance to take a call (server.ts takesNewCalls). */
  let stoppingAlone = false;

  const post = (path: string, form: Record<string, string>, signature?: string) => {
    const sig = signature ?? computeSignature(AUTH, `${ORIGIN}${path}`, form);
    return t.app.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig }, payload: new URLSearchParams(form).toString() });
  };

  beforeAll(async () => {
    t = await createTestApp({
      publicRoutes: (db) => [twilioVoiceRoutes({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: SECRET, prewarm: (callId, bot) => void prewarmed.push({ callId, botId: bot.id }), takesNewCalls: async () => !stoppingAlone })],
    });
    company = await t.createCompany();
    const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey), payload: botBody({ phone_number: '+15557770000' }) });
    botId = res.json().id;
  });
  afterAll(async () => t.close());

  it('refuses a bad or missing signature with 403', async () => {
    const form = { CallSid: 'CAbad', From: '+15551112222', To: '+15557770000' };
    expect((await post('/twilio/voice', form, 'bogus')).statusCode).toBe(403);
    const noSig = await t.app.inject({ method: 'POST', url: '/twilio/voice', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(form).toString() });
    expect(noSig.statusCode).toBe(403);
    // A signature over different params (tampered body) fails too.
    const sig = computeSignature(AUTH, `${ORIGIN}/twilio/voice`, { ...form, To: '+15550000000' });
    expect((await post('/twilio/voice', form, sig)).statusCode).toBe(403);
    expect((await t.db.sql`select count(*)::int as n from calls where twilio_call_sid = 'CAbad'`)[0]!.n).toBe(0);
  });

  it('answers a known number with <Connect><Stream> and a signed token, creating the call row', async () => {
    const res = await post('/twilio/voice', { CallSid: 'CA100', From: '+15551112222', To: '+15557770000', Direction: 'inbound' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/xml');
    expect(res.body).toContain('<Connect><Stream url="wss://voice.example.com/twilio/media">');
    const callId = /name="callId" value="([^"]+)"/.exec(res.body)![1]!;
    const token = /name="token" value="([^"]+)"/.exec(res.body)![1]!;
    expect(verifyCallToken(SECRET, token, 'twilio-media')).toMatchObject({ callId });
    const [call] = await t.db.sql`select * from calls where id = ${callId}`;
    expect(call).toMatchObject({ bot_id: botId, company_id: company.companyId, direction: 'inbound', status: 'ringing', from_number: '+15551112222', twilio_call_sid: 'CA100' });
    // The call's provider sessions start opening while Twilio sets up the stream.
    expect(prewarmed).toEqual([{ callId, botId }]);
  });

  it('a call that comes in while the server stops with no other instance hears that the line is busy and is ended with why, never left ringing', async () => {
    stoppingAlone = true;
    try {
      const res = await post('/twilio/voice', { CallSid: 'CA150', From: '+15551112222', To: '+15557770000', Direction: 'inbound' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain(SHUTDOWN_NOTICE.en);
      expect(res.body).toContain('<Hangup/>');
      expect(res.body).not.toContain('<Stream');
      const [call] = await t.db.sql`select id, status, end_reason, ended_at from calls where twilio_call_sid = 'CA150'`;
      expect(call).toMatchObject({ status: 'failed', end_reason: SHUTDOWN_REFUSAL });
      expect(call!.ended_at).not.toBeNull();
      expect(prewarmed.map((p) => p.callId)).not.toContain(call!.id);
      // Twilio's retry of the same webhook finds the call ended: a plain hang-up.
      expect((await post('/twilio/voice', { CallSid: 'CA150', From: '+15551112222', To: '+15557770000', Direction: 'inbound' })).body).not.toContain('<Stream');
    } finally {
      stoppingAlone = false;
    }
  });

  it('a call the server placed, answered while it stops with no other instance, hears why and is ended, never streamed', async () => {
    const [placed] = await t.db.sql<{ id: string }[]>`
      insert into calls (company_id, bot_id, direction, status, from_number, to_number)
      values (${company.companyId}, ${botId}, 'outbound', 'ringing', '+15557770000', '+15551112222') returning id`;
    const answer = { CallSid: 'CA160', From: '+15557770000', To: '+15551112222', CallStatus: 'in-progress' };
    stoppingAlone = true;
    try {
      const res = await post(`${OUTBOUND_PATH}/${placed!.id}`, answer);
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain(SHUTDOWN_NOTICE.en);
      expect(res.body).toContain('<Hangup/>');
      expect(res.body).not.toContain('<Stream');
      const [call] = await t.db.sql`select status, end_reason, ended_at, twilio_call_sid from calls where id = ${placed!.id}`;
      expect(call).toMatchObject({ status: 'failed', end_reason: SHUTDOWN_REFUSAL, twilio_call_sid: 'CA160' });
      expect(call!.ended_at).not.toBeNull();
      expect(prewarmed.map((p) => p.callId)).not.toContain(placed!.id);
    } finally {
      stoppingAlone = false;
    }
    // Twilio's retry of the answer finds the call ended: a plain hang-up, nothing streamed.
    expect((await post(`${OUTBOUND_PATH}/${placed!.id}`, answer)).body).not.toContain('<Stream');
  });

  it('apologises and hangs up on an unknown or inactive number, recording a failed call', async () => {
    const res = await post('/twilio/voice', { CallSid: 'CA200', From: '+15551112222', To: '+15559990000' });
    expect(res.body).toContain('<Say');
    expect(res.body).toContain('<Hangup/>');
    const [call] = await t.db.sql`select * from calls where twilio_call_sid = 'CA200'`;
    expect(call).toMatchObject({ status: 'failed', bot_id: null });
    expect(prewarmed.map((p) => p.callId)).not.toContain(call!.id);
    expect(call!.failure_reason).toContain('+15559990000');

    await t.app.inject({ method: 'DELETE', url: `/v1/bots/${botId}`, headers: t.as(company.apiKey) });
    const off = await post('/twilio/voice', { CallSid: 'CA201', From: '+15551112222', To: '+15557770000' });
    expect(off.body).toContain('<Hangup/>');
    await t.app.inject({ method: 'PATCH', url: `/v1/bots/${botId}`, headers: t.as(company.apiKey), payload: { is_active: true } });
  });

  it('applies status callbacks forward only, whatever order they arrive in', async () => {
    await post('/twilio/voice', { CallSid: 'CA300', From: '+15551112222', To: '+15557770000' });
    const status = (s: string, seq: number, extra: Record<string, string> = {}) => post('/twilio/status', { CallSid: 'CA300', CallStatus: s, SequenceNumber: String(seq), ...extra });
    expect((await status('in-progress', 1)).statusCode).toBe(204);
    expect((await status('completed', 3, { CallDuration: '42' })).statusCode).toBe(204);
    // Late arrivals of earlier states change nothing.
    await status('ringing', 0);
    await status('in-progress', 1);
    const [call] = await t.db.sql`select status, duration_sec, ended_at, answered_at from calls where twilio_call_sid = 'CA300'`;
    expect(call).toMatchObject({ status: 'completed', duration_sec: 42 });
    expect(call!.ended_at).not.toBeNull();
    expect(call!.answered_at).not.toBeNull();
    // Another terminal status cannot replace the first.
    await status('failed', 4);
    expect((await t.db.sql`select status from calls where twilio_call_sid = 'CA300'`)[0]!.status).toBe('completed');
  });

  it('a call that never connected ends from the status callback and is queued for analysis', async () => {
    await post('/twilio/voice', { CallSid: 'CA400', From: '+15551112222', To: '+15557770000' });
    await post('/twilio/status', { CallSid: 'CA400', CallStatus: 'no-answer', SequenceNumber: '2' });
    const [call] = await t.db.sql`select id, status from calls where twilio_call_sid = 'CA400'`;
    expect(call!.status).toBe('no_answer');
    const jobs = await t.db.sql`select kind from jobs where dedupe_key = ${`analyze:${call!.id}`}`;
    expect(jobs.map((j) => j.kind)).toEqual(['analyze_call']);
  });

  it('rejects a status callback with a bad signature', async () => {
    expect((await post('/twilio/status', { CallSid: 'CA300', CallStatus: 'failed' }, 'nope')).statusCode).toBe(403);
  });

  describe('limits before any parsing or signature work', () => {
    const rawPost = (path: string, payload: string, contentType = 'application/x-www-form-urlencoded', signature = 'any-signature') =>
      t.app.inject({ method: 'POST', url: path, headers: { 'content-type': contentType, 'x-twilio-signature': signature }, payload });
    /** `count` parameters of the shape Twilio would send, e.g. p00042=value. */
    const formOf = (count: number) => Array.from({ length: count }, (_, i) => `p${String(i).padStart(5, '0')}=v`).join('&');

    it('refuses a 900 KB form of 100,000 parameters with 413, unread, whatever the signature', async () => {
      const body = formOf(100_000);
      expect(body.length).toBeGreaterThan(800_000);
      for (const path of ['/twilio/voice', '/twilio/status', '/twilio/status/3f1f5a3c-6c38-4a43-9d8a-0f3e5f9d9b11']) {
        const res = await rawPost(path, body);
        // 413, not 403: the request never reached the signature check (which runs after parsing).
        expect(res.statusCode, path).toBe(413);
        expect(res.json()).toMatchObject({ error: { code: 'PARLEY_ERR_PAYLOAD_TOO_LARGE' } });
      }
      // Any content type: a large JSON body on a Twilio route is refused the same way.
      expect((await rawPost('/twilio/voice', JSON.stringify({ a: 'x'.repeat(100_000) }), 'application/json')).statusCode).toBe(413);
    });

    it('refuses a form of more than 200 parameters with 400 even when it fits the size limit and is signed', async () => {
      const many = formOf(7_000);
      expect(many.length).toBeLessThan(64 * 1024);
      const res = await rawPost('/twilio/voice', many);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'PARLEY_ERR_VALIDATION', message: expect.stringContaining('200 parameters') } });

      const form: Record<string, string> = { CallSid: 'CA500', From: '+15551112222', To: '+15557770000' };
      for (let i = 0; i < 198; i++) form[`X${i}`] = 'v';
      expect((await post('/twilio/voice', form)).statusCode).toBe(400); // 201 parameters, correctly signed
      delete form.X197;
      delete form.X196;
      const ok = await post('/twilio/voice', form); // 199 parameters
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('<Connect><Stream');
    });
  });
});

describe('Twilio webhook rate limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      publicRoutes: (db) => [twilioVoiceRoutes({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: SECRET, rateLimitPerMin: 5 })],
    });
  });
  afterAll(async () => t.close());

  const fromIp = (ip: string, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST', url: '/twilio/status', remoteAddress: ip, payload: 'CallSid=CA1&CallStatus=completed',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'bad', ...headers },
    });

  it('answers 429 with Retry-After once a client IP exceeds TWILIO_RATE_LIMIT_PER_MIN, per IP', async () => {
    for (let i = 0; i < 5; i++) expect((await fromIp('203.0.113.7')).statusCode).toBe(403);
    const limited = await fromIp('203.0.113.7');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json()).toMatchObject({ error: { code: 'PARLEY_ERR_RATE_LIMITED' } });
    // X-Forwarded-For from a peer that is not a trusted proxy does not pick another client IP.
    expect((await fromIp('203.0.113.7', { 'x-forwarded-for': '198.51.100.99' })).statusCode).toBe(429);
    // Another client is not affected.
    expect((await fromIp('203.0.113.8')).statusCode).toBe(403);
  });
});
