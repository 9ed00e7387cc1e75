/**
 * Campaign dials under the checks every dial passes (the dialer's, shared with POST /v1/bots/:id/calls): a lost
 * Twilio answer is a call that may be ringing, premium-rate numbers are skipped, and a callee on the phone with the
 * company (an inbound call) is not rung.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCall } from '../../src/call/lifecycle.js';
import { ALWAYS, campaignHarness, contactRow, type Harness } from './campaign-harness.js';

describe('campaign dial safety', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await campaignHarness();
  });
  afterAll(async () => h.close());

  it('a 5xx on create: the call Twilio did place is answered by the bot, settled normally, and never dialled twice', async () => {
    const { apiKey, botId } = await h.company();
    await h.api(apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 1, max_calls_per_week: 3, blocked_prefixes: [] });
    h.clock.set('2026-03-13T15:00:00Z');
    const phone = '+12125550177';
    const id = await h.campaign(apiKey, botId, { max_attempts: 3, windows: ALWAYS }, [{ phone, time_zone: 'UTC' }]);
    const s = h.scheduler();
    h.fake.failures.push(500); // Twilio placed the call; its reply says 500
    await s.runOnce();
    const [call] = await h.t.db.sql<{ id: string; status: string; twilio_call_sid: string | null }[]>`
      select id, status, twilio_call_sid from calls where to_number = ${phone}`;
    expect(call).toMatchObject({ status: 'queued', twilio_call_sid: null });
    expect(await contactRow(h, id, phone)).toMatchObject({ state: 'live', attempts: 1 });
    // Its status callback and its answer carry the call's id: the SID binds and the callee gets the bot.
    const sid = `CA${'f'.repeat(32)}`;
    expect((await h.twilio(`/twilio/status/${call!.id}`, { CallSid: sid, CallStatus: 'ringing', SequenceNumber: '1' })).statusCode).toBe(204);
    const answer = await h.twilio(`/twilio/outbound/${call!.id}`, { CallSid: sid, AnsweredBy: 'human' });
    expect(answer.body).toContain('<Stream');
    expect(answer.body).not.toContain('<Hangup/>');
    h.clock.advance(61_000); // past the campaign's backoff
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    const [live] = await h.t.db.sql`select status, counted from campaign_attempts where campaign_id = ${id}`;
    expect(live).toMatchObject({ status: 'live', counted: true });
    await h.endCall(phone, 'completed');
    await s.runOnce();
    expect(await contactRow(h, id, phone)).toMatchObject({ state: 'done', attempts: 1, last_outcome: 'answered' });
    expect(h.dialsTo(phone)).toBe(1);
  });

  it('premium-rate, shared-cost and UAN contacts are skipped, never dialled', async () => {
    const { apiKey, botId } = await h.company();
    h.clock.set('2026-03-13T20:00:00Z');
    const premium = ['+19005550123', '+449098790123', '+443031234567'];
    const ordinary = '+12125550150';
    const id = await h.campaign(apiKey, botId, { windows: ALWAYS }, [...premium, ordinary].map((phone) => ({ phone, time_zone: 'UTC' })));
    await h.scheduler().runOnce();
    for (const phone of premium) {
      expect(h.dialsTo(phone)).toBe(0);
      expect(await contactRow(h, id, phone)).toMatchObject({ state: 'skipped', skip_reason: 'premium_rate_number', attempts: 0 });
    }
    expect(h.dialsTo(ordinary)).toBe(1);
  });

  it('a callee on an inbound call with the company is not rung: the contact waits (number_in_call)', async () => {
    const { apiKey, botId, companyId, botNumber } = await h.company();
    h.clock.set('2026-03-13T15:00:00Z');
    const phone = '+12125550178';
    const id = await h.campaign(apiKey, botId, { windows: ALWAYS }, [{ phone, time_zone: 'UTC' }]);
    const inbound = await createCall(h.t.db.sql, { companyId, botId, direction: 'inbound', twilioCallSid: `CA${'e'.repeat(32)}`, from: phone, to: botNumber, status: 'in_progress' });
    const s = h.scheduler();
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(0);
    const row = await contactRow(h, id, phone);
    expect(row).toMatchObject({ state: 'pending', attempts: 0, deferred_reason: 'number_in_call' });
    expect(row.next_attempt_at.toISOString()).toBe('2026-03-13T15:05:00.000Z');
    await h.t.db.sql`update calls set status = 'completed', ended_at = now() where id = ${inbound.id}`;
    h.clock.set('2026-03-13T15:05:00Z');
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1);
  });
});
