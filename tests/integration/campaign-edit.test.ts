/**
 * Editing a campaign that is scheduled, running or paused (PATCH /v1/campaigns/:id): absent settings are kept (no
 * defaults filled in), the rules on what may change once scheduled or started, dials from the edit on following the
 * new settings (also a dial claimed before the edit), contacts waiting for an opening of the old windows decided
 * again — in batches, walked again if the windows change meanwhile — and a lowered max_attempts exhausting instead
 * of dialling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REWAKE_BATCH_CONTACTS, rewakeDeferredJob } from '../../src/campaigns/rewake-deferred.js';
import { botBody } from '../helpers/app.js';
import { ALWAYS, campaignHarness, contactRow, type Harness } from './campaign-harness.js';

const EVERY_DAY = [1, 2, 3, 4, 5, 6, 7];
const window = (start: string, end: string) => [{ days: EVERY_DAY, start, end }];

describe('editing a campaign after it was scheduled', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await campaignHarness();
  });
  afterAll(async () => h?.close());

  /** Runs the walk the edit queued, on the harness's clock; returns how many batches it read (the last one empty). */
  async function runRewake(campaignId: string, onBatch?: (batch: number) => Promise<void>): Promise<number> {
    // This campaign's job: an edit of another test's campaign may have queued its own.
    const [job] = await h.t.db.sql<{ id: string; payload: Record<string, unknown> }[]>`
      select id, payload from jobs where dedupe_key = ${`campaign_rewake_deferred:${campaignId}`} and status = 'queued'`;
    expect(job?.payload, 'the edit queued the walk').toEqual({ campaignId });
    let batches = 0;
    await rewakeDeferredJob({ sql: h.t.db.sql, now: h.clock.now }).handler(job!.payload, {
      jobId: job!.id, attempt: 1, signal: new AbortController().signal,
      renewLease: async () => {
        batches += 1;
        await onBatch?.(batches);
        return true;
      },
    });
    await h.t.db.sql`update jobs set status = 'done' where id = ${job!.id}`;
    return batches;
  }

  it('keeps what a PATCH does not name, and refuses what may not change once scheduled or started', async () => {
    const me = await h.company();
    h.clock.set('2026-03-09T15:00:00Z');
    const id = await h.campaign(me.apiKey, me.botId, { max_attempts: 5, concurrency: 7, retry_spacing_sec: 600, voicemail: 'ignore' }, [{ phone: '+12125550301', time_zone: 'America/New_York' }]);

    const renamed = await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { name: 'Spring reminders' });
    expect(renamed.statusCode, renamed.body).toBe(200);
    // ajv fills schema defaults in: the edit's schema has none, so nothing omitted went back to 3 / 5 / 14400 / hang_up.
    expect(renamed.json()).toMatchObject({ name: 'Spring reminders', status: 'scheduled', max_attempts: 5, concurrency: 7, retry_spacing_sec: 600, voicemail: 'ignore' });

    const other = await h.t.app.inject({ method: 'POST', url: '/v1/bots', headers: h.t.as(me.apiKey), payload: botBody({ name: 'Ben' }) });
    const otherBot = other.json().id as string;
    const botChange = await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { bot_id: otherBot });
    expect(botChange.statusCode).toBe(409);
    expect(botChange.json().error.message).toMatch(/bot of a scheduled campaign cannot change/);
    expect((await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, {})).statusCode).toBe(400);
    const past = await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { ends_at: '2020-01-01T00:00:00Z' });
    expect(past.statusCode).toBe(400);
    expect(past.json().error.message).toMatch(/ends_at is in the past/);
    const noMessage = await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { voicemail: 'leave_message' });
    expect(noMessage.statusCode).toBe(400);

    await h.scheduler().tick(); // scheduled → running
    const start = await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { starts_at: '2027-01-01T00:00:00Z' });
    expect(start.statusCode).toBe(409);
    expect(start.json().error.message).toMatch(/has started/);
    const later = await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { ends_at: '2099-01-01T00:00:00Z', concurrency: 2 });
    expect(later.statusCode, later.body).toBe(200);
    expect(later.json()).toMatchObject({ status: 'running', concurrency: 2, max_attempts: 5, ends_at: '2099-01-01T00:00:00.000Z' });

    // Another company's campaign is not found; a stopped one is not edited.
    const stranger = await h.company();
    expect((await h.api(stranger.apiKey, 'PATCH', `/v1/campaigns/${id}`, { name: 'Mine' })).statusCode).toBe(404);
    expect((await h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/cancel`)).statusCode).toBe(200);
    const stopped = await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { name: 'Again' });
    expect(stopped.statusCode).toBe(409);
    expect(stopped.json().error.code).toBe('PARLEY_ERR_ILLEGAL_TRANSITION');
  });

  it('a widened window calls at once those waiting for the old one; a retry keeps its spacing', async () => {
    const me = await h.company();
    // Monday 9 March 2026 13:30 UTC: 13:30 in London (outside 14:00–20:00), 14:30 in Berlin (inside).
    h.clock.set('2026-03-09T13:30:00Z');
    const id = await h.campaign(me.apiKey, me.botId, { windows: window('14:00', '20:00'), retry_spacing_sec: 3600 }, [
      { phone: '+12125550311', time_zone: 'Europe/London' },
      { phone: '+12125550312', time_zone: 'Europe/Berlin' },
    ]);
    await h.scheduler().runOnce();
    expect(h.dialsTo('+12125550311')).toBe(0);
    expect(h.dialsTo('+12125550312')).toBe(1);
    await h.endCall('+12125550312', 'no-answer');
    await h.scheduler().tick();
    const retry = await contactRow(h, id, '+12125550312');
    expect(retry).toMatchObject({ state: 'pending', deferred_reason: 'retry_spacing' });
    expect(await contactRow(h, id, '+12125550311')).toMatchObject({ state: 'pending', deferred_reason: 'outside_window' });

    const res = await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { windows: window('09:00', '20:00') });
    expect(res.statusCode, res.body).toBe(200);
    expect(await runRewake(id)).toBe(4); // nobody exhausted, nobody skipped; the contacts, then nothing more
    await h.scheduler().runOnce();
    expect(h.dialsTo('+12125550311')).toBe(1); // at 13:30, not at the old opening (14:00)
    expect(h.dialsTo('+12125550312')).toBe(1);
    expect((await contactRow(h, id, '+12125550312')).next_attempt_at).toEqual(retry.next_attempt_at);
  });

  it('a dial claimed before the edit is given back and decided again under the new windows', async () => {
    const me = await h.company();
    h.clock.set('2026-03-09T15:00:00Z');
    const id = await h.campaign(me.apiKey, me.botId, { windows: ALWAYS }, [{ phone: '+12125550321', time_zone: 'Europe/London' }]);
    const scheduler = h.scheduler();
    await scheduler.tick();
    const [claimed] = await scheduler.claim(1);
    expect(claimed).toBeDefined();
    // 15:00 in London: the new window opens at 18:00.
    const res = await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { windows: window('18:00', '20:00') });
    expect(res.statusCode, res.body).toBe(200);
    await scheduler.dial(claimed!);
    expect(h.dialsTo('+12125550321')).toBe(0);
    expect(await contactRow(h, id, '+12125550321')).toMatchObject({ state: 'pending', attempts: 0 });
    await runRewake(id); // nobody was waiting for an opening: it changes nothing here
    await scheduler.runOnce();
    expect(h.dialsTo('+12125550321')).toBe(0);
    const row = await contactRow(h, id, '+12125550321');
    expect(row).toMatchObject({ state: 'pending', deferred_reason: 'outside_window' });
    expect(row.next_attempt_at.toISOString()).toBe('2026-03-09T18:00:00.000Z');
  });

  it('a lowered max_attempts exhausts a contact that has had as many, without dialling it', async () => {
    const me = await h.company();
    h.clock.set('2026-03-09T15:00:00Z');
    const id = await h.campaign(me.apiKey, me.botId, { windows: ALWAYS, max_attempts: 3, retry_spacing_sec: 600 }, [{ phone: '+12125550331', time_zone: 'Europe/London' }]);
    await h.scheduler().runOnce();
    await h.endCall('+12125550331', 'busy');
    await h.scheduler().tick();
    expect(await contactRow(h, id, '+12125550331')).toMatchObject({ state: 'pending', attempts: 1 });
    expect((await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { max_attempts: 1 })).statusCode).toBe(200);
    h.clock.advance(600_000);
    await h.scheduler().runOnce();
    expect(h.dialsTo('+12125550331')).toBe(1);
    expect(await contactRow(h, id, '+12125550331')).toMatchObject({ state: 'exhausted', attempts: 1 });
  });

  it('a raised max_attempts tries again those that ran out of attempts, never one reached, opted out or skipped', async () => {
    const me = await h.company();
    h.clock.set('2026-03-09T15:00:00Z');
    expect((await h.api(me.apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 10, max_calls_per_week: 20, blocked_prefixes: [] })).statusCode).toBe(200);
    const [ran, reached, optedOut, listed, later] = ['+12125550351', '+12125550352', '+12125550353', '+12125550354', '+12125550355'];
    const id = await h.campaign(me.apiKey, me.botId, { windows: ALWAYS, max_attempts: 2, retry_spacing_sec: 600 },
      [ran, reached, optedOut, listed, later].map((phone) => ({ phone, time_zone: 'Europe/London' })));
    expect((await h.api(me.apiKey, 'POST', '/v1/dnc', { numbers: [{ phone: listed }] })).statusCode).toBe(200);
    // One contact waits for tomorrow (the campaign runs on meanwhile).
    await h.t.db.sql`update campaign_contacts set next_attempt_at = '2026-03-10T15:00:00Z' where campaign_id = ${id} and phone = ${later}`;
    await h.scheduler().runOnce();
    await h.endCall(ran, 'busy');
    await h.endCall(reached, 'completed');
    await h.endCall(optedOut, 'no-answer');
    await h.scheduler().tick();
    h.clock.advance(600_000);
    await h.scheduler().runOnce();
    expect([h.dialsTo(ran), h.dialsTo(reached), h.dialsTo(optedOut), h.dialsTo(listed)]).toEqual([2, 1, 2, 0]);
    await h.endCall(ran, 'busy');
    await h.endCall(optedOut, 'no-answer');
    await h.scheduler().tick();
    expect(await contactRow(h, id, ran)).toMatchObject({ state: 'exhausted', attempts: 2 });
    // The callee of one asks not to be called; then the company raises the maximum.
    expect((await h.api(me.apiKey, 'POST', '/v1/dnc', { numbers: [{ phone: optedOut }] })).statusCode).toBe(200);
    expect((await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { max_attempts: 4 })).statusCode).toBe(200);
    // The last one waiting is done before the revival runs: the revival to come keeps the campaign running.
    await h.t.db.sql`update campaign_contacts set state = 'done' where campaign_id = ${id} and phone = ${later}`;
    await h.scheduler().tick();
    expect((await h.api(me.apiKey, 'GET', `/v1/campaigns/${id}`)).json().status).toBe('running');

    await runRewake(id);
    expect(await contactRow(h, id, ran)).toMatchObject({ state: 'pending', attempts: 2, skip_reason: null });
    expect(await contactRow(h, id, reached)).toMatchObject({ state: 'done' });
    expect(await contactRow(h, id, optedOut)).toMatchObject({ state: 'exhausted' });
    expect(await contactRow(h, id, listed)).toMatchObject({ state: 'skipped', skip_reason: 'do_not_call' });
    await h.scheduler().runOnce();
    expect([h.dialsTo(ran), h.dialsTo(reached), h.dialsTo(optedOut), h.dialsTo(listed)]).toEqual([3, 1, 2, 0]);
    await h.endCall(ran, 'no-answer');
    await h.scheduler().tick();
    expect(await contactRow(h, id, ran)).toMatchObject({ state: 'pending', attempts: 3, deferred_reason: 'retry_spacing' });
  });

  it('a later ends_at tries again those skipped because the old end came first', async () => {
    const me = await h.company();
    h.clock.set('2027-03-09T15:00:00Z');
    // Tuesday 9 March 2027 (an ends_at must be ahead of the real clock): 15:00 in London; the window opens at
    // 18:00, after the campaign's end.
    const id = await h.campaign(me.apiKey, me.botId, { windows: window('18:00', '20:00'), ends_at: '2027-03-09T17:00:00Z' }, [
      { phone: '+12125550361', time_zone: 'Europe/London' },
      { phone: '+12125550362', time_zone: 'Europe/London' },
    ]);
    expect((await h.api(me.apiKey, 'POST', '/v1/dnc', { numbers: [{ phone: '+12125550362' }] })).statusCode).toBe(200);
    await h.scheduler().runOnce();
    expect(await contactRow(h, id, '+12125550361')).toMatchObject({ state: 'skipped', skip_reason: 'campaign_ended' });
    // Skipped for the end before the do-not-call list was read: it stays skipped, the list is why.
    expect(await contactRow(h, id, '+12125550362')).toMatchObject({ state: 'skipped', skip_reason: 'campaign_ended' });

    expect((await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { ends_at: '2027-03-10T00:00:00Z' })).statusCode).toBe(200);
    await h.scheduler().tick();
    await runRewake(id);
    expect(await contactRow(h, id, '+12125550362')).toMatchObject({ state: 'skipped', skip_reason: 'campaign_ended' });
    await h.scheduler().runOnce();
    const row = await contactRow(h, id, '+12125550361');
    expect(row).toMatchObject({ state: 'pending', deferred_reason: 'outside_window', skip_reason: null });
    expect(row.next_attempt_at.toISOString()).toBe('2027-03-09T18:00:00.000Z');
    h.clock.set('2027-03-09T18:00:00Z');
    await h.scheduler().runOnce();
    expect(h.dialsTo('+12125550361')).toBe(1);
    expect(h.dialsTo('+12125550362')).toBe(0);
  });

  it('a changed retry spacing moves the retries already waiting: from the last attempt\'s end, never before now', async () => {
    const me = await h.company();
    h.clock.set('2026-03-09T15:00:00Z');
    expect((await h.api(me.apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 10, max_calls_per_week: 20, blocked_prefixes: [] })).statusCode).toBe(200);
    const id = await h.campaign(me.apiKey, me.botId, { windows: ALWAYS, max_attempts: 3, retry_spacing_sec: 86_400 }, [
      { phone: '+12125550371', time_zone: 'Europe/London' },
    ]);
    await h.scheduler().runOnce();
    h.clock.set('2026-03-09T15:10:00Z');
    await h.endCall('+12125550371', 'no-answer');
    await h.scheduler().tick();
    expect((await contactRow(h, id, '+12125550371')).next_attempt_at.toISOString()).toBe('2026-03-10T15:10:00.000Z');

    // A day lowered to an hour: an hour after the unanswered attempt ended, not tomorrow.
    expect((await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { retry_spacing_sec: 3600 })).statusCode).toBe(200);
    await runRewake(id);
    const lowered = await contactRow(h, id, '+12125550371');
    expect(lowered).toMatchObject({ state: 'pending', deferred_reason: 'retry_spacing' });
    expect(lowered.next_attempt_at.toISOString()).toBe('2026-03-09T16:10:00.000Z');
    // Raised again to two hours: two hours after it; and lowered to a minute at 15:30, due now (not in the past).
    expect((await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { retry_spacing_sec: 7200 })).statusCode).toBe(200);
    await runRewake(id);
    expect((await contactRow(h, id, '+12125550371')).next_attempt_at.toISOString()).toBe('2026-03-09T17:10:00.000Z');
    h.clock.set('2026-03-09T15:30:00Z');
    expect((await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { retry_spacing_sec: 60 })).statusCode).toBe(200);
    await runRewake(id);
    expect((await contactRow(h, id, '+12125550371')).next_attempt_at.toISOString()).toBe('2026-03-09T15:30:00.000Z');
    await h.scheduler().runOnce();
    expect(h.dialsTo('+12125550371')).toBe(2);
  });

  it('walks a big campaign in batches, and again when the windows change during the walk', async () => {
    const me = await h.company();
    h.clock.set('2026-03-09T15:00:00Z');
    const id = await h.campaign(me.apiKey, me.botId, { windows: window('18:00', '20:00') }, [{ phone: '+12125550340', time_zone: 'Europe/London' }]);
    await h.scheduler().tick();
    const n = REWAKE_BATCH_CONTACTS + 300;
    // Waiting for 18:00 in London, as the scheduler defers them; and 50 waiting out a retry, which stay.
    await h.t.db.sql`
      insert into campaign_contacts (company_id, campaign_id, phone, time_zone, next_attempt_at, deferred_reason)
      select ${me.companyId}, ${id}, '+1646' || lpad(g::text, 7, '0'), 'Europe/London', '2026-03-09T18:00:00Z',
        case when g <= 50 then 'retry_spacing' else 'outside_window' end
      from generate_series(1, ${n}) g`;
    const deferredNow = async () => (await h.t.db.sql<{ n: number }[]>`
      select count(*)::int as n from campaign_contacts where campaign_id = ${id} and state = 'pending' and next_attempt_at > ${h.clock.now()}
        and deferred_reason = 'outside_window'`)[0]!.n;
    expect(await deferredNow()).toBe(n - 50);

    expect((await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { windows: window('16:00', '20:00') })).statusCode).toBe(200);
    const batches = await runRewake(id, async (batch) => {
      if (batch !== 1) return;
      // Mid-walk, a second edit; meanwhile the scheduler deferred contacts the walk has passed under the first.
      expect((await h.api(me.apiKey, 'PATCH', `/v1/campaigns/${id}`, { windows: window('15:00', '20:00') })).statusCode).toBe(200);
      await h.t.db.sql`
        update campaign_contacts set next_attempt_at = '2026-03-09T16:00:00Z', deferred_reason = 'outside_window'
        where campaign_id = ${id} and state = 'pending' and next_attempt_at <= ${h.clock.now()}`;
    });
    expect(batches).toBeGreaterThan(3); // 2,000 + 300 + nothing more, then the walk again
    expect(await deferredNow()).toBe(0);
    const [kept] = await h.t.db.sql<{ n: number }[]>`
      select count(*)::int as n from campaign_contacts where campaign_id = ${id} and deferred_reason = 'retry_spacing' and next_attempt_at = '2026-03-09T18:00:00Z'`;
    expect(kept!.n).toBe(50);
  });
});
