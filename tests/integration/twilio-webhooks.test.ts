import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
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

  const post = (path: string, form: Record<string, string>, signature?: string) => {
    const sig = signature ?? computeSignature(AUTH, `${ORIGIN}${path}`, form);
    return t.app.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig }, payload: new URLSearchParams(form).toString() });
  };

  beforeAll(async () => {
    t = await createTestApp({
      publicRoutes: (db) => [twilioVoiceRoutes({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: SECRET, prewarm: (callId, bot) => void prewarmed.push({ callId, botId: bot.id }) })],
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
});
