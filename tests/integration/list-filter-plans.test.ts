/**
 * A filtered page of a list reads about a page of rows, however many the company has: each filter of GET
 * /v1/calls (status, direction), GET /v1/webhooks/deliveries (status, type) and GET /v1/audit-log (actor) is
 * served by an index in its list's order (migration 0410). Without one, the planner read every row of the company
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
    for (const [c, n, actor] of [[a!.id, FEW, 'key:rare'], [a!.id, MANY, 'key:common'], [b!.id, MANY, 'key:other']] as const) {
      await db.sql`
        insert into audit_log (company_id, actor, action, status_code, request_id)
        select ${c}, ${actor}, 'PATCH /v1/bots/:id', 200, 'r' from generate_series(1, ${n}::int)`;
    }
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
});
