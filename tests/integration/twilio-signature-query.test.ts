/**
 * Twilio signs the full URL it was given — query string included — plus the sorted POST parameters. A webhook
 * configured with a query string (e.g. behind a proxy: https://public.example/twilio/status?region=eu) must be
 * accepted with Twilio's signature, and a signature that does not cover the query the request carries refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

const AUTH = 'twilio-auth-token-test';
const ORIGIN = 'https://voice.example.com/parley';
const SECRET = 'call-token-secret';

describe('Twilio form webhooks and query strings', () => {
  let t: TestApp;

  const post = (path: string, form: Record<string, string>, signedUrl: string) =>
    t.app.inject({
      method: 'POST', url: path,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeSignature(AUTH, signedUrl, form) },
      payload: new URLSearchParams(form).toString(),
    });

  beforeAll(async () => {
    t = await createTestApp({
      publicRoutes: (db) => [twilioVoiceRoutes({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: SECRET })],
    });
    const company = await t.createCompany();
    const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey), payload: botBody({ phone_number: '+15557771111' }) });
    expect(res.statusCode).toBe(201);
  });
  afterAll(async () => t.close());

  it('accepts the voice webhook and a status callback signed over the public URL with its query string', async () => {
    const form = { CallSid: 'CAq1', From: '+15551112222', To: '+15557771111' };
    const voice = await post('/twilio/voice?region=eu&x=1', form, `${ORIGIN}/twilio/voice?region=eu&x=1`);
    expect(voice.statusCode).toBe(200);
    expect(voice.body).toContain('<Connect><Stream');

    const status = { CallSid: 'CAq1', CallStatus: 'in-progress', SequenceNumber: '1' };
    expect((await post('/twilio/status?region=eu', status, `${ORIGIN}/twilio/status?region=eu`)).statusCode).toBe(204);
    expect((await t.db.sql`select status from calls where twilio_call_sid = 'CAq1'`)[0]!.status).toBe('in_progress');
  });

  it('still accepts requests without a query string', async () => {
    const form = { CallSid: 'CAq2', From: '+15551112222', To: '+15557771111' };
    expect((await post('/twilio/voice', form, `${ORIGIN}/twilio/voice`)).statusCode).toBe(200);
  });

  it('refuses a signature that does not cover the query string the request carries', async () => {
    const form = { CallSid: 'CAq3', From: '+15551112222', To: '+15557771111' };
    // Signed without the query, sent with one added (or signed with another query).
    expect((await post('/twilio/voice?injected=1', form, `${ORIGIN}/twilio/voice`)).statusCode).toBe(403);
    expect((await post('/twilio/voice?a=2', form, `${ORIGIN}/twilio/voice?a=1`)).statusCode).toBe(403);
    const status = { CallSid: 'CAq3', CallStatus: 'completed' };
    expect((await post('/twilio/status?x=1', status, `${ORIGIN}/twilio/status`)).statusCode).toBe(403);
    expect((await t.db.sql`select count(*)::int as n from calls where twilio_call_sid = 'CAq3'`)[0]!.n).toBe(0);
  });
});
