/**
 * Telephony minutes are what Twilio bills (usage and the budget count them): a call's duration is Twilio's
 * CallDuration whenever its final status callback carries one — also after Parley ended the call itself, and for
 * a call answered only to be refused; without it, the time connected: nothing for a call never answered, and for
 * a call a sweep ends long after its server or caller went, up to its last sign of life, not the sweep.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endCallInTx } from '../../src/call/lifecycle.js';
import { CallOwnership } from '../../src/telephony/call-ownership.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

const AUTH = 'twilio-auth-token-test';
const ORIGIN = 'https://voice.example.com';
const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

describe('telephony minutes', () => {
  let t: TestApp;
  let company: { companyId: string; apiKey: string };
  let sid = 0;
  const post = (path: string, form: Record<string, string>) =>
    t.app.inject({
      method: 'POST', url: path, payload: new URLSearchParams(form).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeSignature(AUTH, `${ORIGIN}${path}`, form) },
    });
  /** An inbound call as the voice webhook creates it (ringing, not answered). */
  const ring = async (): Promise<{ callId: string; callSid: string }> => {
    const callSid = `CA${String(++sid).padStart(32, '0')}`;
    const res = await post('/twilio/voice', { CallSid: callSid, From: '+15551112222', To: '+15557771111', Direction: 'inbound' });
    return { callId: /name="callId" value="([^"]+)"/.exec(res.body)![1]!, callSid };
  };
  const billed = async (callId: string) => {
    const [row] = await t.db.sql<{ duration_sec: number | null }[]>`select duration_sec from calls where id = ${callId}`;
    const usage = await t.db.sql<{ quantity: string }[]>`select quantity::text as quantity from call_usage where call_id = ${callId} and kind = 'telephony_minutes'`;
    return { durationSec: row!.duration_sec, minutes: usage.length ? Number(usage[0]!.quantity) : 0 };
  };

  beforeAll(async () => {
    t = await createTestApp({ publicRoutes: (db) => [twilioVoiceRoutes({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: 'secret' })] });
    company = await t.createCompany();
    const bot = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey), payload: botBody({ phone_number: '+15557771111' }) });
    expect(bot.statusCode).toBe(201);
  });
  afterAll(async () => t.close());

  it('takes Twilio\'s CallDuration from the final callback after Parley ended the call itself', async () => {
    const { callId, callSid } = await ring();
    await t.db.sql`update calls set status = 'in_progress', answered_at = now() - interval '58 seconds' where id = ${callId}`;
    await t.db.sql.begin((tx) => endCallInTx(tx, { callId, companyId: company.companyId }, { status: 'completed', reason: 'caller_hangup' }, { by: 'session' }));
    expect(await billed(callId)).toEqual({ durationSec: 58, minutes: 1 });
    // Twilio counts from its own answer, before the media stream: 63 s, two minutes.
    expect((await post('/twilio/status', { CallSid: callSid, CallStatus: 'completed', CallDuration: '63' })).statusCode).toBe(204);
    expect(await billed(callId)).toEqual({ durationSec: 63, minutes: 2 });
    // A live status (or one without a duration) changes nothing.
    await post('/twilio/status', { CallSid: callSid, CallStatus: 'in-progress', CallDuration: '5' });
    await post('/twilio/status', { CallSid: callSid, CallStatus: 'completed' });
    expect(await billed(callId)).toEqual({ durationSec: 63, minutes: 2 });
  });

  it('charges nothing for a call never answered that a sweep ends hours later', async () => {
    const { callId } = await ring();
    await t.db.sql`update calls set started_at = now() - interval '3 hours', updated_at = now() - interval '3 hours' where id = ${callId}`;
    const sweeper = new CallOwnership(t.db.sql, quiet, { heartbeatMs: 60_000, unownedAfterMs: 3_600_000, sweepEveryMs: 0 });
    await sweeper.start({ sweep: false });
    try {
      await sweeper.sweep();
    } finally {
      await sweeper.stop();
    }
    const [row] = await t.db.sql`select status, end_reason from calls where id = ${callId}`;
    expect(row).toEqual({ status: 'failed', end_reason: 'never_connected' });
    expect(await billed(callId)).toEqual({ durationSec: 0, minutes: 0 });
  });

  it('counts a lost call up to its last sign of life, not to the sweep that found it', async () => {
    const { callId } = await ring();
    // Answered 10 minutes ago; its last turn 7 minutes ago; its server gone since.
    await t.db.sql`update calls set status = 'in_progress', answered_at = now() - interval '10 minutes', updated_at = now() - interval '7 minutes' where id = ${callId}`;
    await t.db.sql.begin((tx) => endCallInTx(tx, { callId, companyId: company.companyId }, { status: 'failed', reason: 'server_lost' }, { by: 'sweep' }));
    expect(await billed(callId)).toEqual({ durationSec: 180, minutes: 3 });
  });
});
