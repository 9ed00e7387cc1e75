/**
 * Campaign statistics at 1,000,000 contacts (BENCH_STATS_CONTACTS) on PostgreSQL: GET /v1/campaigns/:id with the
 * stats read from the counters (migration 0330) against the count of every contact and attempt it replaced
 * (tests/helpers/campaign-recount.ts, the old queries), with the deltas folded and with a backlog not yet folded;
 * and what the counters' triggers add to a claim (the scheduler's claim statement, 40 contacts) and to a dial's
 * writes (the contact goes live, the attempt is inserted), timed with the triggers on and off, alternately.
 *
 *   DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley npx tsx scripts/bench/campaign-stats.ts
 */
import { isDeepStrictEqual } from 'node:util';
import { campaignRoutes } from '../../src/api/routes/campaigns.js';
import { campaignStats, insertCampaign } from '../../src/campaigns/repo.js';
import { foldStatDeltas } from '../../src/campaigns/stats.js';
import type { RootSql } from '../../src/db/sql.js';
import { createTestApp } from '../../tests/helpers/app.js';
import { recount } from '../../tests/helpers/campaign-recount.js';
import { createTestDb } from '../../tests/helpers/db.js';
import { fmtSummary, summarize } from './lib/stats.js';

const CONTACTS = Number(process.env.BENCH_STATS_CONTACTS ?? 1_000_000);
const READS = Number(process.env.BENCH_STATS_READS ?? 30);
const CLAIMS = Number(process.env.BENCH_STATS_CLAIMS ?? 200);
const ALWAYS = [{ days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '23:59' }];

if (!process.env.DATABASE_URL) {
  console.error('campaign-stats bench needs DATABASE_URL (a PostgreSQL server)');
  process.exit(2);
}

const db = await createTestDb();
const sql = db.sql;
const t = await createTestApp({ db, tenantRoutes: (d) => [campaignRoutes({ sql: d.sql, dialingAvailable: false })] });
const { companyId, apiKey } = await t.createCompany('Bench');
const [bot] = await sql<{ id: string }[]>`
  insert into bots (company_id, name, language, config) values (${companyId}, 'Ava', 'en', ${sql.json({ greeting: 'Hi', systemPrompt: 'x' })}) returning id`;
const campaign = await insertCampaign(sql, companyId, {
  bot_id: bot!.id, name: 'Big', starts_at: null, ends_at: null, windows: ALWAYS, max_attempts: 3, retry_spacing_sec: 3600, concurrency: 500,
  require_consent: false, voicemail: 'hang_up', voicemail_message: null, purpose: null, conversion_outcomes: ['booking'],
});

/** Seeds `n` contacts in batches of 100,000 (states mixed: a campaign well under way) and an attempt for half of them. */
async function seed(n: number): Promise<void> {
  for (let from = 0; from < n; from += 100_000) {
    await sql`
      insert into campaign_contacts (company_id, campaign_id, phone, time_zone, state, attempts, skip_reason)
      select ${companyId}, ${campaign.id}, '+1646' || lpad(g::text, 7, '0'), 'UTC',
        (array['pending', 'done', 'exhausted', 'skipped', 'pending', 'done'])[1 + g % 6], g % 2,
        case when g % 6 = 3 then (array['do_not_call', 'consent_missing', 'campaign_ended'])[1 + g % 3] end
      from generate_series(${from}::int, ${Math.min(n, from + 100_000) - 1}::int) g`;
    await sql`
      insert into campaign_attempts (company_id, campaign_id, contact_id, phone, seq, status, counted, local_day, dialed_at, outcome, voicemail)
      select company_id, campaign_id, id, phone, 1, 'ended', true, '2026-03-09', now(),
        (array['answered', 'no_answer', 'busy', 'voicemail_left'])[1 + abs(hashtext(phone)) % 4],
        case when abs(hashtext(phone)) % 4 = 3 then 'left' end
      from campaign_contacts where campaign_id = ${campaign.id} and attempts = 1 and phone >= ${`+1646${String(from).padStart(7, '0')}`}
        and phone < ${`+1646${String(Math.min(n, from + 100_000)).padStart(7, '0')}`}`;
  }
  while ((await foldStatDeltas(sql)) > 0);
  await sql`vacuum analyze campaign_contacts`;
  await sql`vacuum analyze campaign_attempts`;
}

async function time(n: number, f: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    out.push(performance.now() - t0);
  }
  return out;
}

const get = async () => {
  const res = await t.app.inject({ method: 'GET', url: `/v1/campaigns/${campaign.id}`, headers: t.as(apiKey) });
  if (res.statusCode !== 200) throw new Error(`GET ${res.statusCode} ${res.body}`);
};

/** Sets the counters' triggers on campaign_contacts and campaign_attempts on or off. */
async function countersOn(on: boolean): Promise<void> {
  const verb = on ? sql`enable` : sql`disable`;
  for (const name of ['campaign_contacts_stats_update', 'campaign_contacts_stats_insert']) await sql`alter table campaign_contacts ${verb} trigger ${sql(name)}`;
  await sql`alter table campaign_attempts ${verb} trigger campaign_attempts_stats_insert`;
}

/** The scheduler's claim (scheduler.ts): 40 due contacts leased; then one of them dialled (it goes live, its attempt is inserted). */
async function claimAndDial(tx: RootSql): Promise<{ claimMs: number; dialMs: number } | null> {
  const t0 = performance.now();
  const rows = await tx<{ id: string; phone: string }[]>`
    update campaign_contacts set state = 'dialing', claim_token = gen_random_uuid(), locked_until = now() + interval '1 minute', updated_at = now()
    where id in (select id from campaign_contacts where campaign_id = ${campaign.id} and state = 'pending' and next_attempt_at <= now()
      order by next_attempt_at, id limit 40 for update skip locked)
    returning id, phone`;
  const t1 = performance.now();
  const k = rows[0];
  if (!k) return null;
  await tx`update campaign_contacts set state = 'live', attempts = attempts + 1, dial_seq = dial_seq + 1, claim_token = null where id = ${k.id}`;
  await tx`insert into campaign_attempts (company_id, campaign_id, contact_id, phone, seq, local_day, dialed_at)
    values (${companyId}, ${campaign.id}, ${k.id}, ${k.phone}, 2, '2026-03-10', now())`;
  return { claimMs: t1 - t0, dialMs: performance.now() - t1 };
}

const t0 = performance.now();
await seed(CONTACTS);
console.log(`campaign stats bench on PostgreSQL: ${CONTACTS} contacts, ${CONTACTS / 2} attempts in one campaign (seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
const exact = async () => isDeepStrictEqual(await campaignStats(sql, companyId, campaign), await recount(sql, companyId, campaign));
console.log(`  stats equal to the recount      ${await exact()}`);

await time(3, () => recount(sql, companyId, campaign));
await time(3, get);
console.log(`  before: counting every row      ${fmtSummary(summarize(await time(READS, () => recount(sql, companyId, campaign))))}`);
console.log(`  GET /v1/campaigns/:id, folded   ${fmtSummary(summarize(await time(READS, get)))}`);

// Claims and dials alternately with the counters' triggers on and off; each pair in a transaction rolled back.
const on: { claimMs: number; dialMs: number }[] = [];
const off: { claimMs: number; dialMs: number }[] = [];
for (let i = 0; i < CLAIMS; i++) {
  const enabled = i % 2 === 0;
  await countersOn(enabled);
  await sql.begin(async (tx) => {
    const took = await claimAndDial(tx as unknown as RootSql);
    if (took) (enabled ? on : off).push(took);
    throw new Error('rollback');
  }).catch((err: unknown) => {
    if ((err as Error).message !== 'rollback') throw err;
  });
}
await countersOn(true);
console.log(`  claim of 40, counters off       ${fmtSummary(summarize(off.map((x) => x.claimMs)))}`);
console.log(`  claim of 40, counters on        ${fmtSummary(summarize(on.map((x) => x.claimMs)))}`);
console.log(`  dial writes, counters off       ${fmtSummary(summarize(off.map((x) => x.dialMs)))}`);
console.log(`  dial writes, counters on        ${fmtSummary(summarize(on.map((x) => x.dialMs)))}`);

// A backlog the fold has not taken yet: claims committed (two delta rows each), as a few seconds of heavy dialling.
for (let i = 0; i < 1_000 && (await claimAndDial(sql)); i++);
const [backlog] = await sql<{ n: number }[]>`select count(*)::int as n from campaign_stat_deltas`;
console.log(`  GET with ${backlog!.n} deltas unfolded ${fmtSummary(summarize(await time(READS, get)))}`);
const f0 = performance.now();
while ((await foldStatDeltas(sql)) > 0);
console.log(`  fold of that backlog            ${(performance.now() - f0).toFixed(0)} ms`);
console.log(`  stats equal to the recount      ${await exact()}`);

await t.app.close();
await db.close();
