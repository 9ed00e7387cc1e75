/**
 * Events of one ordering key form a line, sent one at a time in order. A long line — a campaign whose receiver is
 * down, thousands of events waiting behind its first — must cost the claim nothing: every poll of every instance
 * claims for every company, and the claim used to read the whole line each time (130 ms at 20,000 events, 370 ms
 * at 100,000, delaying every company's webhooks). The claim now walks only the events first in their line
 * (migrations/0360); these tests hold it to a few rows read whatever the line's length, and hold the line's rules
 * under that shape: only the first event is claimed, each once, in order; the next moves up when the one ahead
 * settles or is deleted, and an event recorded while the one ahead leaves is never left waiting behind nobody.
 *
 * The rows a claim reads are PostgreSQL's own count for the transaction (pg_stat_xact_user_tables: rows read by
 * sequential scans and fetched through indexes), not a timing. Runs on PGlite and on PostgreSQL; the races run side
 * by side on PostgreSQL, one after the other on PGlite (one connection).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db, RootSql } from '../../src/db/sql.js';
import { migrate } from '../../src/db/migrate.js';
import { recordEvent } from '../../src/webhooks/emit.js';
import { claimDueEvents, settleEvent, type ClaimedEvent } from '../../src/webhooks/outbox.js';
import { createTestDb, migrateBefore, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let sql: RootSql;

beforeAll(async () => {
  db = await createTestDb();
  sql = db.sql;
});
afterAll(async () => db?.close());
beforeEach(async () => {
  await sql`delete from webhook_events`;
});

/**
 * A table with a history, as in production: `n` events delivered, each on a call of its own. (On a table holding
 * little but one line, the planner's statistics say every key is that line's, and it probes by scanning.)
 */
async function history(on: Db, companyId: string, n: number): Promise<void> {
  await on`
    insert into webhook_events (id, company_id, type, ordering_key, body, status, delivered_at)
    select 'evt_' || md5(random()::text || g), ${companyId}, 'call.ended', 'call-' || g, '{}', 'delivered', now()
    from generate_series(1, ${n}::int) g`;
}

async function company(on: Db, name: string): Promise<string> {
  const [row] = await on<{ id: string }[]>`
    insert into companies (name, webhook_url, webhook_secret) values (${name}, 'https://hooks.example.com/x', 'secret') returning id`;
  return row!.id;
}

/** `n` pending events of the company on `key` (null: each on a key of its own), due a minute ago, in one statement. */
async function seed(on: Db, companyId: string, n: number, key: string | null): Promise<void> {
  await on`
    insert into webhook_events (id, company_id, type, ordering_key, body, next_attempt_at)
    select 'evt_' || md5(random()::text || g), ${companyId}, 'campaign.attempt.ended', coalesce(${key}::text, 'own-' || g), '{}',
      now() - interval '1 minute'
    from generate_series(1, ${n}::int) g`;
}

/** The line's first event failed and waits out its backoff: due in an hour. */
async function backOffFirst(on: Db, companyId: string): Promise<void> {
  await on`
    update webhook_events set next_attempt_at = now() + interval '1 hour', attempts = 3
    where id = (select id from webhook_events where company_id = ${companyId} and status = 'pending' order by seq limit 1)`;
}

/** One claim of 16 (the worker's default caps), and the rows of webhook_events it read; rolled back. */
async function claimCountingRows(): Promise<{ claimed: ClaimedEvent[]; rowsRead: number }> {
  const read = async (tx: Db) => {
    const [r] = await tx<{ n: string }[]>`
      select (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::text as n from pg_stat_xact_user_tables where relname = 'webhook_events'`;
    return Number(r?.n ?? 0);
  };
  let out!: { claimed: ClaimedEvent[]; rowsRead: number };
  await sql.begin(async (tx) => {
    const before = await read(tx);
    const claimed = await claimDueEvents(tx as unknown as RootSql, 16, 60_000, { maxPerCompany: 8, maxAlone: 15 });
    out = { claimed, rowsRead: (await read(tx)) - before };
    throw new Error('rollback');
  }).catch((err: unknown) => {
    if ((err as Error).message !== 'rollback') throw err;
  });
  return out;
}

const idsOf = (events: { id: string }[]) => events.map((e) => e.id).sort();

async function idsOfCompanies(companyIds: string[]): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`select id from webhook_events where company_id = any(${companyIds}::uuid[])`;
  return idsOf(rows);
}

describe('a long line of one key costs the claim nothing', () => {
  it('reads a few rows per claim, however many events wait behind a line\'s first: the other companies\' events are claimed', async () => {
    const campaign = await company(sql, 'Campaign');
    await history(sql, campaign, 20_000);
    await seed(sql, campaign, 4_000, 'campaign-1');
    await backOffFirst(sql, campaign);
    const others = [await company(sql, 'Other 1'), await company(sql, 'Other 2'), await company(sql, 'Other 3')];
    for (const c of others) await seed(sql, c, 2, null);
    await sql`analyze webhook_events`;

    const { claimed, rowsRead } = await claimCountingRows();
    expect(idsOf(claimed)).toEqual(await idsOfCompanies(others));
    // Six events claimed (each read, checked and updated) and a few probes per company: not the 4,000 of the line.
    expect(rowsRead).toBeLessThan(200);

    // With its first event due, the line gives that one, and still nothing else of it is read.
    await sql`update webhook_events set next_attempt_at = now() - interval '1 second' where company_id = ${campaign} and status = 'pending'`;
    const [first] = await sql<{ id: string }[]>`select id from webhook_events where company_id = ${campaign} and status = 'pending' order by seq limit 1`;
    const due = await claimCountingRows();
    expect(idsOf(due.claimed)).toEqual([...(await idsOfCompanies(others)), first!.id].sort());
    expect(due.rowsRead).toBeLessThan(200);
  });

  it('the common case, many keys with one event each, reads about what it claims', async () => {
    const calls = await company(sql, 'Calls');
    await history(sql, calls, 20_000);
    await seed(sql, calls, 3_000, null);
    await sql`analyze webhook_events`;
    const { claimed, rowsRead } = await claimCountingRows();
    expect(claimed).toHaveLength(15);
    expect(rowsRead).toBeLessThan(200);
  });

  it('a line that was waiting when the server was upgraded is marked: only its first is walked, and goes first', async () => {
    const old = await createTestDb({ migrate: false });
    try {
      await migrateBefore(old, '0360');
      const campaign = await company(old.sql, 'Campaign');
      await seed(old.sql, campaign, 2_000, 'campaign-1');
      await backOffFirst(old.sql, campaign);
      await migrate(old.sql);
      await old.sql`analyze webhook_events`;
      const [line] = await old.sql<{ waiting: number; first_waits: boolean }[]>`
        select count(*) filter (where waiting_behind)::int as waiting,
          (select waiting_behind from webhook_events where company_id = ${campaign} order by seq limit 1) as first_waits
        from webhook_events where company_id = ${campaign}`;
      expect(line).toEqual({ waiting: 1_999, first_waits: false });
      await old.sql`update webhook_events set next_attempt_at = now() - interval '1 second' where company_id = ${campaign}`;
      const claimed = await claimDueEvents(old.sql, 16, 60_000);
      const [first] = await old.sql<{ id: string }[]>`select id from webhook_events where company_id = ${campaign} order by seq limit 1`;
      expect(claimed.map((e) => e.id)).toEqual([first!.id]);
    } finally {
      await old.close();
    }
  });
});

describe('a line under the new claim', () => {
  /** `n` events on `key`, each recorded in its own transaction as the call lifecycle does; their ids in order. */
  async function record(companyId: string, key: string, n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await recordEvent(sql, { companyId, type: 'call.ended', data: { n: i }, orderingKey: key }))!);
    return ids;
  }

  const claimOf = async (companyId: string) => (await claimDueEvents(sql, 100, 60_000)).filter((e) => e.company_id === companyId);

  it('claims only the first event, each once, in order; the next moves up when the one ahead settles in any way or is deleted', async () => {
    const acme = await company(sql, 'Acme');
    const line = await record(acme, 'call-1', 7);
    const loner = (await recordEvent(sql, { companyId: acme, type: 'call.ended', data: {}, orderingKey: 'call-2' }))!;
    // Recorded an hour ago: a window restarted when its event moves up is told apart from one started at its recording.
    await sql`update webhook_events set window_started_at = window_started_at - interval '1 hour' where company_id = ${acme}`;
    const taken: string[] = [];
    const leftAt = new Map<string, Date>();

    // First claim: the line's first and the other key's only event.
    let claimed = await claimOf(acme);
    expect(idsOf(claimed)).toEqual([line[0]!, loner].sort());
    const first = claimed.find((e) => e.id === line[0])!;
    // A failed attempt keeps it first in the line: it is retried (due again now), and nothing behind it moves.
    await settleEvent(sql, first, { status: 'pending', nextAttemptAt: new Date(Date.now() - 1_000), statusCode: 500, error: 'HTTP 500' });
    await settleEvent(sql, claimed.find((e) => e.id === loner)!, { status: 'delivered', statusCode: 200, error: null });
    claimed = await claimOf(acme);
    expect(claimed.map((e) => e.id)).toEqual([line[0]]);

    // Each way of leaving the line: delivered, dead, skipped, deleted (an erasure's sweep), deleted with the one
    // behind it in one statement, delivered.
    const endings = ['delivered', 'dead', 'skipped', 'deleted', 'deleted-two', 'delivered'] as const;
    let head = claimed[0]!;
    for (const ending of endings) {
      taken.push(head.id);
      const at = new Date();
      if (ending === 'deleted') await sql`delete from webhook_events where id = ${head.id}`;
      else if (ending === 'deleted-two') {
        const next = line[line.indexOf(head.id) + 1]!;
        taken.push(next);
        await sql`delete from webhook_events where id in (${head.id}, ${next})`;
      } else await settleEvent(sql, head, { status: ending, statusCode: ending === 'delivered' ? 200 : null, error: null });
      claimed = await claimOf(acme);
      if (taken.length === line.length) {
        expect(claimed).toEqual([]);
        break;
      }
      expect(claimed.map((e) => e.id), `after ${ending}`).toEqual([line[taken.length]]);
      head = claimed[0]!;
      leftAt.set(head.id, at);
    }
    expect(taken).toEqual(line);
    // Each event's retry window started when it became first, not when it was recorded.
    const windows = await sql<{ id: string; window_started_at: Date }[]>`
      select id, window_started_at from webhook_events where id = any(${[...leftAt.keys()]})`;
    for (const w of windows) expect(w.window_started_at.getTime(), w.id).toBeGreaterThanOrEqual(leftAt.get(w.id)!.getTime() - 1_000);
    // Every attempt claimed each event once (the first twice: its retry).
    const attempts = await sql<{ id: string; attempts: number }[]>`select id, attempts from webhook_events where id = any(${line})`;
    expect(Object.fromEntries(attempts.map((a) => [a.id, a.attempts]))).toEqual(
      Object.fromEntries(attempts.map((a) => [a.id, a.id === line[0] ? 2 : 1])));
  });

  /**
   * Runs `open` in a transaction held open until `held` is awaited, with `meanwhile` started while it is open (on
   * PostgreSQL on another connection, side by side; on PGlite it waits for the one connection, after the commit).
   */
  async function whileOpen(open: (tx: Db) => Promise<unknown>, meanwhile: () => Promise<unknown>): Promise<void> {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let opened!: () => void;
    const isOpen = new Promise<void>((r) => (opened = r));
    const held = sql.begin(async (tx) => {
      await open(tx);
      opened();
      await gate;
    });
    await isOpen;
    const other = meanwhile();
    // Long enough for the other side to reach the point where it waits (or to finish, if it does not wait).
    await Promise.race([other, sleep(300)]);
    release();
    await Promise.all([held, other]);
  }

  it('an event recorded while the one ahead settles is claimed next, in either order of the two commits', async () => {
    const acme = await company(sql, 'Acme');

    // The insert commits after the settle: the settle's move up cannot see it, its own check at commit does.
    let [ahead] = await record(acme, 'call-a', 1);
    let [head] = await claimOf(acme);
    expect(head!.id).toBe(ahead);
    let recorded!: string;
    await whileOpen(
      async (tx) => (recorded = (await recordEvent(tx, { companyId: acme, type: 'call.analyzed', data: {}, orderingKey: 'call-a' }))!),
      () => settleEvent(sql, head!, { status: 'delivered', statusCode: 200, error: null }),
    );
    expect((await claimOf(acme)).map((e) => e.id)).toEqual([recorded]);
    await sql`update webhook_events set status = 'delivered' where company_id = ${acme}`;

    // The settle commits after the insert looked: the insert waits for it at commit, then finds nobody ahead.
    [ahead] = await record(acme, 'call-b', 1);
    [head] = await claimOf(acme);
    expect(head!.id).toBe(ahead);
    await whileOpen(
      (tx) => settleEvent(tx, head!, { status: 'dead', statusCode: 410, error: 'gone' }),
      async () => (recorded = (await recordEvent(sql, { companyId: acme, type: 'call.analyzed', data: {}, orderingKey: 'call-b' }))!),
    );
    expect((await claimOf(acme)).map((e) => e.id)).toEqual([recorded]);
    await sql`update webhook_events set status = 'delivered' where company_id = ${acme}`;

    // The settle comes after the insert's check at commit locked the one ahead: the settle waits for the commit,
    // and its move up then sees the new event. (The check is run early here so the settle can come in between.)
    [ahead] = await record(acme, 'call-c', 1);
    [head] = await claimOf(acme);
    expect(head!.id).toBe(ahead);
    await whileOpen(
      async (tx) => {
        recorded = (await recordEvent(tx, { companyId: acme, type: 'call.analyzed', data: {}, orderingKey: 'call-c' }))!;
        await tx`set constraints webhook_events_check_line immediate`;
      },
      () => settleEvent(sql, head!, { status: 'skipped', statusCode: null, error: null }),
    );
    expect((await claimOf(acme)).map((e) => e.id)).toEqual([recorded]);
  });

  it('an event recorded while the one ahead is deleted (an erasure) is claimed next', async () => {
    const acme = await company(sql, 'Acme');
    const [ahead] = await record(acme, 'call-d', 1);
    let recorded!: string;
    await whileOpen(
      async (tx) => (recorded = (await recordEvent(tx, { companyId: acme, type: 'call.analyzed', data: {}, orderingKey: 'call-d' }))!),
      () => sql`delete from webhook_events where id = ${ahead!}`,
    );
    expect((await claimOf(acme)).map((e) => e.id)).toEqual([recorded]);
  });
});
