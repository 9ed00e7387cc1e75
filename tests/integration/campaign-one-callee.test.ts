/**
 * What a callee is spared, whatever the campaigns around their number do:
 * - two campaigns knowing the number in two time zones still make one call on one real day (cap 1 a day);
 * - two campaigns never ring it at the same moment (cap 2 a day): the second waits for the first call to end;
 * - a callee who picked up and talked to the bot is reached, even when the call then failed: not rung again;
 * - a campaign cancelled while a call rang leaves nobody waiting for a retry that never comes;
 * - a number this server may not dial is skipped once, not retried for ever.
 * And one company at its outbound cap does not take the dial slots another company's campaign needs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endCallInTx } from '../../src/call/lifecycle.js';
import { CampaignScheduler } from '../../src/campaigns/scheduler.js';
import { createLogger } from '../../src/log.js';
import { OutboundDialer } from '../../src/telephony/twilio/outbound.js';
import { TwilioRestClient } from '../../src/telephony/twilio/rest.js';
import { ALWAYS, campaignHarness, contactRow, type Harness } from './campaign-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await campaignHarness();
});
afterAll(async () => h.close());

const liveCalls = async (phone: string) => (await h.t.db.sql`select 1 from calls where to_number = ${phone} and ended_at is null`).length;

describe('one callee, many campaigns', () => {
  it('two zones for one number in two campaigns: still one call a day', async () => {
    const { apiKey, botId } = await h.company();
    await h.api(apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 1, max_calls_per_week: 3, blocked_prefixes: [] });
    h.clock.set('2026-04-07T04:30:00Z'); // Monday 21:30 in Los Angeles, Tuesday 00:30 in New York
    const phone = '+12125550901';
    const a = await h.campaign(apiKey, botId, { windows: ALWAYS }, [{ phone, time_zone: 'America/Los_Angeles' }]);
    const b = await h.campaign(apiKey, botId, { windows: ALWAYS }, [{ phone, time_zone: 'America/New_York' }]);
    await h.scheduler().runOnce();
    await h.endCall(phone, 'no-answer');
    await h.scheduler().runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    const rows = [await contactRow(h, a, phone), await contactRow(h, b, phone)];
    expect(rows.map((r) => r.deferred_reason)).toContain('daily_cap');
  });

  it('never two calls to one number at once: the second campaign waits for the first call to end', async () => {
    const { apiKey, botId } = await h.company();
    await h.api(apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 2, max_calls_per_week: 5, blocked_prefixes: [] });
    h.clock.set('2026-04-08T15:00:00Z');
    const phone = '+12125550902';
    const a = await h.campaign(apiKey, botId, {}, [{ phone, time_zone: 'UTC' }]);
    const b = await h.campaign(apiKey, botId, {}, [{ phone, time_zone: 'UTC' }]);
    await h.scheduler().runOnce();
    expect(await liveCalls(phone)).toBe(1);
    const rows = [await contactRow(h, a, phone), await contactRow(h, b, phone)];
    expect(rows.map((r) => r.deferred_reason)).toContain('number_in_call');
  });

  it('a callee who picked up is reached, even when the call then failed: not rung again', async () => {
    const { apiKey, botId, companyId } = await h.company();
    h.clock.set('2026-04-13T15:00:00Z');
    await h.api(apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 5, max_calls_per_week: 10, blocked_prefixes: [] });
    const phone = '+12125550906';
    const id = await h.campaign(apiKey, botId, { max_attempts: 3, retry_spacing_sec: 600 }, [{ phone, time_zone: 'UTC' }]);
    const s = h.scheduler();
    await s.runOnce();
    const [call] = await h.t.db.sql<{ id: string; twilio_call_sid: string }[]>`select id, twilio_call_sid from calls where to_number = ${phone}`;
    expect((await h.twilio(`/twilio/outbound/${call!.id}`, { CallSid: call!.twilio_call_sid, To: phone, AnsweredBy: 'human' })).body).toContain('<Stream');
    await h.t.db.sql.begin((tx) => endCallInTx(tx, { callId: call!.id, companyId }, { status: 'failed', reason: 'provider_failure: tts' }, { by: 'session' }));
    await h.endCall(phone, 'completed');
    await s.runOnce();
    h.clock.advance(600_000);
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    expect(await contactRow(h, id, phone)).toMatchObject({ state: 'done', last_outcome: 'answered' });
  });

  it('cancelled while a call rang: the contact is not left waiting for a retry', async () => {
    const { apiKey, botId } = await h.company();
    h.clock.set('2026-04-07T15:00:00Z');
    const phone = '+12125550922';
    const id = await h.campaign(apiKey, botId, { max_attempts: 3, retry_spacing_sec: 600 }, [{ phone, time_zone: 'UTC' }]);
    const s = h.scheduler();
    await s.runOnce();
    expect((await h.api(apiKey, 'POST', `/v1/campaigns/${id}/cancel`)).statusCode).toBe(200);
    await h.endCall(phone, 'no-answer');
    await s.runOnce();
    expect(await contactRow(h, id, phone)).toMatchObject({ state: 'skipped', skip_reason: 'campaign_cancelled' });
    const campaign = (await h.api(apiKey, 'GET', `/v1/campaigns/${id}`)).json();
    expect(campaign.stats.waiting ?? 0).toBe(0);
  });

  it('a number outside OUTBOUND_ALLOWED_PREFIXES is skipped once, not retried for ever', async () => {
    const { apiKey, botId } = await h.company();
    h.clock.set('2026-04-10T15:00:00Z');
    const rest = new TwilioRestClient({ accountSid: h.fake.accountSid, authToken: h.fake.authToken, baseUrl: h.fake.url, retryDelayMs: 1, timeoutMs: 2000 });
    const dialer = new OutboundDialer({ sql: h.t.db.sql, publicOrigin: 'https://voice.example.com', rest, maxActivePerCompany: 100, allowedPrefixes: ['+1'] });
    const s = new CampaignScheduler({ sql: h.t.db.sql, dialer, log: createLogger('silent'), now: h.clock.now });
    const phone = '+442071838751';
    const id = await h.campaign(apiKey, botId, {}, [{ phone, time_zone: 'UTC' }]);
    await s.runOnce();
    expect(await contactRow(h, id, phone)).toMatchObject({ state: 'skipped', skip_reason: 'number_refused' });
    expect(h.dialsTo(phone)).toBe(0);
  });

  it('a company at its outbound cap does not starve another company\'s campaign', async () => {
    const A = await h.company();
    const B = await h.company();
    h.clock.set('2026-04-08T15:00:00Z');
    for (const k of [A, B]) await h.api(k.apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 5, max_calls_per_week: 10, blocked_prefixes: [] });
    const rest = new TwilioRestClient({ accountSid: h.fake.accountSid, authToken: h.fake.authToken, baseUrl: h.fake.url, retryDelayMs: 1, timeoutMs: 2000 });
    const dialer = new OutboundDialer({ sql: h.t.db.sql, publicOrigin: 'https://voice.example.com', rest, maxActivePerCompany: 2 });
    const s = new CampaignScheduler({ sql: h.t.db.sql, dialer, log: createLogger('silent'), now: h.clock.now, concurrency: 4 });
    const aContacts = Array.from({ length: 40 }, (_, i) => ({ phone: `+1212555${String(1000 + i)}`, time_zone: 'UTC' }));
    const a = await h.campaign(A.apiKey, A.botId, { concurrency: 100, windows: ALWAYS }, aContacts);
    const bPhone = '+13125550100';
    await h.campaign(B.apiKey, B.botId, { concurrency: 5, windows: ALWAYS }, [{ phone: bPhone, time_zone: 'UTC' }]);
    for (let i = 0; i < 3; i++) {
      await s.runOnce(4);
      h.clock.advance(1000);
    }
    expect(h.dialsTo(bPhone)).toBe(1);
    // A used its two lines, and its other contacts were not claimed only to be refused.
    const [deferred] = await h.t.db.sql<{ n: number }[]>`select count(*)::int as n from campaign_contacts where campaign_id = ${a} and deferred_reason = 'company_outbound_limit'`;
    expect(deferred!.n).toBe(0);
  });
});
