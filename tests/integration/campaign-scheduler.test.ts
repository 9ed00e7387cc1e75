/**
 * the campaign scheduler against the fake Twilio — calling windows in each callee's local time
 * (across zones and a DST change), spaced retries, pause/resume, a Twilio refusal that burns no attempt, a lost
 * answer that may have placed the call (counted, never re-dialled), and two
 * schedulers racing over one campaign without dialling anyone twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COUNTRY_ZONES } from '../../src/util/country-zones.js';
import { nextOpening } from '../../src/campaigns/windows.js';
import { ALWAYS, campaignHarness, contactRow, type Harness } from './campaign-harness.js';

describe('campaign scheduler', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await campaignHarness();
  });
  afterAll(async () => h.close());

  it('dials each callee inside the window of their own local time, across zones and a DST change', async () => {
    const { apiKey, botId } = await h.company();
    // Monday 9 March 2026, 13:30 UTC: New York moved to EDT (UTC−4) the day before — 09:30 there (08:30 under
    // EST); London 13:30; Tokyo 22:30; Honolulu 03:30. A contact without a zone is in its area code's.
    h.clock.set('2026-03-09T13:30:00Z');
    const id = await h.campaign(apiKey, botId, { windows: [{ days: [1, 2, 3, 4, 5, 6, 7], start: '09:00', end: '20:00' }] }, [
      { phone: '+12125550101', name: 'Nora', time_zone: 'America/New_York' },
      { phone: '+442071838750', name: 'Liam' }, // no zone: the UK has one
      { phone: '+12125550102', name: 'Toshi', time_zone: 'Asia/Tokyo' },
      { phone: '+12125550103', name: 'Uma' }, // no zone: 212 is New York's (before: all the US, so Hawaii's hours)
      { phone: '+18085550104', name: 'Hana' }, // no zone: 808 is Honolulu's
    ]);
    await h.scheduler().runOnce();
    expect(h.dialsTo('+12125550101')).toBe(1);
    expect(h.dialsTo('+442071838750')).toBe(1);
    expect(h.dialsTo('+12125550102')).toBe(0);
    expect(h.dialsTo('+12125550103')).toBe(1);
    expect(h.dialsTo('+18085550104')).toBe(0);
    const tokyo = await contactRow(h, id, '+12125550102');
    expect(tokyo).toMatchObject({ state: 'pending', deferred_reason: 'outside_window', attempts: 0 });
    expect(tokyo.next_attempt_at.toISOString()).toBe('2026-03-10T00:00:00.000Z'); // 09:00 in Tokyo
    const honolulu = await contactRow(h, id, '+18085550104');
    expect(honolulu).toMatchObject({ state: 'pending', deferred_reason: 'outside_window', attempts: 0 });
    expect(honolulu.next_attempt_at.toISOString()).toBe('2026-03-09T19:00:00.000Z'); // 09:00 in Honolulu (UTC−10)

    h.clock.set('2026-03-09T18:59:00Z');
    await h.scheduler().runOnce();
    expect(h.dialsTo('+18085550104')).toBe(0);
    h.clock.set('2026-03-09T19:00:00Z');
    await h.scheduler().runOnce();
    expect(h.dialsTo('+18085550104')).toBe(1);
    h.clock.set('2026-03-10T00:00:00Z');
    await h.scheduler().runOnce();
    expect(h.dialsTo('+12125550102')).toBe(1);
  });

  it('finds the next opening across the spring-forward gap and the autumn fall-back', () => {
    const w = [{ days: [1, 2, 3, 4, 5, 6, 7], start: '09:00', end: '20:00' }];
    // Saturday 7 March 2026 21:00 EST → Sunday 09:00 EDT = 13:00 UTC (not 14:00).
    expect(nextOpening(w, ['America/New_York'], new Date('2026-03-08T02:00:00Z'))!.toISOString()).toBe('2026-03-08T13:00:00.000Z');
    // London leaves BST on 25 October 2026: Sunday 09:00 GMT = 09:00 UTC; the Saturday before, 09:00 BST = 08:00 UTC.
    expect(nextOpening(w, ['Europe/London'], new Date('2026-10-24T20:30:00Z'))!.toISOString()).toBe('2026-10-25T09:00:00.000Z');
    expect(nextOpening(w, ['Europe/London'], new Date('2026-10-23T20:30:00Z'))!.toISOString()).toBe('2026-10-24T08:00:00.000Z');
    // A start inside the gap (02:30 does not exist on 8 March in New York) moves forward with the clock.
    const gap = [{ days: [7], start: '02:30', end: '05:00' }];
    expect(nextOpening(gap, ['America/New_York'], new Date('2026-03-08T05:00:00Z'))!.toISOString()).toBe('2026-03-08T07:30:00.000Z');
    // Russia spans ten hours (Kaliningrad UTC+2 … Kamchatka UTC+12): 09:00–20:00 everywhere at once is one hour a
    // day; 09:00–18:00 is never (the contact is skipped as no_common_window until it has its own zone).
    expect(nextOpening(w, COUNTRY_ZONES.RU!, new Date('2026-03-09T12:00:00Z'))!.toISOString()).toBe('2026-03-10T07:00:00.000Z');
    expect(nextOpening([{ days: [1, 2, 3, 4, 5, 6, 7], start: '09:00', end: '18:00' }], COUNTRY_ZONES.RU!, new Date('2026-03-09T12:00:00Z'))).toBeNull();
  });

  it('spaces retries after an unanswered attempt and stops at max_attempts', async () => {
    const { apiKey, botId } = await h.company();
    expect((await h.api(apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 10, max_calls_per_week: 20, blocked_prefixes: [] })).statusCode).toBe(200);
    h.clock.set('2026-03-11T15:00:00Z');
    const phone = '+12125550111';
    const id = await h.campaign(apiKey, botId, { max_attempts: 2, retry_spacing_sec: 3600 }, [{ phone, time_zone: 'UTC' }]);
    const s = h.scheduler();
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    await h.endCall(phone, 'no-answer');
    await s.runOnce(); // settles the attempt
    const after1 = await contactRow(h, id, phone);
    expect(after1).toMatchObject({ state: 'pending', attempts: 1, last_outcome: 'no_answer', deferred_reason: 'retry_spacing' });
    expect(after1.next_attempt_at.toISOString()).toBe('2026-03-11T16:00:00.000Z');
    h.clock.advance(3599_000);
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    h.clock.advance(1000);
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(2);
    await h.endCall(phone, 'busy');
    await s.runOnce();
    expect(await contactRow(h, id, phone)).toMatchObject({ state: 'exhausted', attempts: 2, last_outcome: 'busy' });
    await s.runOnce();
    const c = (await h.api(apiKey, 'GET', `/v1/campaigns/${id}`)).json();
    expect(c.status).toBe('completed');
    expect(c.stats).toMatchObject({ targeted: 1, dialled: 2, answered: 0, completed: 1, outcomes: { no_answer: 1, busy: 1 } });
    const events = await h.t.db.sql`select type, body from webhook_events where ordering_key = ${id} order by seq`;
    expect(events.map((e) => e.type)).toEqual([
      'campaign.status_changed', 'campaign.status_changed', 'campaign.attempt.ended', 'campaign.attempt.ended', 'campaign.status_changed',
    ]);
    expect(events.map((e) => JSON.parse(e.body as string).data.to).filter(Boolean)).toEqual(['scheduled', 'running', 'completed']);
  });

  it('pause stops new dials at once (even one already claimed), live calls finish; resume goes on', async () => {
    const { apiKey, botId } = await h.company();
    h.clock.set('2026-03-12T15:00:00Z');
    const phones = ['+12125550121', '+12125550122', '+12125550123'];
    const id = await h.campaign(apiKey, botId, { concurrency: 1 }, phones.map((phone) => ({ phone, time_zone: 'UTC' })));
    const s = h.scheduler();
    const total = () => phones.reduce((n, p) => n + h.dialsTo(p), 0);
    await s.runOnce();
    expect(total()).toBe(1);
    const first = phones.find((p) => h.dialsTo(p) === 1)!;
    await h.endCall(first, 'completed');
    await s.tick();
    const claimed = await s.claim(5); // a worker holds the next contact…
    expect(claimed).toHaveLength(1);
    expect((await h.api(apiKey, 'POST', `/v1/campaigns/${id}/pause`)).json().status).toBe('paused');
    await s.dial(claimed[0]!); // …and finds the campaign paused inside the dial transaction: nobody is called
    expect(total()).toBe(1);
    expect(await contactRow(h, id, claimed[0]!.contact.phone)).toMatchObject({ state: 'pending', attempts: 0 });
    await s.runOnce();
    await s.runOnce();
    expect(total()).toBe(1);
    expect((await h.api(apiKey, 'POST', `/v1/campaigns/${id}/pause`)).statusCode).toBe(409);
    expect((await h.api(apiKey, 'POST', `/v1/campaigns/${id}/resume`)).json().status).toBe('running');
    await s.runOnce();
    expect(total()).toBe(2);
    await s.runOnce();
    expect(total()).toBe(2); // concurrency 1: the next waits for the live call
  });

  it('Twilio refusing the request (429 after its retries) backs the campaign off and burns no attempt', async () => {
    const { apiKey, botId } = await h.company();
    h.clock.set('2026-03-13T15:00:00Z');
    const phone = '+12125550131';
    const id = await h.campaign(apiKey, botId, { max_attempts: 1 }, [{ phone, time_zone: 'UTC' }]);
    const s = h.scheduler();
    h.fake.failures.push(429, 429, 429); // the client retries a 429 twice: Twilio took none of the three
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(3);
    expect(await contactRow(h, id, phone)).toMatchObject({ state: 'pending', attempts: 0, deferred_reason: 'twilio_unavailable' });
    const [camp] = await h.t.db.sql`select dial_failures, backoff_until from campaigns where id = ${id}`;
    expect(camp!.dial_failures).toBe(1);
    expect((camp!.backoff_until as Date).toISOString()).toBe('2026-03-13T15:01:00.000Z');
    await s.runOnce(); // backing off
    expect(h.dialsTo(phone)).toBe(3);
    h.clock.set('2026-03-13T15:01:00Z');
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(4);
    expect(await contactRow(h, id, phone)).toMatchObject({ state: 'live', attempts: 1 });
    const attempts = await h.t.db.sql`select outcome, counted from campaign_attempts where campaign_id = ${id} order by seq`;
    expect(attempts.map((a) => [a.outcome, a.counted])).toEqual([['twilio_unavailable', false], [null, true]]);
    const [after] = await h.t.db.sql`select dial_failures from campaigns where id = ${id}`;
    expect(after!.dial_failures).toBe(0);
  });

  it('a timeout may have placed the call: counted, not dialled again; with no callback in 10 minutes it is dial_lost', async () => {
    const { apiKey, botId } = await h.company();
    h.clock.set('2026-03-13T15:00:00Z');
    const phone = '+12125550132';
    const id = await h.campaign(apiKey, botId, { max_attempts: 3, retry_spacing_sec: 60 }, [{ phone, time_zone: 'UTC' }]);
    const s = h.scheduler();
    h.fake.stalls = 1;
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    expect(await contactRow(h, id, phone)).toMatchObject({ state: 'live', attempts: 1 });
    const [call] = await h.t.db.sql`select c.status, c.twilio_call_sid, c.ended_at, a.status as attempt, a.counted
      from campaign_attempts a join calls c on c.id = a.call_id where a.campaign_id = ${id}`;
    expect(call).toMatchObject({ status: 'queued', twilio_call_sid: null, ended_at: null, attempt: 'dialing', counted: true });
    const [camp] = await h.t.db.sql`select dial_failures, backoff_until from campaigns where id = ${id}`;
    expect(camp!.dial_failures).toBe(1); // Twilio is struggling: the campaign waits
    h.clock.advance(5 * 60_000);
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1); // the callee's phone may be ringing: nobody dials it again
    h.clock.advance(5 * 60_000 + 1000);
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    const attempts = await h.t.db.sql`select outcome, counted from campaign_attempts where campaign_id = ${id} order by seq`;
    expect(attempts.map((a) => [a.outcome, a.counted])).toEqual([['dial_lost', true]]);
    // Counted: the day's one call (the default policy) is spent; the next try is tomorrow.
    h.clock.advance(2 * 60_000);
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    expect(await contactRow(h, id, phone)).toMatchObject({ state: 'pending', attempts: 1, deferred_reason: 'daily_cap' });
  });

  it('two schedulers racing over one campaign dial no contact twice', async () => {
    const { apiKey, botId } = await h.company();
    // Caps high: the claim alone must prevent double dials here (the daily cap would also catch them).
    await h.api(apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 50, max_calls_per_week: 50, blocked_prefixes: [] });
    h.clock.set('2026-03-16T15:00:00Z');
    const phones = Array.from({ length: 60 }, (_, i) => `+1212555${String(2000 + i)}`);
    const id = await h.campaign(apiKey, botId, { concurrency: 25, max_attempts: 1 }, phones.map((phone) => ({ phone, time_zone: 'UTC' })));
    const [a, b] = [h.scheduler(), h.scheduler()];
    // A stale claim too: A claims one contact, its lease runs out, B takes the contact over; A's late dial finds
    // its claim gone and dials nobody.
    await a.tick();
    const stale = await a.claim(1);
    expect(stale).toHaveLength(1);
    h.clock.advance(61_000);
    const retaken = await b.claim(25);
    expect(retaken.map((r) => r.contact.id)).toContain(stale[0]!.contact.id);
    await Promise.all([a.dial(stale[0]!), ...retaken.map((r) => b.dial(r))]);
    for (let round = 0; round < 10; round++) {
      await Promise.all([a.runOnce(), b.runOnce()]);
      const live = await h.t.db.sql<{ to_number: string }[]>`select to_number from calls c join campaign_attempts x on x.call_id = c.id where x.campaign_id = ${id} and c.ended_at is null`;
      for (const c of live) await h.endCall(c.to_number, 'completed');
    }
    const perPhone = phones.map((p) => h.dialsTo(p));
    const dialled = perPhone.filter((n) => n > 0).length;
    const twice = perPhone.filter((n) => n > 1).length;
    console.log(`two schedulers: ${phones.length} contacts, ${dialled} dialled, ${twice} dialled more than once`);
    expect(twice).toBe(0);
    expect(dialled).toBe(phones.length);
    const [n] = await h.t.db.sql`select count(*)::int as n from campaign_attempts where campaign_id = ${id}`;
    expect(n!.n).toBe(phones.length);
  });

  it('keeps each campaign within its concurrency', async () => {
    const { apiKey, botId } = await h.company();
    h.clock.set('2026-03-17T15:00:00Z');
    const phones = Array.from({ length: 12 }, (_, i) => `+1212555${String(3000 + i)}`);
    const id = await h.campaign(apiKey, botId, { concurrency: 4, windows: ALWAYS }, phones.map((phone) => ({ phone, time_zone: 'UTC' })));
    await Promise.all([h.scheduler().runOnce(), h.scheduler().runOnce()]);
    const [live] = await h.t.db.sql`select count(*)::int as n from campaign_contacts where campaign_id = ${id} and state = 'live'`;
    expect(live!.n).toBe(4);
  });
});
