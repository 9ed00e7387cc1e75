/**
 * What Twilio's webhooks do with fields Twilio never sends that way, and with requests Twilio repeats: a field sent
 * twice is a 400 that changes nothing (it was stored joined, 'CA1,CA2'); a count out of the column's range is
 * ignored, not a 400 that loses the callback's news; a repeated voice webhook finds the call it made; a call's own
 * status URL moves only the outbound call Parley gave it for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCall } from '../../src/call/lifecycle.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

const AUTH = 'twilio-auth-token-test';
const ORIGIN = 'https://voice.example.com';
const SECRET = 'call-token-secret';
const NUMBER = '+15557770000';
const RECORDING_SID = `RE${'a'.repeat(32)}`;

type Params = Record<string, string | string[]>;

describe('Twilio webhook fields and repeated webhooks', () => {
  let t: TestApp;
  let company: { companyId: string; apiKey: string };
  let botId: string;

  /** Posts `params` as a form (an array is a field repeated), signed as Twilio signs it. */
  const post = (path: string, params: Params) => {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const one of [v].flat()) body.append(k, one);
    return t.app.inject({
      method: 'POST', url: path, payload: body.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeSignature(AUTH, `${ORIGIN}${path}`, params as Record<string, string>) },
    });
  };
  const callBySid = async (sid: string) => (await t.db.sql`select * from calls where twilio_call_sid = ${sid}`)[0];
  const events = async (callId: string) => (await t.db.sql`select type from webhook_events where ordering_key = ${callId} order by seq`).map((e) => e.type);
  const inbound = async (sid: string) => {
    const res = await post('/twilio/voice', { CallSid: sid, From: '+15551112222', To: NUMBER });
    expect(res.body).toContain('<Connect><Stream');
    return (await callBySid(sid))!;
  };
  const outbound = () => createCall(t.db.sql, { companyId: company.companyId, botId, direction: 'outbound', from: NUMBER, to: '+15551239999', status: 'queued' });

  beforeAll(async () => {
    t = await createTestApp({ publicRoutes: (db) => [twilioVoiceRoutes({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: SECRET })] });
    company = await t.createCompany();
    botId = (await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey), payload: botBody({ phone_number: NUMBER }) })).json().id;
    const hook = await t.app.inject({ method: 'PUT', url: '/v1/company/webhook', headers: t.as(company.apiKey), payload: { url: 'https://hooks.example.com/parley' } });
    expect(hook.statusCode).toBe(200);
  });
  afterAll(async () => t.close());

  it('refuses a field sent twice on every webhook with 400, storing and changing nothing', async () => {
    const voice = await post('/twilio/voice', { CallSid: ['CAtwice1', 'CAtwice2'], From: '+15551112222', To: NUMBER });
    expect(voice.statusCode).toBe(400);
    const from = await post('/twilio/voice', { CallSid: 'CAtwice3', From: ['+15551112222', '+15553334444'], To: NUMBER });
    expect(from.statusCode).toBe(400);
    expect((await t.db.sql`select count(*)::int as n from calls where twilio_call_sid like 'CAtwice%'`)[0]!.n).toBe(0);

    // Twilio signs a doubled value like a single one: a captured callback replayed with a field doubled passes the check.
    const call = await inbound('CAtwice4');
    const status = await post('/twilio/status', { CallSid: ['CAtwice4', 'CAtwice4'], CallStatus: 'completed' });
    expect(status.statusCode).toBe(400);
    const own = await post('/twilio/status', { CallSid: 'CAtwice4', CallStatus: ['completed', 'busy'] });
    expect(own.statusCode).toBe(400);
    expect(await callBySid('CAtwice4')).toMatchObject({ status: 'ringing', ended_at: null });

    const placed = await outbound();
    const answer = await post(`/twilio/outbound/${placed.id}`, { CallSid: ['CAtwice5', 'CAtwice6'], AnsweredBy: 'human' });
    expect(answer.statusCode).toBe(400);
    expect((await t.db.sql`select twilio_call_sid from calls where id = ${placed.id}`)[0]!.twilio_call_sid).toBeNull();

    const recording = await post(`/twilio/recording/${call.id}`, { CallSid: 'CAtwice4', RecordingSid: RECORDING_SID, RecordingStatus: 'completed', RecordingUrl: ['https://a.example', 'https://b.example'] });
    expect(recording.statusCode).toBe(400);
    expect((await t.db.sql`select recording_sid from calls where id = ${call.id}`)[0]!.recording_sid).toBeNull();
  });

  it('applies a final callback whose counts are out of range, ignoring them: the call ends once', async () => {
    const call = await inbound('CArange1');
    const res = await post('/twilio/status', { CallSid: 'CArange1', CallStatus: 'completed', SequenceNumber: '99999999999', CallDuration: '99999999999' });
    expect(res.statusCode).toBe(204);
    expect(await callBySid('CArange1')).toMatchObject({ status: 'completed', duration_sec: 0 });
    expect(await post('/twilio/status', { CallSid: 'CArange1', CallStatus: 'completed', SequenceNumber: '-5', CallDuration: '1e3' })).toMatchObject({ statusCode: 204 });
    expect(await events(call.id)).toEqual(['call.ended']);

    const recording = await post(`/twilio/recording/${call.id}`, { CallSid: 'CArange1', RecordingSid: RECORDING_SID, RecordingStatus: 'completed', RecordingDuration: '99999999999', RecordingChannels: '2' });
    expect(recording.statusCode).toBe(204);
    expect((await t.db.sql`select recording_sid, recording_duration_sec from calls where id = ${call.id}`)[0]).toEqual({ recording_sid: RECORDING_SID, recording_duration_sec: null });
  });

  it('answers a repeated voice webhook with the call it made while it is live, and hangs up once it has ended', async () => {
    const call = await inbound('CAagain1');
    const again = await post('/twilio/voice', { CallSid: 'CAagain1', From: '+15551112222', To: NUMBER });
    expect(again.body).toContain('<Connect><Stream');
    expect(/name="callId" value="([^"]+)"/.exec(again.body)![1]).toBe(call.id);

    await post('/twilio/status', { CallSid: 'CAagain1', CallStatus: 'completed', CallDuration: '4' });
    const late = await post('/twilio/voice', { CallSid: 'CAagain1', From: '+15551112222', To: NUMBER });
    expect(late.statusCode).toBe(200);
    expect(late.body).not.toContain('<Stream');
    expect(late.body).toContain('<Hangup/>');
    expect(await callBySid('CAagain1')).toMatchObject({ id: call.id, status: 'completed', duration_sec: 4 });
    expect(await events(call.id)).toEqual(['call.ended']);
  });

  it('moves only an outbound call through its own status URL: a web call is never bound to a SID or ended by one', async () => {
    const web = await createCall(t.db.sql, { companyId: company.companyId, botId, direction: 'web', status: 'queued' });
    expect((await post(`/twilio/status/${web.id}`, { CallSid: 'CAweb1', CallStatus: 'completed' })).statusCode).toBe(204);
    expect((await t.db.sql`select status, twilio_call_sid, ended_at from calls where id = ${web.id}`)[0]).toEqual({ status: 'queued', twilio_call_sid: null, ended_at: null });
    expect(await events(web.id)).toEqual([]);

    const placed = await outbound();
    expect((await post(`/twilio/status/${placed.id}`, { CallSid: 'CAout1', CallStatus: 'busy' })).statusCode).toBe(204);
    expect((await t.db.sql`select status, twilio_call_sid from calls where id = ${placed.id}`)[0]).toEqual({ status: 'busy', twilio_call_sid: 'CAout1' });
    expect(await events(placed.id)).toEqual(['call.ended']);
  });
});
