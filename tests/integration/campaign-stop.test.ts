/**
 * Stopping a campaign is one row's work, whatever the campaign's size: the status is the commit point (nobody is
 * claimed or dialled after the stop answers), and the contacts still waiting are marked skipped afterwards in
 * bounded batches — the request's first, a job the rest — which finish after a crash too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SKIP_BATCH_CONTACTS, SKIP_WAITING_JOB, skipWaitingJob } from '../../src/campaigns/skip-waiting.js';
import { withQueryDeadline } from '../../src/db/param-guard.js';
import type { Db } from '../../src/db/sql.js';
import { claimJobs, JobWorker } from '../../src/jobs/queue.js';
import { createTestDb, usingRealPostgres, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/until.js';
import { ALWAYS, campaignHarness, type Harness } from './campaign-harness.js';

const silent = { warn: () => {}, error: () => {} };

/** A running campaign of `n` contacts (seeded in one statement, as repeated uploads would leave it); its id. */
async function bigCampaign(h: Harness, seed: Db, me: { apiKey: string; botId: string; companyId: string }, n: number, concurrency = 5): Promise<string> {
  const id = await h.campaign(me.apiKey, me.botId, { windows: ALWAYS, concurrency }, [{ phone: '+13125550000' }]);
  await seed`
    insert into campaign_contacts (company_id, campaign_id, phone, time_zone)
    select ${me.companyId}, ${id}, '+1646' || lpad(g::text, 7, '0'), 'America/New_York' from generate_series(1, ${n - 1}) g`;
  await h.scheduler().tick(); // scheduled → running; nothing claimed yet
  expect((await h.api(me.apiKey, 'GET', `/v1/campaigns/${id}`)).json().status).toBe('running');
  return id;
}

const contactStates = async (sql: Db, campaignId: string) =>
  Object.fromEntries((await sql<{ state: string; n: number }[]>`
    select state, count(*)::int as n from campaign_contacts where campaign_id = ${campaignId} group by 1`).map((r) => [r.state, r.n]));

describe('stopping a campaign larger than one batch', () => {
  let h: Harness;
  let me: Awaited<ReturnType<Harness['company']>>;
  beforeAll(async () => {
    h = await campaignHarness();
    me = await h.company();
  });
  afterAll(async () => h?.close());

  it('cancel marks one batch in the request; the job marks the rest, and resumes after a crash mid-way', async () => {
    const n = 2 * SKIP_BATCH_CONTACTS + 700;
    const id = await bigCampaign(h, h.t.db.sql, me, n);

    const res = await h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/cancel`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().status).toBe('cancelled');
    // The request did a bounded amount: one batch.
    expect(await contactStates(h.t.db.sql, id)).toEqual({ skipped: SKIP_BATCH_CONTACTS, pending: n - SKIP_BATCH_CONTACTS });

    // A worker takes the job, marks one batch and dies (its lease runs out without a word).
    const [claimed] = await claimJobs(h.t.db.sql, SKIP_WAITING_JOB, 1, 1);
    expect(claimed?.payload).toEqual({ campaignId: id });
    const dying = new AbortController();
    let batches = 0;
    await skipWaitingJob({ sql: h.t.db.sql }).handler(claimed!.payload, {
      jobId: claimed!.id, attempt: 1, signal: dying.signal,
      renewLease: async () => ++batches < 1, // the first renewal fails: the process is gone
    });
    expect(await contactStates(h.t.db.sql, id)).toEqual({ skipped: 2 * SKIP_BATCH_CONTACTS, pending: 700 });

    // The next instance's worker takes the job over once the lease has expired and finishes it.
    const worker = new JobWorker(h.t.db.sql, { kinds: { [SKIP_WAITING_JOB]: skipWaitingJob({ sql: h.t.db.sql }) }, pollMs: 20, log: silent });
    worker.start();
    try {
      await until(async () => (await h.t.db.sql`select 1 from jobs where id = ${claimed!.id} and status = 'done'`).length > 0);
    } finally {
      await worker.stop();
    }
    expect(await contactStates(h.t.db.sql, id)).toEqual({ skipped: n });
    const stats = (await h.api(me.apiKey, 'GET', `/v1/campaigns/${id}`)).json().stats;
    expect(stats).toMatchObject({ targeted: n, waiting: 0, skipped: { campaign_cancelled: n } });
    // And nobody was called.
    expect(h.fake.requests.filter((r) => r.path.endsWith('/Calls.json'))).toHaveLength(0);
  });

  it('a contact a dial held while the campaign stopped is skipped too, never left waiting', async () => {
    // The statistics autovacuum may leave: analysed while every contact was skipped, so the planner expects few
    // waiting. With them a batch written as `id in (select … limit … for update)` was run as a nested loop that
    // re-ran its subquery per row and marked all 2,010 (a CI failure; tests/unit/locked-batch-subqueries.test.ts).
    await h.t.db.sql`analyze campaign_contacts`;
    const id = await bigCampaign(h, h.t.db.sql, me, SKIP_BATCH_CONTACTS + 10, 3);
    // Three contacts claimed (leased to a dial) just before the stop.
    const scheduler = h.scheduler();
    const claimed = await scheduler.claim(3);
    expect(claimed).toHaveLength(3);
    expect((await h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/cancel`)).statusCode).toBe(200);
    const left = await contactStates(h.t.db.sql, id);
    expect(left.skipped).toBe(SKIP_BATCH_CONTACTS);
    expect((left.pending ?? 0) + (left.dialing ?? 0)).toBe(10);
    // Their dials find the campaign stopped: nobody is called, and the claims go back.
    await Promise.all(claimed.map((c) => scheduler.dial(c)));
    expect(h.fake.requests.filter((r) => r.path.endsWith('/Calls.json'))).toHaveLength(0);
    await skipWaitingJob({ sql: h.t.db.sql }).handler({ campaignId: id }, { jobId: 'x', attempt: 1, signal: new AbortController().signal, renewLease: async () => true });
    expect(await contactStates(h.t.db.sql, id)).toEqual({ skipped: SKIP_BATCH_CONTACTS + 10 });
  });
});

// The deadline exists on PostgreSQL only.
if (usingRealPostgres()) describe('cancelling a campaign larger than the request query deadline, on PostgreSQL', () => {
  /** The request handle's deadline: well above one batch, well below one update of the whole campaign. */
  const DEADLINE_MS = 500;
  /** Contacts whose one update takes a few times DEADLINE_MS on an ordinary machine. */
  const CONTACTS = 200_000;
  let db: TestDatabase;
  let h: Harness;
  beforeAll(async () => {
    db = await createTestDb();
    // The API's handle with a short deadline, as DATABASE_QUERY_TIMEOUT_MS gives it (whose least is 1 s).
    h = await campaignHarness(undefined, { db: { ...db, sql: withQueryDeadline(db.sql, DEADLINE_MS) } });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await db?.close();
  });

  it('cancel answers 200 at once, the campaign is cancelled, and no contact is claimed or dialled afterwards', async () => {
    const me = await h.company();
    const id = await bigCampaign(h, db.sql, me, CONTACTS);

    const res = await h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/cancel`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().status).toBe('cancelled');
    const got = await h.api(me.apiKey, 'GET', `/v1/campaigns/${id}`);
    expect(got.statusCode, got.body).toBe(200);
    expect(got.json().status).toBe('cancelled');

    // The scheduler's next polls claim nobody of it and dial nobody.
    const scheduler = h.scheduler();
    expect(await scheduler.runOnce(10)).toBe(0);
    expect(await scheduler.runOnce(10)).toBe(0);
    expect(h.fake.requests.filter((r) => r.path.endsWith('/Calls.json'))).toHaveLength(0);
    const [busy] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from campaign_contacts where campaign_id = ${id} and state in ('dialing', 'live')`;
    expect(busy!.n).toBe(0);
  }, 120_000);
});
