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
    await s.sweep();
    expect(asksAbout(call.sid)).toBe(0);

    h.fake.callStates.set(call.sid, { status: 'completed', duration: 37 });
    await silentFor(call.id, 11);
    expect(await s.sweep()).toBe(1);
    expect(asksAbout(call.sid)).toBe(1);
    expect(await callRow(call.id)).toMatchObject({ status: 'completed', end_reason: 'caller_hangup', duration_sec: 37 });
    expect(await endedEvents(call.id)).toBe(1);
    // Ended: never asked again, never ended twice.
    await silentFor(call.id, 30);
    expect(await s.sweep()).toBe(0);
    expect(asksAbout(call.sid)).toBe(1);
    expect(await endedEvents(call.id)).toBe(1);
  });

  it('notes a call Twilio reports still going as alive, and asks again only after another silence', async () => {
    const call = await answeredCall();
    const s = sweeper();
    await silentFor(call.id, 11);
    expect(await s.sweep()).toBe(0);
    await s.sweep();
    expect(asksAbout(call.sid)).toBe(1);
    expect((await callRow(call.id)).ended_at).toBeNull();
  });

  it('never asks about a call a server holds, nor where Twilio cannot be asked; the unowned sweep still ends those', async () => {
    const held = await answeredCall();
    const holder = new CallOwnership(h.t.db.sql, quiet, { heartbeatMs: 60_000, sweepEveryMs: 0 });
    await holder.start({ sweep: false });
    await h.t.db.sql`update calls set instance_id = ${holder.instanceId}, status = 'in_progress' where id = ${held.id}`;
    await silentFor(held.id, 11);
    await sweeper().sweep();
    expect(asksAbout(held.sid)).toBe(0);

    const unknown = await answeredCall();
    h.fake.missingCalls.add(unknown.sid);
    await silentFor(unknown.id, 11);
    await sweeper().sweep();
    expect(asksAbout(unknown.sid)).toBe(1);
    expect((await callRow(unknown.id)).ended_at).toBeNull();

    // Without a Twilio client nothing is asked; two silent hours end the call as never connected.
    const unasked = await answeredCall();
    await silentFor(unasked.id, 11);
    const withoutTwilio = new CallOwnership(h.t.db.sql, quiet, { sweepEveryMs: 0 });
    await withoutTwilio.sweep();
    expect(asksAbout(unasked.sid)).toBe(0);
    await silentFor(unasked.id, 121);
    await withoutTwilio.sweep();
    expect(await callRow(unasked.id)).toMatchObject({ status: 'failed', end_reason: 'never_connected' });
    await holder.stop();
  });
});
