/**
 * Erasure's work that grows with the company — reading every outcome and webhook event for the number — goes in
 * short batches (src/privacy/erasure-sweep.ts): the first in the request, the rest in a job, the erasure readable
 * until it completes. On PGlite (no deadline) the batches and the job are checked on a few thousand rows; on
 * PostgreSQL, a company whose single full scan takes longer than the request's query deadline is erased through the
 * API (it used to answer 503 every time), and a statement the deadline gave up in a transaction stops on the server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobWorker } from '../../src/jobs/queue.js';
import { QueryDeadlineError, withQueryDeadline } from '../../src/db/param-guard.js';
import type { RootSql } from '../../src/db/sql.js';
import { erasePhoneNumber } from '../../src/privacy/erase.js';
import { ERASURE_SWEEP_JOB, SWEEP_BATCH_ROWS, erasureSweepJob } from '../../src/privacy/erasure-sweep.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createTestDb, usingRealPostgres, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/until.js';

const NUMBER = '+14155550123';
const silent = { warn: () => {}, error: () => {} };

/**
 * `n` calls of the company (none from or to the number) with outcomes whose extracted data holds `fields` fields of
 * free text, and one webhook event each; the outcome and event of the calls at `mentioning` also hold the number.
 */
async function seedHistory(sql: RootSql, companyId: string, n: number, fields: number, mentioning: number[]): Promise<void> {
  await sql`
    with ids as (select gen_random_uuid() as id, i from generate_series(1, ${n}::int) i),
    c as (
      insert into calls (id, company_id, direction, from_number, to_number, status)
      select id, ${companyId}, 'inbound', '+15551230000', '+15550000000', 'completed' from ids returning id)
    select count(*) from c`;
  await sql`
    insert into outcomes (call_id, company_id, outcome_type, confidence, summary, extracted_data, analyzer)
    select c.id, ${companyId}, 'lead', 0.9, 'summary',
      (select jsonb_object_agg('field_' || k, 'value number ' || k || ' for the caller, some free text the analyzer extracted') from generate_series(1, ${fields}::int) k),
      'offline'
    from calls c where c.company_id = ${companyId}`;
  await sql`
    insert into webhook_events (id, company_id, type, ordering_key, body)
    select 'evt_' || c.id, ${companyId}, 'call.analyzed', c.id::text, '{"data":{"call_id":"' || c.id || '"}}'
    from calls c where c.company_id = ${companyId}`;
  // The mentions at given positions in key order, so batches before and after them are read.
  await sql`
    with ranked as (select call_id, row_number() over (order by call_id) as i from outcomes where company_id = ${companyId})
    update outcomes o set extracted_data = o.extracted_data || jsonb_build_object('callback', 'call me back on ' || ${NUMBER}::text)
    from ranked r where o.call_id = r.call_id and r.i = any(${mentioning}::int[])`;
  await sql`
    with ranked as (select seq, row_number() over (order by seq) as i from webhook_events where company_id = ${companyId})
    update webhook_events w set body = '{"data":{"phone":"' || ${NUMBER}::text || '"}}'
    from ranked r where w.seq = r.seq and r.i = any(${mentioning}::int[])`;
}

async function mentionsLeft(sql: RootSql, companyId: string): Promise<{ outcomes: number; events: number }> {
  const [o] = await sql<{ n: number }[]>`select count(*)::int as n from outcomes where company_id = ${companyId} and strpos(extracted_data::text, ${NUMBER}) > 0`;
  const [e] = await sql<{ n: number }[]>`select count(*)::int as n from webhook_events where company_id = ${companyId} and strpos(body, ${NUMBER}) > 0`;
  return { outcomes: o!.n, events: e!.n };
}

describe('the erasure sweep, in batches', () => {
  let db: TestDatabase;
  let t: TestApp;
  beforeAll(async () => {
    db = await createTestDb();
    t = await createTestApp({ db });
  });
  afterAll(async () => {
    await t.close();
    await db.close();
  });

  it('what the request leaves, the job finishes, batch by batch, and then the erasure forgets the number', async () => {
    const co = await t.createCompany();
    const n = 2 * SWEEP_BATCH_ROWS + 500;
    await seedHistory(db.sql, co.companyId, n, 3, [1, SWEEP_BATCH_ROWS, SWEEP_BATCH_ROWS + 1, n]);

    // No batch in the request: the number's own rows are erased, the sweep is left to the job.
    const started = await erasePhoneNumber(db.sql, co.companyId, NUMBER, { inlineBatches: 0 });
    expect(started).toMatchObject({ status: 'in_progress', outcomes: 0, webhook_events: 0, completed_at: null });
    const url = `/v1/privacy/erasures/${started.id}`;
    expect((await t.app.inject({ method: 'GET', url, headers: t.as(co.apiKey) })).json()).toMatchObject({ id: started.id, status: 'in_progress' });
    expect(await mentionsLeft(db.sql, co.companyId)).toEqual({ outcomes: 4, events: 4 });

    const worker = new JobWorker(db.sql, { kinds: { [ERASURE_SWEEP_JOB]: erasureSweepJob({ sql: db.sql }) }, pollMs: 20, log: silent });
    worker.start();
    try {
      const done = await until(async () => {
        const res = (await t.app.inject({ method: 'GET', url, headers: t.as(co.apiKey) })).json();
        return res.status === 'completed' ? res : null;
      });
      expect(done).toMatchObject({ outcomes: 4, webhook_events: 4, completed_at: expect.any(String) });
    } finally {
      await worker.stop();
    }
    expect(await mentionsLeft(db.sql, co.companyId)).toEqual({ outcomes: 0, events: 0 });
    // Only the rows that held the number were touched.
    const [kept] = await db.sql<{ n: number }[]>`select count(*)::int as n from outcomes where company_id = ${co.companyId} and summary = 'summary'`;
    expect(kept!.n).toBe(n - 4);
    expect(await db.sql`select phones from privacy_erasures where id = ${started.id}`).toEqual([{ phones: null }]);
  });

  it('a company this size is swept within the request: 200, completed', async () => {
    const co = await t.createCompany();
    await seedHistory(db.sql, co.companyId, 300, 3, [7]);
    const res = await t.app.inject({ method: 'DELETE', url: `/v1/privacy/phone-numbers/${encodeURIComponent(NUMBER)}`, headers: t.as(co.apiKey) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'completed', outcomes: 1, webhook_events: 1 });
    expect(await mentionsLeft(db.sql, co.companyId)).toEqual({ outcomes: 0, events: 0 });
  });
});

// The deadline exists on PostgreSQL only.
if (usingRealPostgres()) describe('a company larger than the request query deadline, on PostgreSQL', () => {
  /** The request handle's deadline: well above one batch, well below one scan of the seeded company. */
  const DEADLINE_MS = 500;
  /** Rows whose one full scan takes a few times DEADLINE_MS on an ordinary machine (about 1.5 s here). */
  const ROWS = 200_000;
  let db: TestDatabase;
  let t: TestApp;
  beforeAll(async () => {
    db = await createTestDb();
    // The API's handle with a short deadline, as DATABASE_QUERY_TIMEOUT_MS gives it (whose least is 1 s).
    t = await createTestApp({ db: { ...db, sql: withQueryDeadline(db.sql, DEADLINE_MS) } });
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await db.close();
  });

  it('erasure through the API completes (202, then the job), where one scan of the company would be cut', async () => {
    const co = await t.createCompany();
    await seedHistory(db.sql, co.companyId, ROWS, 25, [ROWS - 1]);
    const res = await t.app.inject({ method: 'DELETE', url: `/v1/privacy/phone-numbers/${encodeURIComponent(NUMBER)}`, headers: t.as(co.apiKey) });
    expect(res.statusCode, res.body).toBe(202);
    const url = `/v1/privacy/erasures/${res.json().id}`;
    const worker = new JobWorker(db.sql, { kinds: { [ERASURE_SWEEP_JOB]: erasureSweepJob({ sql: db.sql }) }, pollMs: 20, log: silent });
    worker.start();
    try {
      const done = await until(async () => {
        const r = await t.app.inject({ method: 'GET', url, headers: t.as(co.apiKey) });
        expect(r.statusCode, r.body).toBe(200);
        return r.json().status === 'completed' ? r.json() : null;
      }, 120_000);
      expect(done).toMatchObject({ outcomes: 1, webhook_events: 1 });
    } finally {
      await worker.stop();
    }
    expect(await mentionsLeft(db.sql, co.companyId)).toEqual({ outcomes: 0, events: 0 });
  }, 180_000);

  it('a statement the deadline gave up in a transaction is stopped on the server, and its connection freed', async () => {
    const marker = `deadline_probe_${Date.now()}`;
    const given = await t.db.sql.begin((tx) => tx.unsafe(`select pg_sleep(60) as ${marker}`)).then(() => null, (e: unknown) => e);
    expect(given).toBeInstanceOf(QueryDeadlineError);
    // Without the server-side limit the sleep would run on for a minute, holding its connection.
    await until(async () => (await db.sql`select 1 from pg_stat_activity where query like ${`%${marker}%`} and pid <> pg_backend_pid()`).length === 0, 20_000);
  }, 30_000);

  it('a statement the server stopped first is the same deadline to the caller', async () => {
    // The server's limit set shorter than the handle's, so it always wins the race that load decides otherwise.
    const given = await t.db.sql.begin(async (tx) => {
      await tx.unsafe('set local statement_timeout = 20');
      await tx.unsafe('select pg_sleep(5)');
    }).then(() => null, (e: unknown) => e);
    expect(given).toBeInstanceOf(QueryDeadlineError);
  }, 30_000);
});
