/**
 * Campaign statistics from counters (migration 0330, src/campaigns/stats.ts): exactly what counting every contact
 * and attempt gave, after every path that writes them — imports, claims, dials, settles, a skip at dial time, an
 * outcome analysed later and rewritten, an erasure, a call purged, a cancel and its skip batches, a contact
 * deleted, Twilio refusing a request or a number, a dial whose answer was lost, a machine hung up on, a campaign
 * ending with contacts waiting — folded or not; the read touches neither table; concurrent schedulers lose no count
 * and never deadlock; and the migration's backfill of a campaign made before it is exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endCallInTx } from '../../src/call/lifecycle.js';
import { campaignStats, insertCampaign, insertContacts, type CampaignStats } from '../../src/campaigns/repo.js';
import { CampaignScheduler } from '../../src/campaigns/scheduler.js';
import { skipWaitingJob } from '../../src/campaigns/skip-waiting.js';
import { foldStatDeltas } from '../../src/campaigns/stats.js';
import { openDatabase, type Database } from '../../src/db/connect.js';
import { migrate } from '../../src/db/migrate.js';
import type { Db, RootSql } from '../../src/db/sql.js';
import { erasePhoneNumber } from '../../src/privacy/erase.js';
import { OutboundDialer } from '../../src/telephony/twilio/outbound.js';
import { TwilioRestClient } from '../../src/telephony/twilio/rest.js';
import { recount } from '../helpers/campaign-recount.js';
import { createTestDb, migrateBefore, usingRealPostgres } from '../helpers/db.js';
import { ALWAYS, campaignHarness, ORIGIN, type Harness } from './campaign-harness.js';

const pendingDeltas = async (db: Db, campaignId: string) =>
  (await db<{ n: number }[]>`select count(*)::int as n from campaign_stat_deltas where campaign_id = ${campaignId}`)[0]!.n;

describe('campaign statistics from counters', () => {
  let h: Harness;
  let me: Awaited<ReturnType<Harness['company']>>;
  beforeAll(async () => {
    h = await campaignHarness('2026-03-09T15:00:00Z');
    me = await h.company();
    const policy = await h.api(me.apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 10, max_calls_per_week: 20, blocked_prefixes: [] });
    expect(policy.statusCode).toBe(200);
  });
  afterAll(async () => h?.close());

  /** The API's stats equal a recount of the rows; returns them. */
  const exact = async (id: string): Promise<CampaignStats> => {
    const res = await h.api(me.apiKey, 'GET', `/v1/campaigns/${id}`);
    expect(res.statusCode, res.body).toBe(200);
    const c = res.json() as { stats: CampaignStats; conversion_outcomes: string[] };
    expect(c.stats).toEqual(await recount(h.t.db.sql, me.companyId, { id, conversion_outcomes: c.conversion_outcomes }));
    return c.stats;
  };
  const callTo = async (phone: string) =>
    (await h.t.db.sql<{ id: string }[]>`select id from calls where to_number = ${phone} order by started_at desc limit 1`)[0]!.id;
  const contact = (phone: string) => ({ phone, time_zone: 'UTC' });

  it('stay equal to a recount after every path that writes contacts, attempts and outcomes, folded or not', async () => {
    const sql = h.t.db.sql;
    const phones = Array.from({ length: 8 }, (_, i) => `+1212555030${i}`);
    const id = await h.campaign(me.apiKey, me.botId, { windows: ALWAYS, max_attempts: 2, retry_spacing_sec: 3600, concurrency: 10, conversion_outcomes: ['booking'] },
      phones.slice(0, 6).map(contact));
    expect(await exact(id)).toMatchObject({ targeted: 6, waiting: 6 });
    // A second upload, two of its four numbers already in the campaign.
    const again = await h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/contacts`, { contacts: phones.slice(4).map(contact) });
    expect(again.json()).toMatchObject({ added: 2, duplicates: 2 });
    expect(await exact(id)).toMatchObject({ targeted: 8, waiting: 8 });

    // Claimed and dialled; the number put on the do-not-call list is skipped at dial time.
    expect((await h.api(me.apiKey, 'POST', '/v1/dnc', { numbers: [{ phone: phones[7] }] })).statusCode).toBe(200);
    const s = h.scheduler();
    await s.runOnce();
    expect(await exact(id)).toMatchObject({ dialled: 7, in_progress: 7, skipped: { do_not_call: 1 } });

    // Settled: answered; unanswered and busy wait for their retry.
    await h.endCall(phones[0]!, 'completed');
    await h.endCall(phones[1]!, 'no-answer');
    await h.endCall(phones[2]!, 'busy');
    await s.runOnce();
    expect(await exact(id)).toMatchObject({ answered: 1, completed: 1, waiting: 2, outcomes: { answered: 1, no_answer: 1, busy: 1 } });

    // The analysis writes the answered call's outcome after the attempt ended, and a re-analysis rewrites it.
    const answered = await callTo(phones[0]!);
    await sql`insert into outcomes (call_id, company_id, outcome_type, confidence, summary, analyzer)
      values (${answered}, ${me.companyId}, 'booking', 0.9, 'booked', 'test')`;
    expect(await exact(id)).toMatchObject({ conversions: 1 });
    await sql`update outcomes set outcome_type = 'callback' where call_id = ${answered}`;
    expect(await exact(id)).toMatchObject({ conversions: 0 });
    await foldStatDeltas(sql);
    expect(await pendingDeltas(sql, id)).toBe(0);
    await sql`update outcomes set outcome_type = 'booking' where call_id = ${answered}`;
    expect(await exact(id)).toMatchObject({ conversions: 1 });

    // A number erased on request while its call is live: the contact is skipped, the attempt anonymised.
    await erasePhoneNumber(sql, me.companyId, phones[3]!);
    expect(await exact(id)).toMatchObject({ skipped: { do_not_call: 1, erased: 1 } });
    // The answered call purged by retention: its outcome goes, and with it the conversion.
    await sql`delete from calls where id = ${answered}`;
    expect(await exact(id)).toMatchObject({ conversions: 0 });

    // Cancelled: the request skips the waiting contacts; calls still live end and settle as skipped too.
    expect((await h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/cancel`)).statusCode).toBe(200);
    expect(await exact(id)).toMatchObject({ skipped: { do_not_call: 1, erased: 1, campaign_cancelled: 2 } });
    for (const phone of phones.slice(4, 7)) await h.endCall(phone, 'no-answer');
    await s.runOnce();
    await foldStatDeltas(sql);
    expect(await exact(id)).toMatchObject({ in_progress: 0, completed: 1, skipped: { do_not_call: 1, erased: 1, campaign_cancelled: 5 } });

    // A contact deleted (its attempts go with it).
    await sql`delete from campaign_contacts where campaign_id = ${id} and phone = ${phones[4]!}`;
    const last = await exact(id);
    expect(last).toMatchObject({ targeted: 7, skipped: { campaign_cancelled: 4 } });
    await foldStatDeltas(sql);
    expect(await pendingDeltas(sql, id)).toBe(0);
    expect(await exact(id)).toEqual(last);
  });

  it('stay equal to a recount after Twilio refuses, a dial is lost, a machine answers, a retry is spent and the campaign ends', async () => {
    const sql = h.t.db.sql;
    const s = h.scheduler();
    /** A campaign of one contact, dialled once now. */
    const dialledOnce = async (phone: string, body: Record<string, unknown> = {}) => {
      const id = await h.campaign(me.apiKey, me.botId, { windows: ALWAYS, concurrency: 1, ...body }, [contact(phone)]);
      await s.runOnce();
      return id;
    };
    // Twilio refuses the request for the moment (a 429 through the client's retries): uncounted, the contact waits.
    h.fake.failures.push(429, 429, 429);
    const busyTwilio = await dialledOnce('+13125550600');
    expect(await exact(busyTwilio)).toMatchObject({ dialled: 0, waiting: 1, outcomes: { twilio_unavailable: 1 } });
    // Twilio refuses the number: skipped for good, uncounted.
    h.fake.failures.push(400);
    const refused = await dialledOnce('+13125550601');
    const refusedStats = await exact(refused);
    expect(refusedStats).toMatchObject({ dialled: 0, waiting: 0, outcomes: { number_refused: 1 } });
    expect(Object.keys(refusedStats.skipped)).toHaveLength(1);
    // Twilio's answer is lost (a 5xx): counted at once; with no word for ten minutes it ends dial_lost, still counted.
    h.fake.failures.push(500);
    const lost = await dialledOnce('+13125550602', { max_attempts: 1 });
    expect(await exact(lost)).toMatchObject({ dialled: 1, in_progress: 1 });
    // A machine hung up on, then a retry spent on no answer: exhausted.
    const machine = await dialledOnce('+13125550603', { max_attempts: 2, retry_spacing_sec: 60 });
    await h.endCall('+13125550603', 'completed', { AnsweredBy: 'machine_start' });
    const [call] = await sql<{ id: string }[]>`select id from calls where to_number = '+13125550603' order by started_at desc limit 1`;
    await sql`update campaign_attempts set answered_by = 'machine_start', voicemail = 'hung_up' where call_id = ${call!.id}`;
    // A campaign whose end comes while its contacts wait.
    const ending = await h.campaign(me.apiKey, me.botId, { windows: ALWAYS, concurrency: 1 }, [contact('+13125550604'), contact('+13125550605')]);
    await sql`update campaigns set ends_at = ${new Date(h.clock.t.getTime() + 30 * 60_000)} where id = ${ending}`;
    await sql`update campaign_contacts set next_attempt_at = 'infinity' where campaign_id = ${ending}`;

    h.clock.advance(11 * 60_000);
    await s.runOnce();
    expect(await exact(lost)).toMatchObject({ dialled: 1, in_progress: 0, completed: 1, outcomes: { dial_lost: 1 } });
    expect(await exact(machine)).toMatchObject({ dialled: 1, waiting: 1, in_progress: 0, outcomes: { voicemail_hung_up: 1 } });
    h.clock.advance(2 * 60_000);
    await s.runOnce();
    expect(await exact(machine)).toMatchObject({ dialled: 2, waiting: 0, in_progress: 1, outcomes: { voicemail_hung_up: 1 } });
    await h.endCall('+13125550603', 'no-answer');
    h.clock.advance(30 * 60_000);
    await s.runOnce();
    await s.runOnce();
    expect(await exact(machine)).toMatchObject({ dialled: 2, completed: 1, outcomes: { voicemail_hung_up: 1, no_answer: 1 } });
    expect(await exact(ending)).toMatchObject({ waiting: 0, skipped: { campaign_ended: 2 } });
    // The refused request's contact was dialled after the backoff.
    expect(await exact(busyTwilio)).toMatchObject({ dialled: 1, in_progress: 1, outcomes: { twilio_unavailable: 1 } });
    await foldStatDeltas(sql);
    for (const id of [busyTwilio, refused, lost, machine, ending]) await exact(id);
  });

  it('skip batches of a stopped campaign larger than one batch are counted', async () => {
    const sql = h.t.db.sql;
    const id = await h.campaign(me.apiKey, me.botId, { windows: ALWAYS }, [contact('+13125550400')]);
    await sql`insert into campaign_contacts (company_id, campaign_id, phone, time_zone)
      select ${me.companyId}, ${id}, '+1646' || lpad(g::text, 7, '0'), 'UTC' from generate_series(1, 4500) g`;
    expect((await h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/cancel`)).statusCode).toBe(200);
    expect(await exact(id)).toMatchObject({ targeted: 4501, waiting: 2501, skipped: { campaign_cancelled: 2000 } });
    // The job the cancel queued marks the rest, batch by batch.
    await skipWaitingJob({ sql }).handler({ campaignId: id }, { jobId: 'test', attempt: 1, signal: new AbortController().signal, renewLease: async () => true });
    expect(await exact(id)).toMatchObject({ waiting: 0, skipped: { campaign_cancelled: 4501 } });
  });

  it('are read without touching the campaign\'s contacts or attempts', async () => {
    const id = await h.campaign(me.apiKey, me.botId, { windows: ALWAYS }, [contact('+13125550500'), contact('+13125550501')]);
    // Scans of the tables the count read, by this transaction (the pending statistics grow until it ends).
    const scans = (tx: Db) => tx<{ relname: string; scans: number }[]>`
      select relname, (coalesce(seq_scan, 0) + coalesce(idx_scan, 0))::int as scans from pg_stat_xact_user_tables
      where relname in ('campaign_contacts', 'campaign_attempts', 'outcomes') order by relname`;
    const [before, after] = await h.t.db.sql.begin(async (tx) => {
      const first = await scans(tx);
      await campaignStats(tx, me.companyId, { id, conversion_outcomes: ['booking'] });
      return [first, await scans(tx)];
    });
    expect(after).toEqual(before);
  });

  it('an outcome of a call no campaign made runs none of the campaign counters\' statement triggers', async () => {
    const sql = h.t.db.sql;
    const calls = await sql<{ id: string }[]>`
      insert into calls (company_id, direction, from_number, to_number, status)
      select ${me.companyId}, 'inbound', '+15551230000', '+15550000000', 'completed' from generate_series(1, 50) returning id`;
    // Calls of the counters' trigger function by this transaction (plpgsql functions are counted once tracked).
    const fired = await sql.begin(async (tx) => {
      await tx`set local track_functions = 'pl'`;
      await tx`insert into outcomes (call_id, company_id, outcome_type, confidence, summary, analyzer)
        select id, ${me.companyId}, 'lead', 0.9, 'summary', 'offline' from unnest(${calls.map((c) => c.id)}::uuid[]) as id`;
      await tx`update outcomes set outcome_type = 'callback' where call_id = any(${calls.map((c) => c.id)}::uuid[])`;
      const [row] = await tx<{ calls: number }[]>`select coalesce(sum(calls), 0)::int as calls from pg_stat_xact_user_functions where funcname = 'campaign_stats_changed'`;
      return row!.calls;
    });
    // Was one UPDATE of campaign_attempts — and its statement triggers — per outcome written (100 here).
    expect(fired).toBe(0);
  });

  it('lose no count and never deadlock with several schedulers claiming, dialling and settling one campaign at once', async () => {
    const n = 240;
    const id = await h.campaign(me.apiKey, me.botId, { windows: ALWAYS, max_attempts: 1, concurrency: 80 },
      Array.from({ length: n }, (_, i) => contact(`+1415555${String(i).padStart(4, '0')}`)));
    // Each scheduler on a pool of its own where there is a server (PGlite has one connection: they interleave).
    const pools: Database[] = usingRealPostgres()
      ? await Promise.all([0, 1, 2].map(() => openDatabase({ databaseUrl: h.t.db.url!, dataDir: 'memory://', poolMax: 6 })))
      : [];
    const handles = pools.length ? pools.map((p) => p.sql) : [h.t.db.sql, h.t.db.sql, h.t.db.sql];
    const errors: string[] = [];
    const log = { warn: () => {}, error: (o: object, m: string) => void errors.push(`${m}: ${String((o as { err?: unknown }).err)}`) };
    const schedulers = handles.map((sql) => new CampaignScheduler({
      sql, log, now: h.clock.now, concurrency: 40,
      dialer: new OutboundDialer({ sql, publicOrigin: ORIGIN, maxActivePerCompany: 10_000,
        rest: new TwilioRestClient({ accountSid: h.fake.accountSid, authToken: h.fake.authToken, baseUrl: h.fake.url, retryDelayMs: 1, timeoutMs: 5000 }) }),
    }));
    /** Twilio's status callbacks: every placed call of the campaign ends, answered. */
    const endLive = async (sql: RootSql) => {
      const live = await sql<{ id: string }[]>`
        select c.id from calls c join campaign_attempts a on a.call_id = c.id
        where a.campaign_id = ${id} and c.ended_at is null and c.twilio_call_sid is not null`;
      await Promise.all(live.map((c) => sql.begin((tx) =>
        endCallInTx(tx, { callId: c.id, companyId: me.companyId }, { status: 'completed', reason: 'caller_hangup' }, { by: 'telephony', durationSec: 30 }))));
    };
    try {
      for (let round = 0; round < 40; round++) {
        await Promise.all([
          ...schedulers.map((s) => s.runOnce()),
          endLive(handles[0]!),
          foldStatDeltas(handles[1]!, 50),
          foldStatDeltas(handles[2]!, 50),
        ]);
        const [left] = await h.t.db.sql<{ n: number }[]>`
          select count(*)::int as n from campaign_contacts where campaign_id = ${id} and state in ('pending', 'dialing', 'live')`;
        if (left!.n === 0) break;
      }
    } finally {
      await Promise.all(pools.map((p) => p.close()));
    }
    expect(errors).toEqual([]);
    expect(await exact(id)).toMatchObject({ targeted: n, dialled: n, answered: n, completed: n, in_progress: 0, waiting: 0 });
    await foldStatDeltas(h.t.db.sql);
    expect(await exact(id)).toMatchObject({ targeted: n, dialled: n, completed: n });
  });
});

describe('the counters\' migration', () => {
  it('backfills a campaign made before it exactly, outcomes and skip reasons included', async () => {
    const db = await createTestDb({ migrate: false });
    try {
      await migrateBefore(db, '0330');
      const sql = db.sql;
      const [company] = await sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Old', 'whsec_old') returning id`;
      const companyId = company!.id;
      const [bot] = await sql<{ id: string }[]>`
        insert into bots (company_id, name, language, config) values (${companyId}, 'Ava', 'en', ${sql.json({ greeting: 'Hi', systemPrompt: 'x' })}) returning id`;
      const campaign = await insertCampaign(sql, companyId, {
        bot_id: bot!.id, name: 'Before', starts_at: null, ends_at: null, windows: ALWAYS, max_attempts: 3, retry_spacing_sec: 3600,
        concurrency: 5, require_consent: false, voicemail: 'leave_message', voicemail_message: 'Hi', purpose: null, conversion_outcomes: ['booking', 'lead'],
      });
      await insertContacts(sql, companyId, campaign.id, Array.from({ length: 40 }, (_, i) => ({ phone: `+1646555${String(i).padStart(4, '0')}`, name: null, time_zone: 'UTC', variables: {} })));
      // Contacts in every state; attempts with outcomes, voicemails, uncounted ones, and analysed calls.
      await sql`
        update campaign_contacts set state = (array['pending', 'dialing', 'live', 'done', 'skipped', 'exhausted'])[1 + (substr(phone, 9)::int % 6)],
          skip_reason = case when substr(phone, 9)::int % 6 = 4 then (array['do_not_call', 'erased', null])[1 + substr(phone, 9)::int / 6 % 3] end
        where campaign_id = ${campaign.id}`;
      const contacts = await sql<{ id: string; phone: string }[]>`select id, phone from campaign_contacts where campaign_id = ${campaign.id} order by phone limit 24`;
      for (const [i, k] of contacts.entries()) {
        const [call] = await sql<{ id: string }[]>`
          insert into calls (company_id, bot_id, direction, status, to_number) values (${companyId}, ${bot!.id}, 'outbound', 'completed', ${k.phone}) returning id`;
        const outcome = (['answered', 'no_answer', 'voicemail_left', 'busy', null] as const)[i % 5] ?? null;
        await sql`
          insert into campaign_attempts (company_id, campaign_id, contact_id, phone, seq, call_id, status, counted, local_day, dialed_at, voicemail, outcome)
          values (${companyId}, ${campaign.id}, ${k.id}, ${k.phone}, 1, ${call!.id}, 'ended', ${i % 7 !== 0}, '2026-03-09', now(),
            ${outcome === 'voicemail_left' ? 'left' : null}, ${outcome})`;
        if (i % 3 === 0) {
          await sql`insert into outcomes (call_id, company_id, outcome_type, confidence, summary, analyzer)
            values (${call!.id}, ${companyId}, ${['booking', 'lead', 'other'][(i / 3) % 3]!}, 0.8, 's', 'test')`;
        }
      }
      const before = await recount(sql, companyId, campaign);
      await migrate(sql);
      expect(await pendingDeltas(sql, campaign.id)).toBe(0);
      expect(await campaignStats(sql, companyId, campaign)).toEqual(before);
      expect(before).toMatchObject({ targeted: 40, conversions: 6 });
      expect(Object.keys(before.skipped).sort()).toEqual(['do_not_call', 'erased', 'unknown']);
    } finally {
      await db.close();
    }
  });
});
