/**
 * Export benchmark: inserts N calls (default 200,000) with T-turn transcripts (default 6; and outcomes for
 * half) for one company into a fresh database on a PostgreSQL server, then downloads GET /v1/export over HTTP
 * from the app listening on a real port, reading the body as it comes. Prints rows/s, MB/s, the process's
 * peak RSS during the export (sampled every 20 ms) against its RSS before, and the event loop's delay during the
 * export (p50, p99, max: what a live call's audio or another request would have waited).
 *
 *   npm run bench:export -- [--calls 200000] [--turns 6] [--database-url postgres://…]
 *   npm run bench:export -- --calls 600 --turns 1000     long calls (~300 KB of JSON each): memory by bytes, not rows
 * The database is created on that server and dropped afterwards (needs CREATEDB).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createTestDb } from '../../tests/helpers/db.js';
import { createTestApp } from '../../tests/helpers/app.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '200000' },
    turns: { type: 'string', default: '6' },
    'database-url': { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://parley:parley@127.0.0.1:5432/parley' },
  },
});
const N = Number(values.calls);
const TURNS = Number(values.turns);
// Calls per insert statement: about 300,000 turns each.
const PER_INSERT = Math.max(1, Math.min(50_000, Math.floor(300_000 / TURNS)));
process.env.DATABASE_URL = values['database-url'];
const mb = (b: number) => (b / 1_048_576).toFixed(1);

const db = await createTestDb();
const t = await createTestApp({ db });
try {
  const { companyId, apiKey } = await t.createCompany('Bench');
  const sql = db.sql;
  const [bot] = await sql<{ id: string }[]>`insert into bots (company_id, name, config) values (${companyId}, 'Bot', '{"greeting":"Hi"}'::jsonb) returning id`;
  let t0 = performance.now();
  for (let done = 0; done < N; done += PER_INSERT) {
    const n = Math.min(PER_INSERT, N - done);
    // The calls, then TURNS turns each (a row per turn: migrations/0160_call_turns.sql); i is back from started_at.
    await sql`
      with ins as (
        insert into calls (company_id, bot_id, direction, from_number, to_number, status, started_at, ended_at, duration_sec)
        select ${companyId}, ${bot!.id}, 'inbound', '+1555' || lpad((i % 10000000)::text, 7, '0'), '+15550001000', 'completed',
          now() - i * interval '1 second', now() - i * interval '1 second' + interval '2 minutes', 120
        from generate_series(${done + 1}::int, ${done + n}::int) i
        returning id, round(extract(epoch from now() - started_at))::int as i)
      insert into call_turns (call_id, turn)
      select ins.id, jsonb_build_object('role', case when k % 2 = 0 then 'bot' else 'caller' end,
        'text', 'This is turn ' || k || ' of call ' || ins.i || ', asking about opening hours and a haircut on Friday.',
        'ts', now(), 'latency', jsonb_build_object('responseMs', 700 + k))
      from ins cross join generate_series(1, ${TURNS}::int) k
      order by ins.id, k`;
  }
  await sql`insert into outcomes (call_id, company_id, outcome_type, confidence, summary, extracted_data, analyzer)
    select id, company_id, 'lead', 0.8, 'Asked about hours.', '{"intent":"hours"}', 'bench' from calls where company_id = ${companyId} and random() < 0.5`;
  await sql`analyze calls`;
  console.log(`inserted ${N} calls of ${TURNS} turns in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  global.gc?.();
  const rssBefore = process.memoryUsage.rss();
  let peak = rssBefore;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 20);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  t0 = performance.now();
  const res = await fetch(`${url}/v1/export`, { headers: { authorization: `Bearer ${apiKey}` } });
  if (res.status !== 200 || !res.body) throw new Error(`export answered ${res.status}`);
  let bytes = 0;
  let lines = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    for (const b of chunk) if (b === 10) lines++;
  }
  const sec = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  loopDelay.disable();
  peak = Math.max(peak, process.memoryUsage.rss());
  console.log(`export: ${lines} lines (${N} calls), ${mb(bytes)} MB in ${sec.toFixed(2)} s`);
  console.log(`  ${Math.round(lines / sec).toLocaleString('en')} rows/s, ${(bytes / 1_048_576 / sec).toFixed(1)} MB/s`);
  const ms = (ns: number) => (ns / 1e6).toFixed(0);
  console.log(`  event-loop delay during the export: p50 ${ms(loopDelay.percentile(50))} / p99 ${ms(loopDelay.percentile(99))} / max ${ms(loopDelay.max)} ms`);
  console.log(`  RSS before ${mb(rssBefore)} MB, peak during export ${mb(peak)} MB (+${mb(peak - rssBefore)} MB; the body was ${mb(bytes)} MB)`);
} finally {
  await t.close();
  await db.close();
}
