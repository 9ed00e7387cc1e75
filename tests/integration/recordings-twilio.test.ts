/**
 * Twilio call recordings: the answering TwiML starts a dual-channel recording after the bot's notice, the signed
 * recording callback stores it on the call (idempotent; unknown calls 404 untouched), GET /v1/calls/:id/recording
 * streams it from Twilio (the fake REST API) for the owning company only, and erasure / retention delete it at
 * Twilio.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeExpired } from '../../src/privacy/retention.js';
import { recordingServices } from '../../src/recordings/settings.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { FakeTwilioRest } from '../fakes/fakeTwilioRest.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

const AUTH = 'twilio-token';
const ORIGIN = 'https://voice.example.com';
const SID = (n: number) => `RE${String(n).padStart(32, '0')}`;

let t: TestApp;
let twilio: FakeTwilioRest;
let a: { companyId: string; apiKey: string };
let b: { companyId: string; apiKey: string };

const post = (path: string, form: Record<string, string>, signature?: string) =>
  t.app.inject({
    method: 'POST', url: path,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature ?? computeSignature(AUTH, `${ORIGIN}${path}`, form) },
    payload: new URLSearchParams(form).toString(),
  });

async function newBot(company: { apiKey: string }, phone: string, config: Record<string, unknown> = {}) {
  const body = botBody({ phone_number: phone });
  const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey), payload: { ...body, config: { ...(body.config as object), ...config } } });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
}

async function answer(callSid: string, to: string): Promise<{ callId: string; twiml: string }> {
  const res = await post('/twilio/voice', { CallSid: callSid, From: '+15551112222', To: to, Direction: 'inbound' });
  expect(res.statusCode).toBe(200);
  return { callId: /name="callId" value="([^"]+)"/.exec(res.body)![1]!, twiml: res.body };
}

const completed = (callSid: string, recordingSid: string, extra: Record<string, string> = {}) => ({
  AccountSid: twilio.accountSid, CallSid: callSid, RecordingSid: recordingSid, RecordingStatus: 'completed',
  RecordingUrl: `https://api.twilio.com/2010-04-01/Accounts/${twilio.accountSid}/Recordings/${recordingSid}`,
  RecordingDuration: '42', RecordingChannels: '2', RecordingSource: 'StartCallRecordingTwiML', ...extra,
});

async function keyWith(company: { apiKey: string }, scopes: string[]): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(company.apiKey), payload: { name: scopes.join(' '), scopes } });
  expect(res.statusCode).toBe(201);
  return res.json().key as string;
}

beforeAll(async () => {
  twilio = await FakeTwilioRest.start('AC00000000000000000000000000000042', AUTH);
  t = await createTestApp({
    env: { TWILIO_ACCOUNT_SID: twilio.accountSid, TWILIO_AUTH_TOKEN: AUTH, TWILIO_API_URL: twilio.url, PUBLIC_URL: ORIGIN },
    publicRoutes: (db) => [twilioVoiceRoutes({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: 'call-token-secret' })],
  });
  a = await t.createCompany('Recorded');
  b = await t.createCompany('Other');
  await newBot(a, '+15557770001', { recording: { enabled: true, notice: 'This call is recorded.' } });
  await newBot(a, '+15557770002');
  await newBot(b, '+15557770003', { recording: { enabled: true } });
}, 60_000);
afterAll(async () => {
  await t.close();
  await twilio.close();
});

describe('recording TwiML', () => {
  it('says the notice, starts a dual-channel recording reporting to the call\'s callback, then connects the stream', async () => {
    const { callId, twiml } = await answer('CA1001', '+15557770001');
    const say = twiml.indexOf('<Say language="en-US">This call is recorded.</Say>');
    const start = twiml.indexOf(`<Start><Recording channels="dual" recordingStatusCallback="${ORIGIN}/twilio/recording/${callId}" recordingStatusCallbackEvent="completed"/></Start>`);
    const connect = twiml.indexOf('<Connect><Stream');
    expect(say).toBeGreaterThan(0);
    expect(start).toBeGreaterThan(say);
    expect(connect).toBeGreaterThan(start);
  });

  it('records outbound calls too: the answer URL of a placed call starts the recording the same way', async () => {
    const [bot] = await t.db.sql<{ id: string }[]>`select id from bots where phone_number = '+15557770001'`;
    const [call] = await t.db.sql<{ id: string }[]>`
      insert into calls (company_id, bot_id, direction, from_number, to_number, status)
      values (${a.companyId}, ${bot!.id}, 'outbound', '+15557770001', '+15550001111', 'ringing') returning id`;
    const res = await post(`/twilio/outbound/${call!.id}`, { CallSid: 'CA1003', CallStatus: 'in-progress' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`<Start><Recording channels="dual" recordingStatusCallback="${ORIGIN}/twilio/recording/${call!.id}"`);
    expect(res.body.indexOf('<Start>')).toBeLessThan(res.body.indexOf('<Connect>'));
  });

  it('records nothing for a bot that does not record (the default)', async () => {
    const { twiml } = await answer('CA1002', '+15557770002');
    expect(twiml).not.toContain('<Start>');
    expect(twiml).not.toContain('<Say');
  });

  it('a notice with control characters is a 400; one stored before that rule still answers the call, without them', async () => {
    const body = botBody();
    const res = await t.app.inject({
      method: 'POST', url: '/v1/bots', headers: t.as(a.apiKey),
      payload: { ...body, config: { ...(body.config as object), recording: { enabled: true, notice: 'This call is recorded.\u000bThank you.' } } },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toContain('notice');
    const [bot] = await t.db.sql<{ id: string }[]>`select id from bots where phone_number = '+15557770001'`;
    await t.db.sql`update bots set config = jsonb_set(config, '{recording,notice}', to_jsonb(${'Recorded.\u000b\u001fThanks \ufffe.'}::text)) where id = ${bot!.id}`;
    try {
      const { twiml } = await answer('CA1004', '+15557770001');
      expect(twiml).toContain('<Say language="en-US">Recorded.  Thanks  .</Say>');
      const [call] = await t.db.sql`select status from calls where twilio_call_sid = 'CA1004'`;
      expect(call!.status).not.toBe('failed');
    } finally {
      await t.db.sql`update bots set config = jsonb_set(config, '{recording,notice}', '"This call is recorded."') where id = ${bot!.id}`;
    }
  });

  it('a recording setting that is not a boolean, or unknown fields, are a 400 and change nothing', async () => {
    for (const recording of [{ enabled: 'always' }, { enabled: true, channels: 'mono' }, { enabled: true, notice: '' }]) {
      const body = botBody();
      const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(a.apiKey), payload: { ...body, config: { ...(body.config as object), recording } } });
      expect(res.statusCode).toBe(400);
    }
  });
});

describe('recording status callback', () => {
  let callId: string;
  beforeAll(async () => {
    ({ callId } = await answer('CA2001', '+15557770001'));
  });
  const columns = async (id: string) => (await t.db.sql`
    select recording_sid, recording_url, recording_duration_sec, recording_channels, recording_key from calls where id = ${id}`)[0];

  it('refuses a bad signature and malformed SIDs, and 404s a call it does not know without touching anything', async () => {
    const path = `/twilio/recording/${callId}`;
    expect((await post(path, completed('CA2001', SID(1)), 'bogus')).statusCode).toBe(403);
    expect((await post(path, completed('CA2001', 'RE-not-a-sid'))).statusCode).toBe(400);
    expect((await post(path, completed('CA9999', SID(1)))).statusCode).toBe(404); // another CallSid
    const unknown = '3f1e2d4c-0000-4000-8000-00000000abcd';
    expect((await post(`/twilio/recording/${unknown}`, completed('CA2001', SID(1)))).statusCode).toBe(404);
    expect(await columns(callId)).toMatchObject({ recording_sid: null, recording_url: null });
  });

  it('stores a completed recording once; repeated or later callbacks change nothing', async () => {
    const path = `/twilio/recording/${callId}`;
    expect((await post(path, { ...completed('CA2001', SID(1)), RecordingStatus: 'in-progress' })).statusCode).toBe(204);
    expect((await columns(callId))!.recording_sid).toBeNull();
    expect((await post(path, completed('CA2001', SID(1)))).statusCode).toBe(204);
    const stored = { recording_sid: SID(1), recording_url: completed('CA2001', SID(1)).RecordingUrl, recording_duration_sec: 42, recording_channels: 2, recording_key: null };
    expect(await columns(callId)).toEqual(stored);
    expect((await post(path, completed('CA2001', SID(1)))).statusCode).toBe(204);
    expect((await post(path, completed('CA2001', SID(2), { RecordingDuration: '7' }))).statusCode).toBe(204);
    expect(await columns(callId)).toEqual(stored);
  });
});

describe('GET /v1/calls/:id/recording (Twilio)', () => {
  let callId: string;
  let bareCallId: string;
  const media = Buffer.alloc(50_000);
  beforeAll(async () => {
    for (let i = 0; i < media.length; i++) media[i] = i % 251;
    twilio.recordings.set(SID(3), media);
    ({ callId } = await answer('CA3001', '+15557770001'));
    expect((await post(`/twilio/recording/${callId}`, completed('CA3001', SID(3)))).statusCode).toBe(204);
    ({ callId: bareCallId } = await answer('CA3002', '+15557770002'));
  });

  it('streams the recording from Twilio to the owning company, with the account\'s basic auth', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/calls/${callId}/recording`, headers: t.as(a.apiKey) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('audio/wav');
    expect(res.rawPayload.equals(media)).toBe(true);
    const detail = await t.app.inject({ method: 'GET', url: `/v1/calls/${callId}`, headers: t.as(a.apiKey) });
    expect(detail.json().recording).toEqual({ source: 'twilio', duration_sec: 42, channels: 2 });
    const fetched = twilio.requests.filter((r) => r.method === 'GET');
    expect(fetched.at(-1)!.path).toBe(`/2010-04-01/Accounts/${twilio.accountSid}/Recordings/${SID(3)}.wav`);
  });

  it('404s another company\'s call, a call without a recording and an unknown call alike; 403 without the scope', async () => {
    for (const [id, key] of [[callId, b.apiKey], [bareCallId, a.apiKey], ['3f1e2d4c-0000-4000-8000-00000000ffff', a.apiKey]] as const) {
      const res = await t.app.inject({ method: 'GET', url: `/v1/calls/${id}/recording`, headers: t.as(key) });
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe('PARLEY_ERR_NOT_FOUND');
    }
    const callsOnly = await keyWith(a, ['calls:read']);
    expect((await t.app.inject({ method: 'GET', url: `/v1/calls/${callId}/recording`, headers: t.as(callsOnly) })).statusCode).toBe(403);
    const recordingsOnly = await keyWith(a, ['recordings:read']);
    expect((await t.app.inject({ method: 'GET', url: `/v1/calls/${callId}/recording`, headers: t.as(recordingsOnly) })).statusCode).toBe(200);
  });

  it('Twilio\'s recording URL (which may download the audio) only to keys that may read recordings: call list, call and export', async () => {
    const url = completed('CA3001', SID(3)).RecordingUrl;
    const shown = async (key: string) => {
      const one = (await t.app.inject({ method: 'GET', url: `/v1/calls/${callId}`, headers: t.as(key) })).json().recording_url;
      const listed = (await t.app.inject({ method: 'GET', url: '/v1/calls?limit=100', headers: t.as(key) })).json().data.find((c: { id: string }) => c.id === callId)?.recording_url;
      const exported = await t.app.inject({ method: 'GET', url: '/v1/export?types=call', headers: t.as(key) });
      const line = exported.statusCode === 200 ? exported.body.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((r) => r.id === callId) : undefined;
      return { one, listed, exported: line?.recording_url };
    };
    const callsAndExport = await keyWith(a, ['calls:read', 'export:read']);
    expect(await shown(callsAndExport)).toEqual({ one: null, listed: null, exported: null });
    const withRecordings = await keyWith(a, ['calls:read', 'export:read', 'recordings:read']);
    expect(await shown(withRecordings)).toEqual({ one: url, listed: url, exported: url });
  });

  it('a recording Twilio no longer has is a 404', async () => {
    const { callId: gone } = await answer('CA3003', '+15557770001');
    await post(`/twilio/recording/${gone}`, completed('CA3003', SID(4)));
    expect((await t.app.inject({ method: 'GET', url: `/v1/calls/${gone}/recording`, headers: t.as(a.apiKey) })).statusCode).toBe(404);
  });
});

describe('deleting Twilio recordings', () => {
  it('erasure of the caller\'s number deletes the recording at Twilio and the reference on the call', async () => {
    twilio.recordings.set(SID(5), Buffer.from('audio'));
    const res = await post('/twilio/voice', { CallSid: 'CA5001', From: '+15553334444', To: '+15557770001', Direction: 'inbound' });
    const callId = /name="callId" value="([^"]+)"/.exec(res.body)![1]!;
    await post(`/twilio/recording/${callId}`, completed('CA5001', SID(5)));
    // Another company's erasure of the same number touches nothing of this company.
    const other = await t.app.inject({ method: 'DELETE', url: '/v1/privacy/phone-numbers/%2B15553334444', headers: t.as(b.apiKey) });
    expect(other.json()).toMatchObject({ calls: 0, recordings: 0 });
    expect(twilio.recordings.has(SID(5))).toBe(true);

    const erased = await t.app.inject({ method: 'DELETE', url: '/v1/privacy/phone-numbers/%2B15553334444', headers: t.as(a.apiKey) });
    expect(erased.statusCode).toBe(200);
    expect(erased.json()).toMatchObject({ calls: 1, recordings: 1 });
    expect(twilio.recordings.has(SID(5))).toBe(false);
    expect(twilio.requests.some((r) => r.method === 'DELETE' && r.path.endsWith(`/Recordings/${SID(5)}.json`))).toBe(true);
    const [row] = await t.db.sql`select recording_sid, recording_url from calls where id = ${callId}`;
    expect(row).toEqual({ recording_sid: null, recording_url: null });
    expect((await t.db.sql`select count(*)::int as n from recording_deletions`)[0]!.n).toBe(0);
  });

  it('the retention purge deletes the recording at Twilio after the call; a Twilio outage keeps it queued for a retry', async () => {
    twilio.recordings.set(SID(6), Buffer.from('audio'));
    const { callId } = await answer('CA6001', '+15557770001');
    await post(`/twilio/recording/${callId}`, completed('CA6001', SID(6)));
    await t.db.sql`update calls set started_at = now() - interval '40 days' where id = ${callId}`;
    await t.db.sql`update companies set retention_days = 30 where id = ${a.companyId}`;
    const deleter = recordingServices(t.config);
    twilio.failures.push(503);
    const first = await purgeExpired(t.db.sql, { recordings: deleter });
    expect(first.calls).toBeGreaterThanOrEqual(1);
    expect(first.recordings).toBeGreaterThanOrEqual(1);
    expect(twilio.recordings.has(SID(6))).toBe(true);
    const [queued] = await t.db.sql`select recording_sid, attempts, last_error from recording_deletions where recording_sid = ${SID(6)}`;
    expect(queued).toMatchObject({ recording_sid: SID(6), attempts: 1 });
    await t.db.sql`update recording_deletions set next_attempt_at = now()`;
    await purgeExpired(t.db.sql, { recordings: deleter });
    expect(twilio.recordings.has(SID(6))).toBe(false);
    expect((await t.db.sql`select count(*)::int as n from recording_deletions`)[0]!.n).toBe(0);
    await t.db.sql`update companies set retention_days = null where id = ${a.companyId}`;
  });
});
