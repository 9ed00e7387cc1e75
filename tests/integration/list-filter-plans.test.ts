/**
 * A filtered page of a list reads about a page of rows, however many the company has: each filter of GET
 * /v1/calls (status, direction), GET /v1/webhooks/deliveries (status, type) and GET /v1/audit-log (actor, action,
 * and from/to: migration 0432, which orders the log by time) is served by an index in its list's order (migration 0410). Without one, the planner read every row of the company
 * (a sequential scan) and sorted the few that matched, for each page: 25–36 ms a page at 300,000 rows, growing with
 * the tenant until its pages ran into the query deadline.
 *
 * The statements are the repositories' own, run under EXPLAIN (ANALYZE) (tests/helpers/query-plan.ts) on tables the
 * planner has statistics for, with another company's rows beside them. Runs on PGlite and on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../../src/audit/repo.js';
import { listCalls } from '../../src/db/calls.js';
import { listDeliveries } from '../../src/webhooks/outbox.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { explaining, planOf, rowsRead } from '../helpers/query-plan.js';

/** Rows of the company that every filter below passes over, and rows it matches. */
const MANY = 3_000;
const FEW = 5;
const PAGE = 51;
const AUDIT_NOW = new Date('2026-11-30T12:00:00Z');
const minutesAgo = (m: number) => new Date(AUDIT_NOW.getTime() - m * 60_000);

describe('filtered list pages read a page, not the company', () => {
  let db: TestDatabase;
  let company: string;

  beforeAll(async () => {
    db = await createTestDb();
    const [a, b] = await db.sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Big', 's'), ('Other', 's') returning id`;
    company = a!.id;
    const bots = await db.sql<{ id: string; company_id: string }[]>`
      insert into bots (company_id, name, language, config)
      values (${a!.id}, 'A', 'en', '{"greeting":"Hi"}'), (${b!.id}, 'B', 'en', '{"greeting":"Hi"}') returning id, company_id`;
    const botOf = (c: string) => bots.find((x) => x.company_id === c)!.id;
    // The company: many completed inbound calls, a few busy ones, a few web ones; the other company: many busy
    // calls (a status rare in one company is not rare in the table).
    for (const [c, n, status, direction] of [
      [a!.id, MANY, 'completed', 'inbound'], [a!.id, FEW, 'busy', 'inbound'], [a!.id, FEW, 'completed', 'web'], [b!.id, MANY, 'busy', 'inbound'],
    ] as const) {
      await db.sql`
        insert into calls (company_id, bot_id, direction, status, started_at)
        select ${c}, ${botOf(c)}, ${direction}, ${status}, date_trunc('milliseconds', now()) - i * interval '1 minute'
        from generate_series(1, ${n}::int) i`;
    }
    // Deliveries and audit entries: the few the filters look for are the company's oldest (a walk of the list's
    // order from the newest reads everything before it finds them); the other company's are all of other kinds.
    for (const [c, n, type, status] of [[a!.id, FEW, 'booking.created', 'dead'], [a!.id, MANY, 'call.ended', 'delivered'], [b!.id, MANY, 'call.ended', 'delivered']] as const) {
      await db.sql`
        insert into webhook_events (id, company_id, type, body, status)
        select 'evt_' || gen_random_uuid(), ${c}, ${type}, '{}', ${status} from generate_series(1, ${n}::int)`;
    }
    // Audit entries a minute apart, the rare actor's the oldest: the company's log spans MANY + FEW minutes back
    // from AUDIT_NOW (then a few of the company's entries of another action in the middle of it).
    for (const [c, n, actor, first] of [[a!.id, FEW, 'key:rare', MANY], [a!.id, MANY, 'key:common', 0], [b!.id, MANY, 'key:other', 0]] as const) {
      await db.sql`
        insert into audit_log (company_id, actor, action, status_code, request_id, created_at)
        select ${c}, ${actor}, 'PATCH /v1/bots/:id', 200, 'r', ${AUDIT_NOW}::timestamptz - (${first}::int + i) * interval '1 minute'
        from generate_series(1, ${n}::int) i order by i desc`;
    }
    await db.sql`
      insert into audit_log (company_id, actor, action, status_code, request_id, created_at)
      select ${a!.id}, 'key:common', 'DELETE /v1/bots/:id', 200, 'r', ${AUDIT_NOW}::timestamptz - (1000 + i) * interval '1 minute' + interval '30 seconds'
      from generate_series(1, ${FEW}::int) i`;
    await db.sql`analyze calls`;
    await db.sql`analyze webhook_events`;
    await db.sql`analyze audit_log`;
  });
  afterAll(async () => db?.close());

  const limit = { limit: PAGE };

  it('GET /v1/calls by status and by direction', async () => {
    for (const filters of [{ status: 'busy' as const }, { direction: 'web' as const }]) {
      const plan = planOf(await listCalls(explaining(db.sql), company, filters, limit));
      expect(rowsRead(plan, 'calls'), JSON.stringify(filters)).toBeLessThan(PAGE * 2);
    }
    // And the rows are the company's own matching ones.
    expect((await listCalls(db.sql, company, { status: 'busy' }, limit)).map((c) => c.status)).toEqual(Array(FEW).fill('busy'));
  });

  it('GET /v1/webhooks/deliveries by status and by type', async () => {
    for (const filter of [{ status: 'dead' }, { type: 'booking.created' }]) {
      const plan = planOf(await listDeliveries(explaining(db.sql), company, { ...filter, limit: PAGE }));
      expect(rowsRead(plan, 'webhook_events'), JSON.stringify(filter)).toBeLessThan(PAGE * 2);
    }
    expect(await listDeliveries(db.sql, company, { status: 'dead', limit: PAGE })).toHaveLength(FEW);
  });

  it('GET /v1/audit-log by actor', async () => {
    const plan = planOf(await listAudit(explaining(db.sql), company, { actor: 'key:rare' }, PAGE));
    expect(rowsRead(plan, 'audit_log')).toBeLessThan(PAGE * 2);
    expect(await listAudit(db.sql, company, { actor: 'key:rare' }, PAGE)).toHaveLength(FEW);
  });

  it('GET /v1/audit-log by time (from, to, both), alone and with an action or actor', async () => {
    const cases = [
      // The oldest entries (everything newer is left out by `to`), the newest page past `from`, a window in the middle.
      { filter: { to: minutesAgo(MANY + 0.5) }, want: FEW },
      { filter: { from: minutesAgo(FEW + 0.5) }, want: FEW },
      { filter: { from: minutesAgo(1000 + FEW + 0.5), to: minutesAgo(1000) }, want: FEW * 2 },
      { filter: { action: 'DELETE /v1/bots/:id', to: minutesAgo(1000) }, want: FEW },
      { filter: { action: 'PATCH /v1/bots/:id', to: minutesAgo(MANY + 0.5) }, want: FEW },
      { filter: { actor: 'key:common', from: minutesAgo(1000 + FEW + 0.5), to: minutesAgo(1000) }, want: FEW * 2 },
      { filter: { actor: 'key:rare', from: minutesAgo(MANY + 2.5) }, want: 2 },
    ];
    for (const { filter, want } of cases) {
      const plan = planOf(await listAudit(explaining(db.sql), company, filter, PAGE));
      expect(rowsRead(plan, 'audit_log'), JSON.stringify(filter)).toBeLessThan(PAGE * 2);
      const rows = await listAudit(db.sql, company, filter, PAGE);
      expect(rows, JSON.stringify(filter)).toHaveLength(want);
      for (const r of rows) {
        if ('from' in filter) expect(r.created_at.getTime()).toBeGreaterThanOrEqual(filter.from!.getTime());
        if ('to' in filter) expect(r.created_at.getTime()).toBeLessThan(filter.to!.getTime());
      }
    }
  });

  it('GET /v1/audit-log pages a time range newest first, each entry once (ties in time by id)', async () => {
    // Three entries in the same millisecond, written in another order than their times (a transaction that began
    // earlier wrote later).
    const tie = minutesAgo(1500.25);
    await db.sql`insert into audit_log (company_id, actor, action, status_code, request_id, created_at)
      values (${company}, 'key:common', 'POST /v1/bots', 201, 'late', ${minutesAgo(1500.5)}),
             (${company}, 'key:common', 'POST /v1/bots', 201, 'tie', ${tie}), (${company}, 'key:common', 'POST /v1/bots', 201, 'tie', ${tie}),
             (${company}, 'key:common', 'POST /v1/bots', 201, 'tie', ${tie})`;
    const filter = { from: minutesAgo(1503), to: minutesAgo(1497) };
    const all = await listAudit(db.sql, company, filter, 1000);
    const seen: string[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await listAudit(db.sql, company, { ...filter, ...(before !== undefined ? { before } : {}) }, 2);
      seen.push(...page.map((r) => r.id));
      if (page.length < 2) break;
      before = Number(page.at(-1)!.id);
    }
    expect(seen).toEqual(all.map((r) => r.id));
    const sorted = [...all].sort((x, y) => y.created_at.getTime() - x.created_at.getTime() || Number(y.id) - Number(x.id));
    expect(all.map((r) => r.id)).toEqual(sorted.map((r) => r.id));
    expect(all.map((r) => r.request_id)).toContain('late');
    expect(all.length).toBe(6 + 4);
  });
});
