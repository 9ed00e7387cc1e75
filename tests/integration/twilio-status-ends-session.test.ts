/**
 * A live call whose Twilio status callback reports it over ends its session — the STT, LLM and TTS streams it pays
 * for — on the instance that runs it, whichever instance the callback reached. Before, the row was ended and the
 * session talked on until the media socket closed: with a lost close or a half-open connection, until the silence
 * or time limit (30 s to 30 min of paid streams, for nobody).
 *
 * Two runners on one database stand for two instances: "here" gets the status callbacks (its voice routes), "there"
 * runs calls and learns of their end only through the database (call-end-notices.ts). The media sockets here never
 * close (MemoryTransport): only the end of the call can stop a session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallSession } from '../../src/call/call-session.js';
import { createCall, endCallInTx } from '../../src/call/lifecycle.js';
import { getBotById, type BotRow } from '../../src/db/bots.js';
import type { CallRow } from '../../src/db/calls.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { listenForCallEnds, type CallEndListener } from '../../src/telephony/call-end-notices.js';
import { CallRunner } from '../../src/telephony/call-runner.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';
import { MemoryTransport } from '../helpers/memory-transport.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { until } from '../helpers/until.js';

const AUTH = 'twilio-auth-status-ends-session';
const ORIGIN = 'https://voice.example.com';
const BOT_NUMBER = '+15557770101';

describe('a final status callback ends the live session', () => {
  let t: TestApp;
  let companyId: string;
  let bot: BotRow;
  let listener: CallEndListener | null = null;
  const runner = () => new CallRunner({
    sql: t.db.sql, log: createLogger('silent'), metrics: createMetrics(),
    providersFor: () => ({ stt: new ScriptedStt(), llm: new ScriptedLlm(() => 'Sure.', { firstTokenMs: 5 }), tts: new ScriptedTts({ firstAudioMs: 5, chunkMs: 1 }) }),
  });
  let here: CallRunner;
  let there: CallRunner;

  beforeAll(async () => {
    t = await createTestApp({
      publicRoutes: (db) => [twilioVoiceRoutes({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: 'secret', liveCalls: { endLiveSession: (id, reason) => here.endLiveSession(id, reason) } })],
    });
    here = runner();
    there = runner();
    const company = await t.createCompany();
    companyId = company.companyId;
    // Events are recorded for companies that receive webhooks.
    await t.app.inject({ method: 'PUT', url: '/v1/company/webhook', headers: t.as(company.apiKey), payload: { url: 'https://hooks.example.com/parley' } });
    // No silence or time limit ends these calls while the test runs: only their end can.
    const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey), payload: botBody({ phone_number: BOT_NUMBER, config: { ...botBody().config as object, limits: { silenceHangupSec: 600, silenceRepromptSec: 120 } } }) });
    bot = (await getBotById(t.db.sql, res.json().id))!;
  });
  afterAll(async () => {
    await listener?.stop();
    await Promise.all([here.shutdown(5_000), there.shutdown(5_000)]);
    await t.close();
  });

  let n = 0;
  /** A call in progress on `on`: its session greeted the caller and listens; its socket never closes. */
  const liveCall = async (on: CallRunner) => {
    const call: CallRow = await createCall(t.db.sql, { companyId, botId: bot.id, direction: 'inbound', twilioCallSid: `CAends${++n}`, from: '+15551110000', to: BOT_NUMBER, status: 'ringing' });
    const transport = new MemoryTransport();
    let session: CallSession | null = null;
    const ran = on.run(transport, call, bot).then((s) => (session = s));
    await until(async () => (await t.db.sql`select 1 from calls where id = ${call.id} and status = 'in_progress'`).length > 0 && transport.sent.length > 0);
    return { call, transport, ran, ended: () => session };
  };
  const status = (call: CallRow, callStatus: string) => {
    const form = { CallSid: call.twilio_call_sid!, CallStatus: callStatus, CallDuration: '12', SequenceNumber: '5' };
    return t.app.inject({
      method: 'POST', url: '/twilio/status',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeSignature(AUTH, `${ORIGIN}/twilio/status`, form) },
      payload: new URLSearchParams(form).toString(),
    });
  };
  const endEvents = async (callId: string) => (await t.db.sql`select 1 from webhook_events where type = 'call.ended' and ordering_key = ${callId}`).length;

  it('on the instance that got the callback: the session ends at once, its row once', async () => {
    const live = await liveCall(here);
    expect((await status(live.call, 'completed')).statusCode).toBe(204);
    await until(() => here.activeCount === 0, 10_000);
    await live.ran;
    expect(live.ended()!.endReason).toBe('caller_hangup');
    expect(live.transport.hangupReason).toBe('caller_hangup');
    const [row] = await t.db.sql`select status, end_reason, duration_sec from calls where id = ${live.call.id}`;
    expect(row).toMatchObject({ status: 'completed', end_reason: 'caller_hangup', duration_sec: 12 });
    expect(await endEvents(live.call.id)).toBe(1);
  });

  it('on another instance: told through the database, it ends the session it runs', async () => {
    listener = await listenForCallEnds(t.db, there, createLogger('silent'));
    const live = await liveCall(there);
    // The callback lands on the instance that does not run the call.
    expect((await status(live.call, 'failed')).statusCode).toBe(204);
    await until(() => there.activeCount === 0, 10_000);
    await live.ran;
    expect(live.ended()!.endReason).toBe('telephony_failed');
    expect(await endEvents(live.call.id)).toBe(1);
    await listener.stop();
    listener = null;
  });

  it('a notice missed while not listening: the calls that ended meanwhile are ended when listening starts', async () => {
    const live = await liveCall(there);
    // Ended by another party (here: the sweep of a server it took for lost) while nobody listened.
    await t.db.sql.begin((tx) => endCallInTx(tx, { callId: live.call.id, companyId }, { status: 'failed', reason: 'server_lost' }, { by: 'sweep' }));
    const other = await liveCall(there);
    listener = await listenForCallEnds(t.db, there, createLogger('silent'));
    await live.ran;
    expect(live.ended()!.endReason).toBe('server_lost');
    // The call that did not end goes on.
    expect(there.activeCount).toBe(1);
    expect(other.transport.hangupReason).toBeNull();
    expect((await status(other.call, 'completed')).statusCode).toBe(204);
    await other.ran;
  });
});
