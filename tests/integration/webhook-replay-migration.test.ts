/**
 * Migrations 0260 and 0270 on an outbox an older release left, with a replayed event still pending: its retry schedule
 * counts the attempts since the replay, it is out of band (the live events behind it go), its window starts at the
 * replay; a plain pending event's window starts at its creation; settled events are left as they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { createTestDb, migrateBefore, type TestDatabase } from '../helpers/db.js';

describe('migrations 0260 and 0270 (webhook replays)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDb({ migrate: false });
    await migrateBefore(db, '0260');
  });
  afterAll(async () => db?.close());

  it('back-fills pending replays and windows; settled events keep their state', async () => {
    const sql = db.sql;
    const [company] = await sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Old outbox', 'whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0') returning id`;
    const event = (id: string, status: string, attempts: number, created: string, replayed: string | null) => sql`
      insert into webhook_events (id, company_id, type, ordering_key, body, status, attempts, created_at, replayed_at)
      values (${id}, ${company!.id}, 'booking.updated', 'b1', '{}', ${status}, ${attempts}, ${created}, ${replayed})`;
    await event('evt_replayed', 'pending', 5, '2026-11-01T10:00:00Z', '2026-11-02T09:00:00Z');
    await event('evt_plain', 'pending', 1, '2026-11-02T08:00:00Z', null);
    await event('evt_done', 'delivered', 2, '2026-11-01T09:00:00Z', null);
    // Four attempts before the replay, one after it.
    for (const [n, at] of [[1, '2026-11-01T10:00:05Z'], [2, '2026-11-01T10:00:15Z'], [3, '2026-11-01T10:00:35Z'], [4, '2026-11-01T10:01:15Z'], [5, '2026-11-02T09:00:01Z']] as const) {
      await sql`insert into webhook_attempts (event_id, company_id, attempt, url, status_code, latency_ms, created_at)
        values ('evt_replayed', ${company!.id}, ${n}, 'https://hooks.example.com/x', 500, 10, ${at})`;
    }

    await migrate(sql);
    const rows = await sql<{ id: string; attempts_before_replay: number; out_of_band: boolean; window_started_at: Date; status: string }[]>`
      select id, attempts_before_replay, out_of_band, window_started_at, status from webhook_events order by id`;
    const by = Object.fromEntries(rows.map((r) => [r.id, r]));
    expect(by.evt_replayed).toMatchObject({ attempts_before_replay: 4, out_of_band: true, status: 'pending' });
    expect(by.evt_replayed!.window_started_at.toISOString()).toBe('2026-11-02T09:00:00.000Z');
    expect(by.evt_plain).toMatchObject({ attempts_before_replay: 0, out_of_band: false });
    expect(by.evt_plain!.window_started_at.toISOString()).toBe('2026-11-02T08:00:00.000Z');
    expect(by.evt_done).toMatchObject({ attempts_before_replay: 0, out_of_band: false, status: 'delivered' });
  });
});
