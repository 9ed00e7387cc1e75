/**
 * Every outbound dial is safe, whichever path places it (here the one-off POST /v1/bots/:id/calls and the dialer
 * itself; campaigns in campaign-dial-safety.test.ts):
 *  - only a certain refusal (a 4xx, a request that never left) counts as "not placed"; a lost answer (a timeout,
 *    a 5xx, a connection dropped after sending) leaves the call live without a SID, and a late callback or answer
 *    runs it; one Twilio never reports on ends `dial_lost`;
 *  - consent denied, blocked prefixes, do-not-call and one call per number (either direction) hold for the API too;
 *  - premium-rate, shared-cost and UAN numbers are refused unless OUTBOUND_ALLOW_PREMIUM_RATE.
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboundCallRoutes } from '../../src/api/routes/outbound-calls.js';
import { createCall } from '../../src/call/lifecycle.js';
import { addDnc, putPolicy, setConsent } from '../../src/campaigns/suppression.js';
import { OutboundDialer, endLostDials } from '../../src/telephony/twilio/outbound.js';
import { TwilioRestClient, certainlyNotPlaced } from '../../src/telephony/twilio/rest.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { FakeTwilioRest } from '../fakes/fakeTwilioRest.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

const AUTH = 'twilio-auth-token-test';
const ORIGIN = 'https://voice.example.com';
const BOT_NUMBER = '+15557771001';

/** A port nothing listens on (connection refused: the request never leaves). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A server that reads the request, then drops the connection without a reply (it may have acted on it). */
async function droppingServer(): Promise<Server> {
  const s = createServer((socket) => socket.once('data', () => socket.destroy()));
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return s;
}

const CREATE = { to: '+12125550100', from: BOT_NUMBER, twiml: '<Response/>' };
const failureOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => { throw new Error('expected a failure'); }, (err: unknown) => err);

describe('Twilio create-call failures: placed or not', () => {
  let fake: FakeTwilioRest;
  let dropping: Server;
  beforeAll(async () => {
    fake = await FakeTwilioRest.start();
    dropping = await droppingServer();
  });
  afterAll(async () => {
    await fake.close();
    await new Promise<void>((resolve) => dropping.close(() => resolve()));
  });
  const client = (baseUrl = fake.url) => new TwilioRestClient({ accountSid: fake.accountSid, authToken: fake.authToken, baseUrl, retryDelayMs: 1, timeoutMs: 300 });

  it('a 4xx and a refused connection certainly placed nothing', async () => {
    fake.failures.push(400);
    expect(certainlyNotPlaced(await failureOf(client().createCall(CREATE)))).toBe(true);
    expect(certainlyNotPlaced(await failureOf(client(`http://127.0.0.1:${await closedPort()}`).createCall(CREATE)))).toBe(true);
  });

  it('a 5xx, a timeout and a connection dropped after sending may have placed the call', async () => {
    fake.failures.push(503);
    expect(certainlyNotPlaced(await failureOf(client().createCall(CREATE)))).toBe(false);
    fake.stalls = 1;
    expect(certainlyNotPlaced(await failureOf(client().createCall(CREATE)))).toBe(false);
    const port = (dropping.address() as AddressInfo).port;
    expect(certainlyNotPlaced(await failureOf(client(`http://127.0.0.1:${port}`).createCall(CREATE)))).toBe(false);
  });
});

describe('POST /v1/bots/:id/calls: dial safety', () => {
  let fake: FakeTwilioRest;
  let t: TestApp;
  let company: { companyId: string; apiKey: string };
  let botId: string;
  let n = 0;
  const fresh = () => `+1212555${String(3000 + ++n)}`;

  beforeAll(async () => {
    fake = await FakeTwilioRest.start();
    t = await createTestApp({
      tenantRoutes: (db) => [
        outboundCallRoutes({
          sql: db.sql,
          dialer: new OutboundDialer({ sql: db.sql, publicOrigin: ORIGIN, rest: new TwilioRestClient({ accountSid: fake.accountSid, authToken: fake.authToken, baseUrl: fake.url, retryDelayMs: 1, timeoutMs: 500 }) }),
        }),
      ],
      publicRoutes: (db) => [twilioVoiceRoutes({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: 'secret' })],
    });
    company = await t.createCompany();
    botId = (await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey), payload: botBody({ phone_number: BOT_NUMBER }) })).json().id;
    // Events are recorded for companies that receive webhooks.
    await t.app.inject({ method: 'PUT', url: '/v1/company/webhook', headers: t.as(company.apiKey), payload: { url: 'https://hooks.example.com/parley' } });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const dial = (to: string, apiKey = company.apiKey, bot = botId) =>
    t.app.inject({ method: 'POST', url: `/v1/bots/${bot}/calls`, headers: t.as(apiKey), payload: { to } });
  const twilio = (path: string, form: Record<string, string>) =>
    t.app.inject({
      method: 'POST', url: path,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeSignature(AUTH, `${ORIGIN}${path}`, form) },
      payload: new URLSearchParams(form).toString(),
    });
  const creates = (to: string) => fake.requests.filter((r) => r.path.endsWith('/Calls.json') && r.form.get('To') === to).length;
  const callRow = async (id: string) =>
    (await t.db.sql<{ status: string; twilio_call_sid: string | null; failure_reason: string | null; ended_at: Date | null }[]>`
      select status, twilio_call_sid, failure_reason, ended_at from calls where id = ${id}`)[0]!;
  const refusedWith = async (to: string, reason: string) => {
    const res = await dial(to);
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().error.details).toEqual({ reason });
    expect(creates(to)).toBe(0);
    expect(await t.db.sql`select 1 from calls where to_number = ${to} and direction = 'outbound' and ended_at is null`).toHaveLength(0);
  };

  it('a lost answer (5xx, timeout) is a 202 with the call live and unconfirmed; the late answer runs the call', async () => {
    for (const lose of [() => fake.failures.push(500), () => { fake.stalls = 1; }]) {
      const to = fresh();
      lose();
      const res = await dial(to);
      expect(res.statusCode, res.body).toBe(202);
      const call = res.json();
      expect(call).toMatchObject({ status: 'queued', twilio_call_sid: null, to_number: to });
      expect(await callRow(call.id)).toMatchObject({ status: 'queued', twilio_call_sid: null, ended_at: null, failure_reason: null });
      // Not placed a second time while it may ring.
      await refusedWithLive(to);
      // Twilio did place it: the callee picks up and gets the bot, not a hang-up.
      const sid = `CA${'a'.repeat(28)}${String(n).padStart(4, '0')}`;
      const answer = await twilio(`/twilio/outbound/${call.id}`, { CallSid: sid, From: BOT_NUMBER, To: to, Direction: 'outbound-api' });
      expect(answer.body).toContain('<Stream');
      expect(answer.body).not.toContain('<Hangup/>');
      expect((await callRow(call.id)).twilio_call_sid).toBe(sid);
    }
  });

  /** A second dial to a number whose call is live: 409 number_in_call, nothing more asked of Twilio. */
  async function refusedWithLive(to: string): Promise<void> {
    const before = creates(to);
    const again = await dial(to);
    expect(again.statusCode, again.body).toBe(409);
    expect(again.json().error.details).toEqual({ reason: 'number_in_call' });
    expect(creates(to)).toBe(before);
  }

  it('an unconfirmed call Twilio never reports on ends dial_lost after the deadline; a late status callback keeps it', async () => {
    const lost = fresh();
    fake.failures.push(502);
    const lostCall = (await dial(lost)).json();
    const reported = fresh();
    fake.failures.push(502);
    const reportedCall = (await dial(reported)).json();
    expect((await twilio(`/twilio/status/${reportedCall.id}`, { CallSid: `CA${'b'.repeat(32)}`, CallStatus: 'ringing', SequenceNumber: '1' })).statusCode).toBe(204);
    await t.db.sql`update calls set started_at = now() - interval '11 minutes' where id in ${t.db.sql([lostCall.id, reportedCall.id])}`;
    await endLostDials(t.db.sql, 10 * 60_000);
    expect(await callRow(lostCall.id)).toMatchObject({ status: 'failed', failure_reason: 'dial_lost' });
    expect(await callRow(reportedCall.id)).toMatchObject({ status: 'ringing', ended_at: null });
    const [ended] = await t.db.sql`select body from webhook_events where ordering_key = ${lostCall.id} and type = 'call.ended'`;
    expect(JSON.parse(ended!.body as string).data).toMatchObject({ status: 'failed', reason: 'dial_lost', duration_sec: 0 });
    // Once ended, the number may be called again.
    expect((await dial(lost)).statusCode).toBe(201);
  });

  it('a refused connection placed nothing: the call is failed at once, a 502', async () => {
    const dialer = new OutboundDialer({
      sql: t.db.sql, publicOrigin: ORIGIN,
      rest: new TwilioRestClient({ accountSid: fake.accountSid, authToken: fake.authToken, baseUrl: `http://127.0.0.1:${await closedPort()}`, retryDelayMs: 1 }),
    });
    const bot = (await t.db.sql`select * from bots where id = ${botId}`)[0] as Parameters<OutboundDialer['place']>[0];
    const to = fresh();
    await expect(dialer.place(bot, to)).rejects.toMatchObject({ code: 'PARLEY_ERR_UPSTREAM' });
    const [row] = await t.db.sql`select status, failure_reason from calls where to_number = ${to}`;
    expect(row).toMatchObject({ status: 'failed', failure_reason: expect.stringContaining('dial_refused') });
  });

  it('refuses a number whose consent is denied, or under a blocked prefix (409, nothing dialled)', async () => {
    const denied = fresh();
    await setConsent(t.db.sql, company.companyId, { phone: denied, voice: 'denied', source: 'letter' });
    await refusedWith(denied, 'consent_denied');
    await putPolicy(t.db.sql, company.companyId, { max_calls_per_day: 1, max_calls_per_week: 3, blocked_prefixes: ['+1213'] });
    await refusedWith('+12135550123', 'blocked_prefix');
    await putPolicy(t.db.sql, company.companyId, { max_calls_per_day: 1, max_calls_per_week: 3, blocked_prefixes: [] });
    // The do-not-call list, matched in its stored form whatever spelling the API was given.
    await addDnc(t.db.sql, company.companyId, [{ phone: '+442079460123' }], 'api');
    await refusedWith('+4402079460123', 'do_not_call');
  });

  it('one call to a number at a time: refused while an outbound or an inbound call with it is live', async () => {
    const busy = fresh();
    const first = await dial(busy);
    expect(first.statusCode).toBe(201);
    await refusedWithLive(busy);
    await twilio(`/twilio/status/${first.json().id}`, { CallSid: first.json().twilio_call_sid, CallStatus: 'completed', SequenceNumber: '9' });
    expect((await dial(busy)).statusCode).toBe(201);

    // The callee is on the phone with the company (they called the bot): not rung by another call.
    const caller = fresh();
    const inbound = await createCall(t.db.sql, { companyId: company.companyId, botId, direction: 'inbound', twilioCallSid: `CA${'c'.repeat(32)}`, from: caller, to: BOT_NUMBER, status: 'in_progress' });
    await refusedWithLive(caller);
    // Another company's call with the number does not hold this company back.
    const other = await t.createCompany();
    const otherBot = (await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(other.apiKey), payload: botBody({ phone_number: '+15557771002' }) })).json().id as string;
    expect((await dial(caller, other.apiKey, otherBot)).statusCode).toBe(201);
    await t.db.sql`update calls set status = 'completed', ended_at = now() where id = ${inbound.id}`;
    expect((await dial(caller)).statusCode).toBe(201);
  });

  it('refuses premium-rate, shared-cost and UAN numbers unless the server allows them', async () => {
    for (const premium of ['+19005550123', '+449098790123', '+4918012345678', '+443031234567']) await refusedWith(premium, 'premium_rate_number');
    // With digits added after it (a network may take them as an extension and connect the premium line).
    for (const padded of ['+4990012345678', '+190055501234']) await refusedWith(padded, 'premium_rate_number');
    const allowing = new OutboundDialer({
      sql: t.db.sql, publicOrigin: ORIGIN, allowPremiumRate: true,
      rest: new TwilioRestClient({ accountSid: fake.accountSid, authToken: fake.authToken, baseUrl: fake.url, retryDelayMs: 1 }),
    });
    const bot = (await t.db.sql`select * from bots where id = ${botId}`)[0] as Parameters<OutboundDialer['place']>[0];
    const { call } = await allowing.place(bot, '+19005550123');
    expect(call.twilio_call_sid).toMatch(/^CA/);
  });
});
