/**
 * The scheduler's claim reads a few rows per campaign, whatever the campaign's size: the statements it runs on
 * every poll — the choice of campaigns with a contact due, and the claim of the due contacts in (next_attempt_at,
 * id) order — are planned as walks of the claim index (migration 0350) that stop at the rows they need, not as a
 * read and sort of every waiting contact (224 ms per claim, 250 ms per choice, at 1,000,000 contacts).
 *
 * The statements are the scheduler's own: a claim runs through a handle that records them, and each is then run
 * again under EXPLAIN (ANALYZE, FORMAT JSON) in a transaction rolled back, on contacts the planner has statistics
 * for (ANALYZE). Runs on PGlite and on PostgreSQL (both are PostgreSQL's planner).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CampaignScheduler } from '../../src/campaigns/scheduler.js';
import type { Db, RootSql } from '../../src/db/sql.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { nodes, rowsRead, type PlanNode } from '../helpers/query-plan.js';

interface Recorded {
  text: string;
  params: unknown[];
}

const isTemplate = (v: unknown): v is TemplateStringsArray => Array.isArray(v) && 'raw' in (v as object);

/** A transaction handle that records each tagged statement (as text with $n placeholders, and its values). */
function recording(tx: Db, into: Recorded[]): Db {
  return new Proxy(tx, {
    apply(target, thisArg, args: unknown[]) {
      if (isTemplate(args[0])) {
        const params = args.slice(1);
        expect(params.every((p) => p === null || ['string', 'number', 'boolean'].includes(typeof p) || p instanceof Date), 'a plain statement').toBe(true);
        into.push({ text: args[0].reduce((sql, part, i) => `${sql}$${i}${part}`), params });
      }
      return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args);
    },
  });
}

/** The root handle whose transactions record their statements. */
function recordingSql(sql: RootSql, into: Recorded[]): RootSql {
  return new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop !== 'begin') return Reflect.get(target, prop, receiver);
      return (fn: (tx: Db) => Promise<unknown>) => target.begin((tx) => fn(recording(tx, into)));
    },
  });
}

/** Rows (and index entries) a plan's nodes read from campaign_contacts. */
const contactRowsRead = (plan: PlanNode): number => rowsRead(plan, 'campaign_contacts');

describe('campaign claim plan', () => {
  let db: TestDatabase;
  let companyId: string;
  let botId: string;
  const now = new Date('2026-03-09T15:00:00Z');

  beforeAll(async () => {
    db = await createTestDb();
    const [company] = await db.sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Plan', 'secret') returning id`;
    companyId = company!.id;
    const [bot] = await db.sql<{ id: string }[]>`
      insert into bots (company_id, name, language, config) values (${companyId}, 'Ava', 'en', ${db.sql.json({ greeting: 'Hi', systemPrompt: 'x' })})
      returning id`;
    botId = bot!.id;
  });
  afterAll(async () => db?.close());
  // Each test's campaigns are the only ones running.
  beforeEach(async () => {
    await db.sql`update campaigns set status = 'completed' where status = 'running'`;
  });

  /** A running campaign with contacts: `n` of them in each state given, next_attempt_at and locked_until as given. */
  async function campaign(groups: { n: number; state: string; next: string; lockedUntil?: string }[]): Promise<string> {
    const [c] = await db.sql<{ id: string }[]>`
      insert into campaigns (company_id, bot_id, name, windows, concurrency, status)
      values (${companyId}, ${botId}, 'Big', '[]', 500, 'running') returning id`;
    let from = 0;
    for (const g of groups) {
      await db.sql`
        insert into campaign_contacts (company_id, campaign_id, phone, time_zone, state, next_attempt_at, locked_until, claim_token)
        select ${companyId}, ${c!.id}, '+1646' || lpad((${from}::int + i)::text, 7, '0'), 'UTC', ${g.state}, ${g.next}::text::timestamptz,
          ${g.lockedUntil ?? null}::text::timestamptz, case when ${g.state} = 'dialing' then gen_random_uuid() end
        from generate_series(0, ${g.n - 1}::int) i`;
      from += g.n;
    }
    await db.sql`analyze campaign_contacts`;
    return c!.id;
  }

  /** The ids a claim of `n` must take: the campaign's due contacts (or run-out leases), oldest first, by id in a tie. */
  async function expectedClaim(campaignId: string, n: number): Promise<string[]> {
    const rows = await db.sql<{ id: string }[]>`
      select id from campaign_contacts
      where campaign_id = ${campaignId} and ((state = 'pending' and next_attempt_at <= ${now}) or (state = 'dialing' and locked_until < ${now}))
      order by next_attempt_at, id limit ${n}`;
    return rows.map((r) => r.id);
  }

  /** Runs one claim of `free` contacts; returns what it claimed and the plans of its statements on campaign_contacts. */
  async function claimWithPlans(free: number): Promise<{ claimed: string[]; choice: PlanNode; claim: PlanNode }> {
    const statements: Recorded[] = [];
    const scheduler = new CampaignScheduler({
      sql: recordingSql(db.sql, statements), dialer: { place: () => Promise.reject(new Error('no dial here')) },
      log: { warn: () => {}, error: () => {} }, now: () => now,
    });
    const claimed = (await scheduler.claim(free)).map((c) => c.contact.id);
    const find = (pattern: RegExp): Recorded => {
      const found = statements.find((s) => pattern.test(s.text));
      expect(found, `a statement matching ${pattern}`).toBeDefined();
      return found!;
    };
    const explain = async (s: Recorded): Promise<PlanNode> => {
      let plan: PlanNode | undefined;
      await db.sql.begin(async (tx) => {
        const [row] = await tx.unsafe(`explain (analyze, format json) ${s.text}`, s.params as never[]);
        plan = (row!['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan;
        throw new Error('rollback');
      }).catch((err: unknown) => {
        if ((err as Error).message !== 'rollback') throw err;
      });
      return plan!;
    };
    return {
      claimed,
      choice: await explain(find(/select c\.\* from campaigns c/)),
      claim: await explain(find(/update campaign_contacts set state = 'dialing'/)),
    };
  }

  it('claims a big campaign\'s due contacts (all tied at -infinity) by walking the claim index, without a sort', async () => {
    // A campaign well under way: 5,000 imported and never tried (all next_attempt_at -infinity), some on the line
    // or leased now, two leases run out, 10,000 waiting for a retry tomorrow, 10,000 done.
    const id = await campaign([
      { n: 5_000, state: 'pending', next: '-infinity' },
      { n: 30, state: 'dialing', next: '-infinity', lockedUntil: '2026-03-09T15:01:00Z' },
      { n: 2, state: 'dialing', next: '2026-03-09T14:00:00Z', lockedUntil: '2026-03-09T14:59:00Z' },
      { n: 10_000, state: 'pending', next: '2026-03-10T15:00:00Z' },
      { n: 10_000, state: 'done', next: '2026-03-08T15:00:00Z' },
    ]);
    const expected = await expectedClaim(id, 40);
    const { claimed, choice, claim } = await claimWithPlans(40);
    expect(claimed.sort()).toEqual(expected.sort());

    const claimNodes = nodes(claim);
    expect(claimNodes.filter((n) => n['Node Type'].endsWith('Sort')), 'no sort in the claim').toEqual([]);
    // The contacts are read through the claim index; the update then finds the chosen ones by primary key (an index
    // or bitmap scan of campaign_contacts_pkey for the ids, never a scan of the campaign's contacts).
    const byPrimaryKey = (n: PlanNode) => (n.Plans ?? []).every((c) => c['Index Name'] === 'campaign_contacts_pkey');
    expect(claimNodes.filter((n) => n['Relation Name'] === 'campaign_contacts'
      && (n['Node Type'] === 'Seq Scan' || (n['Node Type'] === 'Bitmap Heap Scan' && !byPrimaryKey(n)))), 'no scan of the contacts').toEqual([]);
    expect(claimNodes.some((n) => n['Node Type'] === 'Index Scan' && n['Index Name'] === 'campaign_contacts_claim_idx')).toBe(true);
    // The next 40 in order, past the 70 leased now (the run-out two were claimed above), and their 40 updates.
    expect(contactRowsRead(claim)).toBeLessThan(300);
    expect(contactRowsRead(choice)).toBeLessThan(100);
  });

  it('stops at the first contact not yet due: a campaign of few due contacts and many waiting is not read to its end', async () => {
    const id = await campaign([
      { n: 10, state: 'pending', next: '2026-03-09T14:00:00Z' },
      { n: 20_000, state: 'pending', next: '2026-03-10T09:00:00Z' },
    ]);
    // And a running campaign with nobody due: the choice of campaigns passes it over at the cost of a probe.
    await campaign([{ n: 20_000, state: 'pending', next: '2026-03-10T09:00:00Z' }]);
    const expected = await expectedClaim(id, 40);
    expect(expected).toHaveLength(10);
    const { claimed, choice, claim } = await claimWithPlans(40);
    expect(claimed.sort()).toEqual(expected.sort());
    expect(contactRowsRead(claim)).toBeLessThan(100);
    expect(contactRowsRead(choice)).toBeLessThan(100);
  });
});
