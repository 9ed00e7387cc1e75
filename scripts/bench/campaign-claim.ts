/**
 * The scheduler's claim at 1,000,000 contacts (BENCH_CLAIM_CONTACTS) on PostgreSQL, before and after migration 0350
 * (the claim index) — one seeded database, measured first on the schema before 0350 with the claim's statements as
 * they were, then migrated and measured with CampaignScheduler.claim itself.
 *
 * The campaign is the one scripts/bench/campaign-stats.ts seeds (a campaign well under way: a third of its
 * contacts pending, imported and never tried, so all tied at next_attempt_at '-infinity'; the rest done, exhausted
 * or skipped), plus a second running campaign of 100,000 contacts all waiting for tomorrow (BENCH_CLAIM_WAITING):
 * nobody due, so the claim must pass it over. A claim takes 40 contacts; each is then put back (not timed), so
 * every claim finds the same campaign. Prints the whole claim (choice of campaigns, busy count, the claim of the
 * contacts, the bot) and its two statements on the contacts alone.
 *
 *   DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley npx tsx scripts/bench/campaign-claim.ts
 */
import { insertCampaign, type CampaignRow } from '../../src/campaigns/repo.js';
import { CampaignScheduler } from '../../src/campaigns/scheduler.js';
import type { Db, RootSql } from '../../src/db/sql.js';
import { migrate } from '../../src/db/migrate.js';
import { createTestDb, migrateBefore } from '../../tests/helpers/db.js';
import { fmtSummary, summarize } from './lib/stats.js';

const CONTACTS = Number(process.env.BENCH_CLAIM_CONTACTS ?? 1_000_000);
const WAITING = Number(process.env.BENCH_CLAIM_WAITING ?? 100_000);
const CLAIMS = Number(process.env.BENCH_CLAIM_CLAIMS ?? 100);
const ROOM = 40;
const ALWAYS = [{ days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '23:59' }];

if (!process.env.DATABASE_URL) {
  console.error('campaign-claim bench needs DATABASE_URL (a PostgreSQL server)');
  process.exit(2);
}

const db = await createTestDb({ migrate: false });
await migrateBefore(db, '0350');
const sql = db.sql;
const [company] = await sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Bench', 'secret') returning id`;
const companyId = company!.id;
const [bot] = await sql<{ id: string }[]>`
  insert into bots (company_id, name, language, config) values (${companyId}, 'Ava', 'en', ${sql.json({ greeting: 'Hi', systemPrompt: 'x' })}) returning id`;

/** A running campaign (concurrency 500). */
async function runningCampaign(name: string): Promise<CampaignRow> {
  const c = await insertCampaign(sql, companyId, {
    bot_id: bot!.id, name, starts_at: null, ends_at: null, windows: ALWAYS, max_attempts: 3, retry_spacing_sec: 3600, concurrency: 500,
    require_consent: false, voicemail: 'hang_up', voicemail_message: null, purpose: null, conversion_outcomes: [],
  });
  await sql`update campaigns set status = 'running' where id = ${c.id}`;
  return c;
}

/** Seeds `n` contacts in batches of 100,000, phone numbers from `first` on, states in turn from `states`, all due at `next`. */
async function seed(campaignId: string, n: number, first: number, states: string[], next: string): Promise<void> {
  for (let from = 0; from < n; from += 100_000) {
    await sql`
      insert into campaign_contacts (company_id, campaign_id, phone, time_zone, state, next_attempt_at)
      select ${companyId}, ${campaignId}, '+1646' || lpad((${first}::int + g)::text, 7, '0'), 'UTC',
        (${states}::text[])[1 + g % ${states.length}], ${next}::text::timestamptz
      from generate_series(${from}::int, ${Math.min(n, from + 100_000) - 1}::int) g`;
  }
}

const big = await runningCampaign('Big');
const later = await runningCampaign('Later');
const t0 = performance.now();
// The counters' insert trigger (0330) is not what is measured; seeding without it halves the time.
await sql`alter table campaign_contacts disable trigger campaign_contacts_stats_insert`;
await seed(big.id, CONTACTS, 0, ['pending', 'done', 'exhausted', 'skipped', 'pending', 'done'], '-infinity');
await seed(later.id, WAITING, CONTACTS, ['pending'], new Date(Date.now() + 86_400_000).toISOString());
await sql`alter table campaign_contacts enable trigger campaign_contacts_stats_insert`;
await sql`vacuum analyze campaign_contacts`;
console.log(`campaign claim bench on PostgreSQL: ${CONTACTS} contacts (${Math.ceil(CONTACTS / 3)} pending) + ${WAITING} waiting for tomorrow, claims of ${ROOM} (seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);

/** Puts the claimed contacts back, as they were. */
const putBack = () => sql`update campaign_contacts set state = 'pending', claim_token = null, locked_until = null where state = 'dialing'`;

interface Timings { total: number[]; choice: number[]; claim: number[] }
const timings = (): Timings => ({ total: [], choice: [], claim: [] });

/** The claim's statements before 0350 (scheduler.ts as it was), in one transaction as the scheduler ran them. */
async function oldClaim(t: Timings): Promise<number> {
  const now = new Date();
  const until = new Date(now.getTime() + 60_000);
  const s0 = performance.now();
  const n = await sql.begin(async (tx) => {
    const c0 = performance.now();
    const campaigns = await tx<CampaignRow[]>`
      select c.* from campaigns c
      where c.status = 'running' and coalesce(c.backoff_until, '-infinity') <= ${now}
        and exists (select 1 from companies co where co.id = c.company_id and co.is_active)
        and exists (select 1 from campaign_contacts cc where cc.campaign_id = c.id
          and ((cc.state = 'pending' and cc.next_attempt_at <= ${now}) or (cc.state = 'dialing' and cc.locked_until < ${now})))
      order by (select min(cc.next_attempt_at) from campaign_contacts cc
          where cc.campaign_id = c.id and cc.state = 'pending' and cc.next_attempt_at <= ${now}) nulls first, c.updated_at
      limit 20 for update of c skip locked`;
    t.choice.push(performance.now() - c0);
    let claimed = 0;
    for (const campaign of campaigns) {
      await tx`select count(*)::int as n from campaign_contacts
        where campaign_id = ${campaign.id} and (state = 'live' or (state = 'dialing' and locked_until >= ${now}))`;
      const k0 = performance.now();
      const rows = await tx`
        update campaign_contacts set state = 'dialing', claim_token = gen_random_uuid(), locked_until = ${until}, updated_at = now()
        where id in (
          select id from campaign_contacts
          where campaign_id = ${campaign.id}
            and ((state = 'pending' and next_attempt_at <= ${now}) or (state = 'dialing' and locked_until < ${now}))
          order by next_attempt_at, id limit ${ROOM}
          for update skip locked)
        returning id, company_id, campaign_id, phone, name, time_zone, claim_token`;
      t.claim.push(performance.now() - k0);
      await tx`select * from bots where id = ${campaign.bot_id} and company_id = ${campaign.company_id}`;
      claimed += rows.length;
    }
    return claimed;
  });
  t.total.push(performance.now() - s0);
  return n;
}

/** A transaction handle that times its statements on campaign_contacts: the choice of campaigns and the claim. */
function timed(tx: Db, t: Timings): Db {
  return new Proxy(tx, {
    apply(target, thisArg, args: unknown[]) {
      const query = Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args) as PromiseLike<unknown>;
      const text = Array.isArray(args[0]) ? (args[0] as string[]).join('?') : '';
      const into = /select c\.\* from campaigns c/.test(text) ? t.choice : /update campaign_contacts set state = 'dialing'/.test(text) ? t.claim : null;
      if (!into) return query;
      const s0 = performance.now();
      return query.then((rows) => {
        into.push(performance.now() - s0);
        return rows;
      });
    },
  });
}

/** The scheduler's claim, on a handle whose transactions time their statements into the Timings given. */
function schedulerClaim(): (t: Timings) => Promise<number> {
  let current = timings();
  const timedSql = new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop !== 'begin') return Reflect.get(target, prop, receiver);
      return (fn: (tx: Db) => Promise<unknown>) => target.begin((tx) => fn(timed(tx, current)));
    },
  }) as RootSql;
  const scheduler = new CampaignScheduler({
    sql: timedSql, dialer: { place: () => Promise.reject(new Error('not dialled')) }, log: { warn: () => {}, error: () => {} },
  });
  return async (t) => {
    current = t;
    const s0 = performance.now();
    const n = (await scheduler.claim(ROOM)).length;
    t.total.push(performance.now() - s0);
    return n;
  };
}

/** `CLAIMS` claims (after 3 untimed), each put back; fails if one claims other than ROOM contacts. */
async function measure(label: string, claim: (t: Timings) => Promise<number>): Promise<void> {
  const warm = timings();
  for (let i = 0; i < 3; i++, await putBack()) await claim(warm);
  const t = timings();
  for (let i = 0; i < CLAIMS; i++, await putBack()) {
    const n = await claim(t);
    if (n !== ROOM) throw new Error(`${label}: claimed ${n}, not ${ROOM}`);
  }
  console.log(`  ${label}: whole claim              ${fmtSummary(summarize(t.total))}`);
  console.log(`  ${label}:   choice of campaigns    ${fmtSummary(summarize(t.choice))}`);
  console.log(`  ${label}:   claim of the contacts  ${fmtSummary(summarize(t.claim))}`);
}

await measure('before 0350', oldClaim);
const m0 = performance.now();
await migrate(sql);
await sql`analyze campaign_contacts`;
console.log(`  migration 0350 (the claim index) at this size: ${((performance.now() - m0) / 1000).toFixed(1)} s`);
await measure('after 0350 ', schedulerClaim());

await db.close();
