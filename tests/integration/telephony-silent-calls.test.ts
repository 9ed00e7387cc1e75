/**
 * A Twilio call no server holds (its media stream never started) ends only by its final status callback. When
 * that callback is lost, the ownership sweep asks Twilio after ten silent minutes and ends the call as the
 * callback would have; a call a server holds, or one Twilio cannot tell about, is left to the other rules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallOwnership } from '../../src/telephony/call-ownership.js';
import { TwilioRestClient } from '../../src/telephony/twilio/rest.js';
import { campaignHarness, type Harness } from './campaign-harness.js';

const quiet = { info: () => {}, warn: () => {} };
let sidNo = 0;

describe('Twilio calls whose final status callback never came', () => {
  let h: Harness;
  let rest: TwilioRestClient;
  let company: Awaited<ReturnType<Harness['company']>>;
  beforeAll(async () => {
    h = await campaignHarness();
    rest = new TwilioRestClient({ accountSid: h.fake.accountSid, authToken: h.fake.authToken, baseUrl: h.fake.url, retryDelayMs: 1, timeoutMs: 2000 });
    company = await h.company();
  });
  afterAll(async () => h.close());

  const sweeper = () => new CallOwnership(h.t.db.sql, quiet, { telephony: (sid) => rest.fetchCall(sid), sweepEveryMs: 0 });
  /** An inbound call answered by the voice webhook whose media stream never started. */
  async function answeredCall(): Promise<{ id: string; sid: string }> {
    const sid = `CA${String(++sidNo).padStart(32, '0')}`;
    const res = await h.twilio('/twilio/voice', { CallSid: sid, From: '+12125550777', To: company.botNumber, Direction: 'inbound' });
    expect(res.statusCode).toBe(200);
    const [row] = await h.t.db.sql<{ id: string }[]>`select id from calls where twilio_call_sid = ${sid}`;
    return { id: row!.id, sid };
  }
  const silentFor = (callId: string, minutes: number) =>
    h.t.db.sql`update calls set updated_at = now() - ${minutes} * interval '1 minute' where id = ${callId}`;
  const asksAbout = (sid: string) => h.fake.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/Calls/${sid}.json`)).length;
  const callRow = async (id: string) =>
    (await h.t.db.sql<{ status: string; ended_at: Date | null; end_reason: string | null; duration_sec: number | null }[]>`
      select status, ended_at, end_reason, duration_sec from calls where id = ${id}`)[0]!;
  const endedEvents = async (id: string) =>
    (await h.t.db.sql`select 1 from webhook_events where type = 'call.ended' and body::jsonb->'data'->>'call_id' = ${id}`).length;

  it('ends an inbound call Twilio reports completed, with Twilio\'s duration, once', async () => {
    const call = await answeredCall();
    const s = sweeper();
    await silentFor(call.id, 5);
    await s.sweepRound();
    expect(asksAbout(call.sid)).toBe(0);

    h.fake.callStates.set(call.sid, { status: 'completed', duration: 37 });
    await silentFor(call.id, 11);
    expect(await s.sweepRound()).toBe(1);
    expect(asksAbout(call.sid)).toBe(1);
    expect(await callRow(call.id)).toMatchObject({ status: 'completed', end_reason: 'caller_hangup', duration_sec: 37 });
    expect(await endedEvents(call.id)).toBe(1);
    // Ended: never asked again, never ended twice.
    await silentFor(call.id, 30);
    expect(await s.sweepRound()).toBe(0);
    expect(asksAbout(call.sid)).toBe(1);
    expect(await endedEvents(call.id)).toBe(1);
  });

  it('notes a call Twilio reports still going as alive, and asks again only after another silence', async () => {
    const call = await answeredCall();
    const s = sweeper();
    await silentFor(call.id, 11);
    expect(await s.sweepRound()).toBe(0);
    await s.sweepRound();
    expect(asksAbout(call.sid)).toBe(1);
    expect((await callRow(call.id)).ended_at).toBeNull();
  });

  it('never asks about a call a server holds, nor where Twilio cannot be asked; the unowned sweep still ends those', async () => {
    const held = await answeredCall();
    const holder = new CallOwnership(h.t.db.sql, quiet, { heartbeatMs: 60_000, sweepEveryMs: 0 });
    await holder.start({ sweep: false });
    await h.t.db.sql`update calls set instance_id = ${holder.instanceId}, status = 'in_progress' where id = ${held.id}`;
    await silentFor(held.id, 11);
    await sweeper().sweepRound();
    expect(asksAbout(held.sid)).toBe(0);

    const unknown = await answeredCall();
    h.fake.missingCalls.add(unknown.sid);
    await silentFor(unknown.id, 11);
    await sweeper().sweepRound();
    expect(asksAbout(unknown.sid)).toBe(1);
    expect((await callRow(unknown.id)).ended_at).toBeNull();

    // Without a Twilio client nothing is asked; two silent hours end the call as never connected.
    const unasked = await answeredCall();
    await silentFor(unasked.id, 11);
    const withoutTwilio = new CallOwnership(h.t.db.sql, quiet, { sweepEveryMs: 0 });
    await withoutTwilio.sweepRound();
    expect(asksAbout(unasked.sid)).toBe(0);
    await silentFor(unasked.id, 121);
    await withoutTwilio.sweepRound();
    expect(await callRow(unasked.id)).toMatchObject({ status: 'failed', end_reason: 'never_connected' });
    await holder.stop();
  });

  it('a call Twilio cannot tell about waits before it is asked again, and never keeps the others from being asked', async () => {
    const unknown = [];
    for (let i = 0; i < 3; i++) {
      const call = await answeredCall();
      h.fake.missingCalls.add(call.sid);
      await silentFor(call.id, 30); // the oldest silences: first in line
      unknown.push(call);
    }
    const ended = await answeredCall();
    h.fake.callStates.set(ended.sid, { status: 'completed', duration: 12 });
    await silentFor(ended.id, 11);
    // Rounds of two: the unknown calls (these, and one left silent by an earlier test) are asked once each, then
    // passed over, and the call behind them is reached.
    const s = new CallOwnership(h.t.db.sql, quiet, { telephony: (sid) => rest.fetchCall(sid), sweepEveryMs: 0, askBatch: 2 });
    for (let round = 0; round < 4; round++) await s.sweepRound();
    expect(await callRow(ended.id)).toMatchObject({ status: 'completed', duration_sec: 12 });
    // Each unknown call was asked once, not once a round.
    expect(unknown.map((c) => asksAbout(c.sid))).toEqual([1, 1, 1]);
  });

  it('a slow Twilio never holds the server from starting: the start sweeps the database only', async () => {
    const call = await answeredCall();
    await silentFor(call.id, 11);
    let asked = 0;
    const slow = new CallOwnership(h.t.db.sql, quiet, {
      telephony: async () => {
        asked++;
        return new Promise(() => {}); // never answers
      },
      heartbeatMs: 60_000, sweepEveryMs: 0,
    });
    await slow.start({ sweep: true });
    expect(asked).toBe(0);
    await slow.stop();
  });
});
