/**
 * Analytics benchmark: inserts N calls (default 1,000,000) spread over one year for one company and
 * 5 bots — with transcripts carrying per-turn latency and barge-ins, outcomes for 70 % of them and bookings for
 * 10 % — into a fresh database on a PostgreSQL server, brings the rollup current, then times GET /v1/analytics's
 * query (src/analytics/query.ts) over the whole year, by day, in several time zones, with and without a bot.
 *
 *   npm run bench:analytics -- [--calls 1000000] [--runs 20] [--database-url postgres://…]
 * The database is created on that server and dropped afterwards (needs CREATEDB).
 */
import { parseArgs } from 'node:util';
import { queryAnalytics } from '../../src/analytics/query.js';
import { refreshAnalytics } from '../../src/analytics/rollup.js';
import { createTestDb } from '../../tests/helpers/db.js';
import { benchCompany, YEAR_START, yearCases } from './lib/year-of-calls.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '20' },
    'database-url': { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://parley:parley@127.0.0.1:5432/parley' },
  },
});
const N = Number(values.calls);
const RUNS = Number(values.runs);
process.env.DATABASE_URL = values['database-url'];

const db = await createTestDb();
const sql = db.sql;
const ms = (t0: number) => performance.now() - t0;
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

try {
  const { companyId, botIds } = await benchCompany(sql);
  const yearStart = YEAR_START;

  let t0 = performance.now();
  // Batches of 100,000 so no single statement holds a million rows' worth of trigger transition tables.
  for (let from = 0; from < N; from += 100_000) {
    const to = Math.min(N, from + 100_000);
    // The calls, then their turns (a row each: migrations/0160_call_turns.sql), matched by started_at (one per i).
    await sql`
      with src as (
        select i, s.* from generate_series(${from}::int, ${to - 1}::int) n cross join lateral (select n::bigint as i) ii
        cross join lateral (select
          ${yearStart}::timestamptz + ((i::float8 / ${N}) * interval '365 days') as started,
          (array['completed', 'completed', 'completed', 'completed', 'completed', 'completed', 'no_answer', 'busy', 'failed', 'completed'])[(1 + (i * 31) % 10)::int] as status,
          (10 + (i * 7) % 600)::int as dur) s),
      ins as (
        insert into calls (company_id, bot_id, direction, status, started_at, answered_at, ended_at, duration_sec, end_reason)
        select ${companyId}, (${botIds}::uuid[])[(1 + i % 5)::int],
          (array['inbound', 'inbound', 'inbound', 'outbound', 'web'])[(1 + i % 5)::int],
          status, started, case when status = 'completed' then started end,
          started + make_interval(secs => dur), dur,
          case when status = 'completed' then (case when i % 17 = 0 then 'transferred' else 'caller_hangup' end) else status end
        from src
        returning id, started_at)
      insert into call_turns (call_id, turn)
      select ins.id, t.turn from ins join src on src.started = ins.started_at
      cross join lateral (values
        (1, jsonb_build_object('role', 'caller', 'text', 'I would like a haircut', 'ts', src.started)),
        (2, jsonb_build_object('role', 'bot', 'text', 'Sure, when?', 'ts', src.started, 'latency', jsonb_build_object('responseMs', 300 + (src.i * 7919) % 900))),
        (3, jsonb_build_object('role', 'caller', 'text', 'Tomorrow at three', 'ts', src.started)),
        (4, jsonb_build_object('role', 'bot', 'text', 'Booked.', 'ts', src.started, 'interrupted', src.i % 9 = 0, 'latency', jsonb_build_object('responseMs', 250 + (src.i * 104729) % 1400)))
      ) t(k, turn)
      order by ins.id, t.k`;
  }
  const insertMs = ms(t0);
  t0 = performance.now();
  await sql`
    insert into outcomes (call_id, company_id, outcome_type, confidence, summary, analyzer)
    select id, company_id, (array['booking', 'lead', 'support', 'hangup'])[1 + abs(hashtext(id::text)) % 4], 0.9, 'bench', 'bench'
    from calls where company_id = ${companyId} and abs(hashtext(id::text)) % 10 < 7`;
  await sql`
    insert into bookings (company_id, bot_id, call_id, service_id, service_name, resource_id, resource_name, starts_at, ends_at, status, created_at)
    select company_id, bot_id, id, 's', 'Cut', 'r' || row_number() over (), 'Chair', started_at + interval '1 day', started_at + interval '1 day 30 minutes',
      case when abs(hashtext(id::text)) % 5 = 0 then 'cancelled' else 'confirmed' end, started_at
    from calls where company_id = ${companyId} and abs(hashtext(id::text)) % 10 = 7`;
  const outcomeMs = ms(t0);
  await sql`vacuum analyze calls`.catch(() => {});
  const [dirty] = await sql<{ n: number }[]>`select count(*)::int as n from analytics_dirty`;

  t0 = performance.now();
  const recomputed = await refreshAnalytics(sql, { batchSize: 2000 });
  const refreshMs = ms(t0);
  await sql`vacuum analyze call_rollup`.catch(() => {});
  await sql`vacuum analyze call_outcome_rollup`.catch(() => {});
  const [rollupRows] = await sql<{ n: number }[]>`select count(*)::int as n from call_rollup`;

  // Incremental: 1,000 calls end (as the lifecycle ends them), then the worker catches up.
  const live = await sql<{ id: string }[]>`select id from calls where company_id = ${companyId} order by started_at desc limit 1000`;
  await sql`update calls set status = 'completed', end_reason = 'caller_hangup' where id = any(${live.map((r) => r.id)}::uuid[])`;
  t0 = performance.now();
  const inc = await refreshAnalytics(sql);
  const incMs = ms(t0);

  console.log(`calls: ${N.toLocaleString('en')} over 365 days, 5 bots (insert ${(insertMs / 1000).toFixed(1)} s; outcomes + bookings ${(outcomeMs / 1000).toFixed(1)} s)`);
  console.log(`rollup: ${dirty!.n.toLocaleString('en')} dirty 15-minute buckets recomputed from scratch in ${(refreshMs / 1000).toFixed(1)} s (${recomputed} buckets, ${rollupRows!.n} rows); 1,000 calls changed afterwards: ${inc} buckets caught up in ${incMs.toFixed(0)} ms`);

  const cases = yearCases(companyId, botIds);
  console.log(`\nGET /v1/analytics query time (queryAnalytics: both rollup queries + shaping), ${RUNS} runs each after 2 warm-ups:`);
  for (const c of cases) {
    for (let i = 0; i < 2; i++) await queryAnalytics(sql, c.q);
    const times: number[] = [];
    let total = 0;
    for (let i = 0; i < RUNS; i++) {
      t0 = performance.now();
      const r = await queryAnalytics(sql, c.q);
      times.push(ms(t0));
      total = r.totals.calls;
    }
    console.log(`  ${c.label.padEnd(46)} p50 ${pct(times, 0.5).toFixed(1)} ms, p95 ${pct(times, 0.95).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms (${total.toLocaleString('en')} calls counted)`);
  }

  // For comparison: the same figures straight from the calls table (no rollup), once.
  t0 = performance.now();
  await sql`
    select (started_at at time zone 'UTC')::date as day, count(*), count(*) filter (where direction = 'inbound'),
      percentile_cont(0.5) within group (order by duration_sec), percentile_cont(0.95) within group (order by duration_sec)
    from calls where company_id = ${companyId} and started_at >= '2026-01-01' and started_at < '2027-01-01' group by 1`;
  console.log(`\nfor comparison, a direct query on calls (counts and duration percentiles only, no transcript latency): ${ms(t0).toFixed(0)} ms`);
} finally {
  await db.close();
}
