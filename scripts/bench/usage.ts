/**
 * Usage benchmark: N calls (default 300,000) over one year for one company and 5 bots, each with 5 usage rows
 * (telephony minutes, written by the calls' trigger, then STT, LLM input and output, TTS) — 1.5 M rows — into a fresh
 * database on a PostgreSQL server (the set-up of bench:analytics), then times GET /v1/usage's answer over the whole
 * year by day, in several time zones, with and without a bot: before (the raw rows summed on every request, as
 * src/usage/repo.ts usageByDay still does for the budget and while the rollup is behind) and after (the rollup's
 * running daily totals, src/usage/query.ts). Also times rebuilding the rollup from nothing, and catching up after
 * 1,000 calls' usage is written; and the monthly budget's cost of the year's last month (src/usage/budget.ts):
 * before (the month's raw rows summed) and after (src/usage/month-usage.ts: the rollup, plus the raw rows of the
 * buckets it has not caught up with), with the rollup current and with those 1,000 calls' buckets still marked.
 *
 *   npm run bench:usage -- [--calls 300000] [--runs 20] [--database-url postgres://…]
 * The database is created on that server and dropped afterwards (needs CREATEDB).
 */
import { parseArgs } from 'node:util';
import { rangeOf } from '../../src/analytics/query.js';
import { loadConfig } from '../../src/config.js';
import { pricesFrom } from '../../src/usage/prices.js';
import { queryUsage, type UsageQuery } from '../../src/usage/query.js';
import { utcMonth } from '../../src/usage/budget.js';
import { monthUsage } from '../../src/usage/month-usage.js';
import { priceItems, usageByDay } from '../../src/usage/repo.js';
import { refreshUsage } from '../../src/usage/rollup.js';
import { createTestDb } from '../../tests/helpers/db.js';
import { benchCompany, YEAR_START, yearCases } from './lib/year-of-calls.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '300000' },
    runs: { type: 'string', default: '20' },
    'database-url': { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://parley:parley@127.0.0.1:5432/parley' },
  },
});
const N = Number(values.calls);
const RUNS = Number(values.runs);
process.env.DATABASE_URL = values['database-url'];

const db = await createTestDb();
const sql = db.sql;
const prices = pricesFrom(loadConfig({}));
const ms = (t0: number) => performance.now() - t0;
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

/** GET /v1/usage's answer as it was before the rollup: the range's raw rows summed by day, then priced. */
async function fromRawRows(q: UsageQuery) {
  const { days, boundaries } = rangeOf(q);
  const rows = await usageByDay(sql, { companyId: q.companyId, botId: q.botId, boundaries });
  return { days: days.map((date, i) => ({ date, ...priceItems(prices, rows.filter((r) => r.day === i)) })), totals: priceItems(prices, rows) };
}

try {
  const { companyId, botIds } = await benchCompany(sql);
  const yearStart = YEAR_START;

  let t0 = performance.now();
  // Batches of 50,000 calls so no single statement holds a million rows' worth of trigger transition tables.
  for (let from = 0; from < N; from += 50_000) {
    const to = Math.min(N, from + 50_000);
    await sql`
      with ins as (
        insert into calls (company_id, bot_id, direction, status, started_at, answered_at, ended_at, duration_sec)
        select ${companyId}, (${botIds}::uuid[])[(1 + i % 5)::int], (array['inbound', 'inbound', 'inbound', 'outbound', 'web'])[(1 + i % 5)::int],
          'completed', s.started, s.started, s.started + make_interval(secs => s.dur), s.dur
        from generate_series(${from}::int, ${to - 1}::int) i
        cross join lateral (select ${yearStart}::timestamptz + ((i::float8 / ${N}) * interval '365 days') as started, (10 + (i * 7) % 600)::int as dur) s
        returning id, company_id, bot_id, started_at, duration_sec)
      insert into call_usage (call_id, company_id, bot_id, started_at, kind, provider, model, quantity)
      select ins.id, ins.company_id, ins.bot_id, ins.started_at, k.kind, k.provider, k.model, k.q
      from ins cross join lateral (values
        ('stt_audio_ms', 'deepgram', 'nova-3', ins.duration_sec * 1000),
        ('llm_input_tokens', 'openai', 'gpt-4o-mini', 800 + ins.duration_sec * 20),
        ('llm_output_tokens', 'openai', 'gpt-4o-mini', 50 + ins.duration_sec * 2),
        ('tts_chars', 'cartesia', 'sonic-3', 100 + ins.duration_sec * 6)) k(kind, provider, model, q)`;
  }
  const insertMs = ms(t0);
  await sql`vacuum analyze call_usage`.catch(() => {});
  const [raw] = await sql<{ n: number }[]>`select count(*)::int as n from call_usage`;
  const [dirty] = await sql<{ n: number }[]>`select count(*)::int as n from usage_dirty`;

  const cases = yearCases(companyId, botIds);
  const time = async (label: string, run: () => Promise<{ totals: { cost: number } }>) => {
    for (let i = 0; i < 2; i++) await run();
    const times: number[] = [];
    let cost = 0;
    for (let i = 0; i < RUNS; i++) {
      t0 = performance.now();
      cost = (await run()).totals.cost;
      times.push(ms(t0));
    }
    console.log(`  ${label.padEnd(46)} p50 ${pct(times, 0.5).toFixed(1)} ms, p95 ${pct(times, 0.95).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms (total ${cost.toFixed(2)})`);
  };

  console.log(`usage rows: ${raw!.n.toLocaleString('en')} (${N.toLocaleString('en')} calls over 365 days, 5 bots; insert ${(insertMs / 1000).toFixed(1)} s)`);
  console.log(`\nBEFORE — the raw rows summed on every request, ${RUNS} runs each after 2 warm-ups:`);
  for (const c of cases) await time(c.label, () => fromRawRows(c.q));

  t0 = performance.now();
  const recomputed = await refreshUsage(sql, { batchSize: 2000 });
  const refreshMs = ms(t0);
  await sql`vacuum analyze usage_rollup`.catch(() => {});
  await sql`vacuum analyze usage_rollup_cum`.catch(() => {});
  const [rollupRows] = await sql<{ n: number }[]>`select count(*)::int as n from usage_rollup`;
  const [cumRows] = await sql<{ n: number }[]>`select count(*)::int as n from usage_rollup_cum`;
  // The monthly budget's cost of the year's last month: the month's raw rows (before) against the rollup (after).
  const month = utcMonth(new Date(yearStart.getTime() + 364 * 86_400_000));
  const [inMonth] = await sql<{ n: number }[]>`select count(*)::int as n from call_usage where company_id = ${companyId} and started_at >= ${month.start} and started_at < ${month.end}`;
  const budgetBefore = async () => ({ totals: priceItems(prices, (await usageByDay(sql, { companyId, boundaries: [month.start.getTime(), month.end.getTime()] })).filter((r) => r.day === 0)) });
  const budgetAfter = async () => ({ totals: priceItems(prices, await monthUsage(sql, companyId, month)) });
  const sameCost = async (label: string) => {
    const [a, b] = [(await budgetBefore()).totals.cost, (await budgetAfter()).totals.cost];
    if (Math.abs(a - b) > 1e-6) throw new Error(`${label}: the budget's cost from the rollup ${b} is not the raw rows' ${a}`);
  };
  console.log(`\nBUDGET — the cost of ${month.label} (${inMonth!.n.toLocaleString('en')} usage rows), ${RUNS} runs each after 2 warm-ups:`);
  await sameCost('rollup current');
  await time('before: the month\'s raw rows summed', budgetBefore);
  await time('after: the rollup (current)', budgetAfter);

  // Incremental: 1,000 calls' usage added to at their end (the post-call analysis), then the rollup catches up.
  await sql`update call_usage set quantity = quantity + 100 where kind = 'llm_output_tokens'
    and call_id in (select id from calls where company_id = ${companyId} order by started_at desc limit 1000)`;
  const [pending] = await sql<{ n: number }[]>`select count(*)::int as n from usage_dirty`;
  await sameCost('rollup behind');
  await time(`after: the rollup, ${pending!.n} buckets behind`, budgetAfter);
  t0 = performance.now();
  const inc = await refreshUsage(sql);
  const incMs = ms(t0);
  console.log(`\nrollup: ${dirty!.n.toLocaleString('en')} marked buckets rolled up from nothing in ${(refreshMs / 1000).toFixed(1)} s (${recomputed} buckets, ${rollupRows!.n.toLocaleString('en')} rows, ${cumRows!.n.toLocaleString('en')} running-total rows); 1,000 calls' usage changed afterwards: ${inc} buckets caught up in ${incMs.toFixed(0)} ms`);

  const [left] = await sql<{ n: number }[]>`select count(*)::int as n from usage_dirty`;
  if (left!.n > 0) throw new Error(`${left!.n} buckets are still marked: the answers below would be counted from the raw rows`);
  console.log(`\nAFTER — queryUsage from the rollup, ${RUNS} runs each after 2 warm-ups:`);
  for (const c of cases) {
    const [before, after] = [await fromRawRows(c.q), await queryUsage(sql, prices, c.q)];
    if (Math.abs(before.totals.cost - after.totals.cost) > 1e-6) throw new Error(`${c.label}: the rollup's total ${after.totals.cost} is not the raw rows' ${before.totals.cost}`);
    await time(c.label, () => queryUsage(sql, prices, c.q));
  }
} finally {
  await db.close();
}
