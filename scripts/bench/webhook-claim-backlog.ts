/**
 * The webhook worker's claim (claimDueEvents) when one company has a long line of pending events on one ordering key
 * — a campaign whose receiver is down: its oldest event waits out its backoff, the N - 1 behind it wait their turn —
 * and in the common case, many keys with one event each. Every poll of every instance runs this claim, for every
 * company, so its cost delays every company's webhooks.
 *
 * Scenarios (each on a fresh set of events, then ANALYZE, as the worker's statistics refresh would have it):
 *   backlog N: company "Campaign" has N pending events on one key, the first in backoff (due in an hour), the rest due;
 *              100 other companies have one due event each.
 *   common:    one company has 10,000 keys with one due event each, and 100 other companies one due event each.
 * Each claim takes 16 (the worker's default concurrency, with its default caps: 8 per company, 15 alone), as a worker
 * with every slot free; its leases are then given back (not timed), so every claim sees the same events. Prints the
 * claim's latency (BENCH_CLAIMS claims after 3 untimed) and the events it claimed.
 *
 *   npx tsx scripts/bench/webhook-claim-backlog.ts                      (embedded PGlite)
 *   DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley npx tsx scripts/bench/webhook-claim-backlog.ts
 * (On PostgreSQL a fresh database is created on that server and dropped at the end.) BENCH_BACKLOGS=20000,100000
 * sets the backlog sizes.
 */
import { claimDueEvents } from '../../src/webhooks/outbox.js';
import { createTestDb } from '../../tests/helpers/db.js';
import { fmtSummary, summarize } from './lib/stats.js';

const BACKLOGS = (process.env.BENCH_BACKLOGS ?? '20000,100000').split(',').map(Number);
const COMMON_KEYS = Number(process.env.BENCH_COMMON_KEYS ?? 10_000);
const OTHERS = 100;
const CLAIMS = Number(process.env.BENCH_CLAIMS ?? 50);
const FREE = 16;
const FAIRNESS = { maxPerCompany: 8, maxAlone: 15 };

const db = await createTestDb();
const sql = db.sql;
const where = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite';

async function company(name: string): Promise<string> {
  const [c] = await sql<{ id: string }[]>`
    insert into companies (name, webhook_url, webhook_secret) values (${name}, 'https://example.com/hook', 'secret') returning id`;
  return c!.id;
}

/** `n` pending events of the company, all on `key` (null: each on its own key), due a minute ago. */
async function seed(companyId: string, n: number, key: string | null): Promise<void> {
  for (let from = 0; from < n; from += 50_000) {
    await sql`
      insert into webhook_events (id, company_id, type, ordering_key, body, next_attempt_at)
      select 'evt_' || md5(random()::text || g), ${companyId}, 'campaign.attempt.ended',
        coalesce(${key}::text, 'call-' || g), '{}', now() - interval '1 minute'
      from generate_series(${from}::int, ${Math.min(n, from + 50_000) - 1}::int) g`;
  }
}

async function fresh(): Promise<void> {
  await sql`delete from webhook_events`;
  await sql`delete from companies`;
  for (let i = 0; i < OTHERS; i++) await seed(await company(`Other ${i}`), 1, null);
}

/** Gives back every lease the claims took, their attempts uncounted. */
const giveBack = () => sql`
  update webhook_events set locked_until = null, claimed_by = null, locked_by = null, attempts = attempts - 1
  where status = 'pending' and claimed_by is not null`;

async function measure(label: string): Promise<void> {
  await sql`vacuum analyze webhook_events`.catch(() => sql`analyze webhook_events`);
  for (let i = 0; i < 3; i++, await giveBack()) await claimDueEvents(sql, FREE, 60_000, FAIRNESS);
  const times: number[] = [];
  let claimed = 0;
  for (let i = 0; i < CLAIMS; i++, await giveBack()) {
    const t0 = performance.now();
    claimed += (await claimDueEvents(sql, FREE, 60_000, FAIRNESS)).length;
    times.push(performance.now() - t0);
  }
  console.log(`  ${label}: claim of ${FREE}  ${fmtSummary(summarize(times))}, ${(claimed / CLAIMS).toFixed(1)} events a claim`);
}

console.log(`webhook claim on ${where}: ${CLAIMS} claims of ${FREE} per scenario, ${OTHERS} other companies with one due event each`);
for (const n of BACKLOGS) {
  await fresh();
  const campaign = await company('Campaign');
  await seed(campaign, n, 'campaign-1');
  // The line's first event failed and waits out its backoff; the rest wait behind it.
  await sql`
    update webhook_events set next_attempt_at = now() + interval '1 hour', attempts = 3
    where id = (select id from webhook_events where company_id = ${campaign} order by seq limit 1)`;
  await measure(`backlog: one key with ${n.toLocaleString('en')} pending`);
}
await fresh();
await seed(await company('Calls'), COMMON_KEYS, null);
await measure(`common: ${COMMON_KEYS.toLocaleString('en')} keys x 1 event`);

await db.close();
