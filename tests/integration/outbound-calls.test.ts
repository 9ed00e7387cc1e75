import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboundCallRoutes } from '../../src/api/routes/outbound-calls.js';
import { PgCallRecorder } from '../../src/call/recorder.js';
import { createLogger } from '../../src/log.js';
import { verifyCallToken } from '../../src/telephony/call-token.js';
import { OutboundDialer } from '../../src/telephony/twilio/outbound.js';
import { TwilioRestClient } from '../../src/telephony/twilio/rest.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { FakeTwilioRest } from '../fakes/fakeTwilioRest.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';
import { addDnc } from '../../src/campaigns/suppression.js';

const AUTH = 'twilio-auth-token-test';
const ORIGIN = 'https://voice.example.com';
const SECRET = 'call-token-secret';
const BOT_NUMBER = '+15557770001';
const CALLEE = '+15551230000';

describe('outbound calls', () => {
  let fake: FakeTwilioRest;
  let t: TestApp;
  let company: { companyId: string; apiKey: string };
  let botId: string;

  const twilioPost = (path: string, form: Record<string, string>, signedPath = path) =>
    t.app.inject({
      method: 'POST',
      url: path,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeSignature(AUTH, `${ORIGIN}${signedPath}`, form) },
      payload: new URLSearchParams(form).toString(),
    });
  type Bot = Parameters<OutboundDialer['place']>[0];
  const botRow = async (id = botId): Promise<Bot> => (await t.db.sql`select * from bots where id = ${id}`)[0] as Bot;
  /** A dialer whose Twilio is a function: lets a test act as Twilio while the create request is in flight. */
  const dialerWith = (createCall: ConstructorParameters<typeof OutboundDialer>[0]['rest']['createCall'], extra = {}) =>
    new OutboundDialer({ sql: t.db.sql, publicOrigin: ORIGIN, rest: { createCall }, ...extra });
  const dial = (bot: string, to: string, apiKey = company.apiKey) =>
    t.app.inject({ method: 'POST', url: `/v1/bots/${bot}/calls`, headers: t.as(apiKey), payload: { to } });

  beforeAll(async () => {
    fake = await FakeTwilioRest.start();
    t = await createTestApp({
      tenantRoutes: (db) => [
        outboundCallRoutes({
          sql: db.sql,
          dialer: new OutboundDialer({ sql: db.sql, publicOrigin: ORIGIN, rest: new TwilioRestClient({ accountSid: fake.accountSid, authToken: fake.authToken, baseUrl: fake.url, retryDelayMs: 1 }) }),
        }),
      ],
      publicRoutes: (db) => [twilioVoiceRoutes({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: SECRET })],
    });
    company = await t.createCompany();
    const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey), payload: botBody({ phone_number: BOT_NUMBER }) });
    botId = res.json().id;
    // Events are recorded for companies that receive webhooks.
    const hook = await t.app.inject({ method: 'PUT', url: '/v1/company/webhook', headers: t.as(company.apiKey), payload: { url: 'https://hooks.example.com/parley' } });
    expect(hook.statusCode).toBe(200);
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  it('creates the call, asks Twilio to dial with a per-call answer URL, and streams the answered call', async () => {
    const res = await dial(botId, CALLEE);
    expect(res.statusCode).toBe(201);
    const call = res.json();
    expect(call).toMatchObject({ bot_id: botId, direction: 'outbound', status: 'queued', from_number: BOT_NUMBER, to_number: CALLEE });
    expect(call.twilio_call_sid).toMatch(/^CA/);

    const request = fake.requests.at(-1)!;
    expect(request.path).toBe(`/2010-04-01/Accounts/${fake.accountSid}/Calls.json`);
    expect(request.form.get('To')).toBe(CALLEE);
    expect(request.form.get('From')).toBe(BOT_NUMBER);
    expect(request.form.get('Url')).toBe(`${ORIGIN}/twilio/outbound/${call.id}`);
    expect(request.form.get('StatusCallback')).toBe(`${ORIGIN}/twilio/status/${call.id}`);
    expect(request.form.getAll('StatusCallbackEvent')).toEqual(['initiated', 'ringing', 'answered', 'completed']);
    expect(request.form.get('TimeLimit')).toBe(String(1800 + 60));

    // The callee answers: Twilio fetches the answer URL, signed over that exact URL.
    const answer = { CallSid: call.twilio_call_sid, From: BOT_NUMBER, To: CALLEE, Direction: 'outbound-api', CallStatus: 'in-progress' };
    const twiml = await twilioPost(`/twilio/outbound/${call.id}`, answer);
    expect(twiml.statusCode).toBe(200);
    expect(twiml.body).toContain('<Connect><Stream url="wss://voice.example.com/twilio/media">');
    expect(/name="callId" value="([^"]+)"/.exec(twiml.body)![1]).toBe(call.id);
    const token = /name="token" value="([^"]+)"/.exec(twiml.body)![1]!;
    expect(verifyCallToken(SECRET, token, 'twilio-media')).toMatchObject({ callId: call.id });

    // Status callbacks move it along as for any call.
    expect((await twilioPost(`/twilio/status/${call.id}`, { CallSid: call.twilio_call_sid, CallStatus: 'completed', CallDuration: '42', SequenceNumber: '3' })).statusCode).toBe(204);
    const [row] = await t.db.sql`select status, duration_sec from calls where id = ${call.id}`;
    expect(row).toMatchObject({ status: 'completed', duration_sec: 42 });
  });

  it('refuses an answer signed for another URL, and hangs up on a SID that is not the call\'s', async () => {
    const call = (await dial(botId, CALLEE)).json();
    const other = (await dial(botId, '+15551230001')).json();
    const answer = { CallSid: call.twilio_call_sid, From: BOT_NUMBER, To: CALLEE, Direction: 'outbound-api' };
    // A valid signature for one call's URL replayed against another call's URL.
    expect((await twilioPost(`/twilio/outbound/${other.id}`, answer, `/twilio/outbound/${call.id}`)).statusCode).toBe(403);
    const wrongSid = await twilioPost(`/twilio/outbound/${call.id}`, { ...answer, CallSid: 'CAsomeoneelse' });
    expect(wrongSid.body).toContain('<Hangup/>');
    expect(wrongSid.body).not.toContain('<Stream');
  });

  it('with hang_up_on_machine, asks Twilio to detect machines and hangs up on one without a conversation', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/bots/${botId}/calls`, headers: t.as(company.apiKey), payload: { to: '+15551230020', hang_up_on_machine: true } });
    expect(res.statusCode).toBe(201);
    const call = res.json();
    expect(fake.requests.at(-1)!.form.get('MachineDetection')).toBe('Enable');
    const answer = { CallSid: call.twilio_call_sid, From: BOT_NUMBER, To: '+15551230020', Direction: 'outbound-api' };
    const machine = await twilioPost(`/twilio/outbound/${call.id}`, { ...answer, AnsweredBy: 'machine_start' });
    expect(machine.body).toContain('<Hangup/>');
    expect(machine.body).not.toContain('<Stream');
    const [row] = await t.db.sql`select failure_reason from calls where id = ${call.id}`;
    expect(row!.failure_reason).toBe('answered by a machine (machine_start)');

    const person = (await t.app.inject({ method: 'POST', url: `/v1/bots/${botId}/calls`, headers: t.as(company.apiKey), payload: { to: '+15551230021', hang_up_on_machine: true } })).json();
    const human = await twilioPost(`/twilio/outbound/${person.id}`, { ...answer, CallSid: person.twilio_call_sid, To: '+15551230021', AnsweredBy: 'human' });
    expect(human.body).toContain('<Stream');
    // Without the option no detection is asked for.
    await dial(botId, '+15551230022');
    expect(fake.requests.at(-1)!.form.get('MachineDetection')).toBeNull();
  });

  it('a call hung up on a machine or a fax ends with that reason, not caller_hangup, in call.ended and the API', async () => {
    const ended = async (to: string, answeredBy: string) => {
      const call = (await t.app.inject({ method: 'POST', url: `/v1/bots/${botId}/calls`, headers: t.as(company.apiKey), payload: { to, hang_up_on_machine: true } })).json();
      const answer = { CallSid: call.twilio_call_sid, From: BOT_NUMBER, To: to, Direction: 'outbound-api' };
      expect((await twilioPost(`/twilio/outbound/${call.id}`, { ...answer, AnsweredBy: answeredBy })).body).toContain('<Hangup/>');
      // Twilio reports the hung-up call completed (it was answered, by the machine).
      expect((await twilioPost(`/twilio/status/${call.id}`, { ...answer, CallStatus: 'completed', CallDuration: '3', SequenceNumber: '4' })).statusCode).toBe(204);
      const [ev] = await t.db.sql<{ body: string }[]>`select body from webhook_events where type = 'call.ended' and ordering_key = ${call.id}`;
      const api = (await t.app.inject({ method: 'GET', url: `/v1/calls/${call.id}`, headers: t.as(company.apiKey) })).json();
      return { event: JSON.parse(ev!.body).data as { status: string; reason: string }, api: { status: api.status, end_reason: api.end_reason, failure_reason: api.failure_reason } };
    };
    expect(await ended('+15551230023', 'machine_start')).toEqual({
      event: expect.objectContaining({ status: 'completed', reason: 'voicemail_hung_up: machine_start' }),
      api: { status: 'completed', end_reason: 'voicemail_hung_up: machine_start', failure_reason: 'answered by a machine (machine_start)' },
    });
    expect(await ended('+15551230024', 'fax')).toEqual({
      event: expect.objectContaining({ status: 'completed', reason: 'fax' }),
      api: { status: 'completed', end_reason: 'fax', failure_reason: 'answered by a machine (fax)' },
    });
  });

  it('records the SID when the answer arrives before Twilio\'s reply to the create request', async () => {
    const dialer = dialerWith(async (params) => {
      const callId = params.url!.split('/').at(-1)!;
      const early = await twilioPost(`/twilio/outbound/${callId}`, { CallSid: 'CAearly', From: BOT_NUMBER, To: '+15551230005' });
      expect(early.body).toContain('<Stream');
      return { sid: 'CAearly', status: 'in-progress' };
    });
    // (Not CALLEE: an earlier test's call to it is still live, and a number gets one call at a time.)
    const { call } = await dialer.place(await botRow(), '+15551230005');
    expect(call.twilio_call_sid).toBe('CAearly');
  });

  it('applies status callbacks that arrive before Twilio\'s reply to the create request', async () => {
    const dialer = dialerWith(async (params) => {
      const path = new URL(params.statusCallback!).pathname;
      // Ringing, then no answer — all before the create request returns.
      expect((await twilioPost(path, { CallSid: 'CAfast', CallStatus: 'ringing', SequenceNumber: '1' })).statusCode).toBe(204);
      expect((await twilioPost(path, { CallSid: 'CAfast', CallStatus: 'no-answer', SequenceNumber: '2' })).statusCode).toBe(204);
      return { sid: 'CAfast', status: 'queued' };
    });
    const { call } = await dialer.place(await botRow(), '+15551230002');
    const [row] = await t.db.sql`select status, twilio_call_sid, ended_at from calls where id = ${call.id}`;
    expect(row).toMatchObject({ status: 'no_answer', twilio_call_sid: 'CAfast' });
    expect(row!.ended_at).not.toBeNull();
    const events = await t.db.sql`select type, body from webhook_events where ordering_key = ${call.id} order by seq`;
    expect(events.map((e) => e.type)).toEqual(['call.ended']);
    expect(JSON.parse(events[0]!.body as string).data).toMatchObject({ call_id: call.id, status: 'no_answer', reason: 'no_answer', duration_sec: expect.any(Number) });
    // A callback for this call's URL with another call's SID changes nothing.
    expect((await twilioPost(`/twilio/status/${call.id}`, { CallSid: 'CAother', CallStatus: 'completed' })).statusCode).toBe(204);
  });

  it('ends an answered call that never streamed with call.ended and an analysis, once', async () => {
    const call = (await dial(botId, '+15551230003')).json();
    const path = `/twilio/status/${call.id}`;
    await twilioPost(path, { CallSid: call.twilio_call_sid, CallStatus: 'in-progress', SequenceNumber: '1' });
    await twilioPost(path, { CallSid: call.twilio_call_sid, CallStatus: 'completed', SequenceNumber: '2', CallDuration: '3' });
    await twilioPost(path, { CallSid: call.twilio_call_sid, CallStatus: 'completed', SequenceNumber: '2', CallDuration: '3' }); // retried
    const events = await t.db.sql`select type, body from webhook_events where ordering_key = ${call.id} order by seq`;
    expect(events.map((e) => e.type)).toEqual(['call.ended']);
    // The same call.ended payload as a session's end: status, reason and duration included.
    expect(JSON.parse(events[0]!.body as string).data).toEqual({ call_id: call.id, bot_id: botId, status: 'completed', reason: 'caller_hangup', duration_sec: 3 });
    const jobs = await t.db.sql`select run_at from jobs where dedupe_key = ${`analyze:${call.id}`}`;
    expect(jobs).toHaveLength(1);
    expect(new Date(jobs[0]!.run_at as string).getTime()).toBeLessThan(Date.now() + 1000); // no session to wait for
  });

  it('when Twilio reports the end while the session winds down, call.ended is produced once and the analysis waits', async () => {
    const call = (await dial(botId, '+15551230004')).json();
    const recorder = new PgCallRecorder({ sql: t.db.sql, callId: call.id, companyId: company.companyId, botId, log: createLogger('silent') });
    await recorder.start();
    await twilioPost(`/twilio/status/${call.id}`, { CallSid: call.twilio_call_sid, CallStatus: 'completed', SequenceNumber: '5', CallDuration: '9' });
    await recorder.end({ status: 'completed', reason: 'caller_hangup: stop' });
    const events = await t.db.sql`select type from webhook_events where ordering_key = ${call.id} order by seq`;
    expect(events.map((e) => e.type)).toEqual(['call.started', 'call.ended']);
    const [job] = await t.db.sql`select run_at from jobs where dedupe_key = ${`analyze:${call.id}`}`;
    expect(new Date(job!.run_at as string).getTime()).toBeGreaterThan(Date.now() + 5000);
  });

  it('holds a company to its limit of live outbound calls and to the allowed prefixes', async () => {
    const bot = await botRow();
    const other = await t.createCompany();
    const otherBot = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(other.apiKey), payload: botBody({ phone_number: '+15557770009' }) });
    let n = 0;
    const dialer = dialerWith(async () => ({ sid: `CAlimit${++n}`, status: 'queued' }), { maxActivePerCompany: 1, allowedPrefixes: ['+1555'] });
    await t.db.sql`update calls set status = 'completed', ended_at = now() where company_id = ${company.companyId}`;
    await dialer.place(bot, '+15551230010');
    await expect(dialer.place(bot, '+15551230011')).rejects.toMatchObject({ code: 'PARLEY_ERR_RATE_LIMITED' });
    // Another company has its own allowance.
    const theirs = await botRow(otherBot.json().id);
    await dialer.place(theirs, '+15551230012');
    await expect(dialer.place(theirs, '+4420790000000')).rejects.toMatchObject({ code: 'PARLEY_ERR_VALIDATION' });
    expect(n).toBe(2);
  });

  it('holds the limit under concurrent dials: of ten at once with room for three, three are placed', async () => {
    const bot = await botRow();
    await t.db.sql`update calls set status = 'completed', ended_at = now() where company_id = ${company.companyId}`;
    let n = 0;
    const dialer = dialerWith(async () => ({ sid: `CArace${++n}`, status: 'queued' }), { maxActivePerCompany: 3 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => dialer.place(bot, `+1555123010${i}`)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'PARLEY_ERR_RATE_LIMITED' });
    expect(n).toBe(3);
    const live = await t.db.sql`select count(*)::int as n from calls where company_id = ${company.companyId} and ended_at is null`;
    expect(live[0]!.n).toBe(3);
  });

  it('refuses a number on the company\'s do-not-call list (409, nothing dialled); another company may call it', async () => {
    const listed = '+15551230099';
    await addDnc(t.db.sql, company.companyId, [{ phone: listed }], 'api');
    const before = fake.requests.length;
    const res = await dial(botId, listed);
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().error.details).toEqual({ reason: 'do_not_call' });
    expect(fake.requests.length).toBe(before);
    expect(await t.db.sql`select 1 from calls where to_number = ${listed}`).toHaveLength(0);
    const other = await t.createCompany();
    const otherBot = (await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(other.apiKey), payload: botBody({ phone_number: '+15557770019' }) })).json().id as string;
    expect((await dial(otherBot, listed, other.apiKey)).statusCode).toBe(201);
  });

  it('turns Twilio refusing the number into a 400 and stores the call as failed; a lost answer is a 202, not retried', async () => {
    fake.failures.push(400);
    const refused = await dial(botId, '+15551239999');
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.code).toBe('PARLEY_ERR_VALIDATION');
    expect(refused.json().error.message).toContain('Twilio refused the call');
    const [failed] = await t.db.sql`select id, status, failure_reason from calls where to_number = '+15551239999'`;
    expect(failed!.status).toBe('failed');
    expect(failed!.failure_reason).toContain('Scripted failure');
    const [ended] = await t.db.sql`select body from webhook_events where ordering_key = ${failed!.id as string} and type = 'call.ended'`;
    expect(JSON.parse(ended!.body as string).data).toMatchObject({ status: 'failed', reason: expect.stringContaining('dial_refused'), duration_sec: 0 });

    const before = fake.requests.length;
    fake.failures.push(500);
    const outage = await dial(botId, '+15551239998');
    // A 5xx on create may have placed the call: never retried, nor reported failed (outbound-dial-safety.test.ts).
    expect(outage.statusCode).toBe(202);
    expect(outage.json()).toMatchObject({ status: 'queued', twilio_call_sid: null });
    expect(fake.requests.length).toBe(before + 1);
  });

  it('dials and stores a number in its one form, so erasing the number erases the call, however it was spelled', async () => {
    const res = await dial(botId, '+4402079460123'); // a trunk prefix after the country code: +44 20 7946 0123
    expect(res.statusCode).toBe(201);
    expect(res.json().to_number).toBe('+442079460123');
    expect(fake.requests.at(-1)!.form.get('To')).toBe('+442079460123');
    const erased = await t.app.inject({ method: 'DELETE', url: `/v1/privacy/phone-numbers/${encodeURIComponent('+442079460123')}`, headers: t.as(company.apiKey) });
    expect(erased.statusCode).toBe(200);
    expect(erased.json().calls).toBe(1);
    const [row] = await t.db.sql`select to_number, erased_at from calls where id = ${res.json().id}`;
    expect(row!.to_number).toBeNull();
    expect(row!.erased_at).not.toBeNull();
  });

  it('validates the number, the bot and the company', async () => {
    expect((await dial(botId, '5551234')).statusCode).toBe(400);
    expect((await dial(botId, BOT_NUMBER)).statusCode).toBe(400);
    const other = await t.createCompany();
    expect((await dial(botId, CALLEE, other.apiKey)).statusCode).toBe(404);
    const silent = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey), payload: botBody() });
    const noNumber = await dial(silent.json().id, CALLEE);
    expect(noNumber.statusCode).toBe(409);
    expect(noNumber.json().error.message).toContain('no phone number');
    const retired = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey), payload: botBody({ phone_number: '+15557770003' }) });
    const patched = await t.app.inject({ method: 'PATCH', url: `/v1/bots/${retired.json().id}`, headers: t.as(company.apiKey), payload: { is_active: false } });
    expect(patched.statusCode).toBe(200);
    const inactive = await dial(retired.json().id, CALLEE);
    expect(inactive.statusCode).toBe(409);
    expect(inactive.json().error.message).toContain('inactive');
  });
});

describe('outbound calls without Twilio credentials', () => {
  it('answer 503 with what to configure', async () => {
    const t = await createTestApp({ tenantRoutes: (db) => [outboundCallRoutes({ sql: db.sql, dialer: null })] });
    try {
      const company = await t.createCompany();
      const bot = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey), payload: botBody({ phone_number: '+15557770002' }) });
      const res = await t.app.inject({ method: 'POST', url: `/v1/bots/${bot.json().id}/calls`, headers: t.as(company.apiKey), payload: { to: CALLEE } });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.message).toContain('TWILIO_ACCOUNT_SID');
      expect((await t.db.sql`select count(*)::int as n from calls`)[0]!.n).toBe(0);
    } finally {
      await t.close();
    }
  });
});
