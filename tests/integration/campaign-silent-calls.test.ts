/**
 * A campaign call whose final status callback never comes (lost on the way, or never sent) does not hold its
 * contact "live" and a concurrency slot for hours: after a silence, with no server holding the call, the ownership
 * sweep asks Twilio how the call stands and ends it as the callback would have (status, Twilio's duration); the
 * scheduler settles the attempt and moves on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallOwnership } from '../../src/telephony/call-ownership.js';
import { TwilioRestClient } from '../../src/telephony/twilio/rest.js';
import { campaignHarness, type Harness } from './campaign-harness.js';

const quiet = { info: () => {}, warn: () => {} };

describe('campaign calls whose status callback never came', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await campaignHarness('2026-04-15T15:00:00Z');
  });
  afterAll(async () => h.close());

  const callTo = async (phone: string) =>
    (await h.t.db.sql<{ id: string; twilio_call_sid: string; ended_at: Date | null; duration_sec: number | null; end_reason: string | null }[]>`
      select id, twilio_call_sid, ended_at, duration_sec, end_reason from calls where to_number = ${phone} order by created_at`)[0]!;
  /** The call has heard nothing for `minutes`. */
  const silentFor = (callId: string, minutes: number) =>
    h.t.db.sql`update calls set updated_at = now() - ${minutes} * interval '1 minute' where id = ${callId}`;
  const statusAsks = () => h.fake.requests.filter((r) => r.method === 'GET' && /\/Calls\/CA\w+\.json$/.test(r.path)).length;

  it('asks Twilio after ten silent minutes, ends the call as Twilio says, and dials the next contact', async () => {
    const { apiKey, botId } = await h.company();
    await h.api(apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 5, max_calls_per_week: 10, blocked_prefixes: [] });
    const phones = ['+12125550501', '+12125550502'];
    await h.campaign(apiKey, botId, { concurrency: 1, max_attempts: 2, retry_spacing_sec: 3600 }, phones.map((phone) => ({ phone, time_zone: 'UTC' })));
    const s = h.scheduler();
    const rest = new TwilioRestClient({ accountSid: h.fake.accountSid, authToken: h.fake.authToken, baseUrl: h.fake.url, retryDelayMs: 1, timeoutMs: 2000 });
    const ownership = new CallOwnership(h.t.db.sql, quiet, { telephony: (sid) => rest.fetchCall(sid), sweepEveryMs: 0 });
    /** What every instance does every 30 s, then the scheduler's poll. */
    const sweepAndRun = async () => {
      await ownership.sweepRound();
      await s.runOnce();
    };
    await s.runOnce();
    // One slot: one of the two is dialled (either may go first).
    expect(phones.map((p) => h.dialsTo(p)).sort()).toEqual([0, 1]);
    const first = phones.find((p) => h.dialsTo(p) === 1)!;
    const second = phones.find((p) => p !== first)!;
    const call = await callTo(first);

    // Five silent minutes: not yet asked; the slot is still taken.
    await silentFor(call.id, 5);
    const asked = statusAsks();
    await sweepAndRun();
    expect(statusAsks()).toBe(asked);
    expect(h.dialsTo(second)).toBe(0);

    // Eleven: Twilio says the call is still going — it stays live and is not asked again at once.
    await silentFor(call.id, 11);
    await sweepAndRun();
    expect(statusAsks()).toBe(asked + 1);
    await sweepAndRun();
    expect(statusAsks()).toBe(asked + 1);
    expect((await callTo(first)).ended_at).toBeNull();

    // Silent again, and now over at Twilio (busy): ended as the callback would have, the contact retried later,
    // and the freed slot dials the next contact.
    h.fake.callStates.set(call.twilio_call_sid, { status: 'busy', duration: 0 });
    await silentFor(call.id, 11);
    await sweepAndRun();
    expect(await callTo(first)).toMatchObject({ duration_sec: 0, end_reason: 'busy' });
    await sweepAndRun();
    expect(h.dialsTo(second)).toBe(1);
    const [contact] = await h.t.db.sql`select state, last_outcome from campaign_contacts where phone = ${first}`;
    expect(contact).toMatchObject({ state: 'pending', last_outcome: 'busy' });
  });
});
