/**
 * Calls cut by a crash: the instance that ran them stops heartbeating, and a sweep by another instance (or the
 * next start) ends them as failed / server_lost with call.ended and the analysis job; their transcript stays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgCallRecorder } from '../../src/call/recorder.js';
import { CallOwnership } from '../../src/telephony/call-ownership.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { seedBot, seedCall, seedCompany } from './booking-fixtures.js';

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

describe('calls of a lost server instance', () => {
  let db: TestDatabase;
  let companyId: string;
  let botId: string;
  beforeAll(async () => {
    db = await createTestDb();
    companyId = await seedCompany(db.sql, 'Crashy', 'https://hooks.example.com/parley');
    botId = (await seedBot(db.sql, companyId)).id;
  });
  afterAll(async () => db?.close());

  /** A call started by `owner` through the real recorder, with two turns. */
  async function liveCallOf(owner: CallOwnership): Promise<string> {
    const callId = await seedCall(db.sql, companyId, botId, '+12125550100');
    await db.sql`update calls set status = 'queued' where id = ${callId}`;
    const recorder = new PgCallRecorder({ sql: db.sql, callId, companyId, botId, log: quiet, instanceId: owner.instanceId });
    await recorder.start();
    await recorder.appendTurn({ role: 'bot', text: 'Hello, how can I help?', ts: new Date().toISOString() });
    await recorder.appendTurn({ role: 'caller', text: 'I would like a haircut', ts: new Date().toISOString() });
    return callId;
  }

  it('ends the live calls of an instance that stopped heartbeating, once, keeping the transcript', async () => {
    const crashed = new CallOwnership(db.sql, quiet, { lostAfterMs: 1_000, sweepEveryMs: 0 });
    await crashed.start({ sweep: false });
    const alive = new CallOwnership(db.sql, quiet, { lostAfterMs: 1_000, sweepEveryMs: 0 });
    await alive.start({ sweep: false });
    const orphan = await liveCallOf(crashed);
    const healthy = await liveCallOf(alive);
    expect((await db.sql`select instance_id from calls where id = ${orphan}`)[0]!.instance_id).toBe(crashed.instanceId);

    // The crashed instance's last heartbeat is old; the live one's is fresh.
    await db.sql`update instances set heartbeat_at = now() - interval '5 minutes' where id = ${crashed.instanceId}`;
    const sweeper = new CallOwnership(db.sql, quiet, { lostAfterMs: 1_000, sweepEveryMs: 0 });
    const [first, second] = await Promise.all([sweeper.sweep(), alive.sweep()]);
    expect(first + second).toBe(1);
    expect(await sweeper.sweep()).toBe(0);

    const [row] = await db.sql`select status, failure_reason, ended_at, duration_sec, (select count(*)::int from call_turns t where t.call_id = calls.id) as turns from calls where id = ${orphan}`;
    expect(row).toMatchObject({ status: 'failed', failure_reason: 'server_lost', turns: 2 });
    expect(row!.ended_at).toBeInstanceOf(Date);
    expect(row!.duration_sec).toEqual(expect.any(Number));
    const events = await db.sql`select body::jsonb as payload from webhook_events where company_id = ${companyId} and type = 'call.ended' and body::jsonb->'data'->>'call_id' = ${orphan}`;
    expect(events).toHaveLength(1);
    expect(events[0]!.payload.data).toMatchObject({ call_id: orphan, bot_id: botId, status: 'failed', reason: 'server_lost', duration_sec: expect.any(Number) });
    const jobs = await db.sql`select 1 from jobs where kind = 'analyze_call' and payload->>'callId' = ${orphan}`;
    expect(jobs).toHaveLength(1);

    const [untouched] = await db.sql`select status, ended_at from calls where id = ${healthy}`;
    expect(untouched).toMatchObject({ status: 'in_progress', ended_at: null });
    // A graceful stop ends its calls first (the call runner's shutdown), then leaves.
    await new PgCallRecorder({ sql: db.sql, callId: healthy, companyId, botId, log: quiet }).end({ status: 'completed', reason: 'shutdown' });
    await Promise.all([crashed.stop(), alive.stop()]);
  });

  it('ends in_progress calls that no instance ever owned once they have been quiet long enough', async () => {
    const callId = await seedCall(db.sql, companyId, botId, '+12125550111');
    await db.sql`update calls set updated_at = now() - interval '3 hours' where id = ${callId}`;
    const fresh = await seedCall(db.sql, companyId, botId, '+12125550112');
    const sweeper = new CallOwnership(db.sql, quiet, { sweepEveryMs: 0 });
    expect(await sweeper.sweep()).toBe(1);
    expect((await db.sql`select failure_reason from calls where id = ${callId}`)[0]!.failure_reason).toBe('server_lost');
    expect((await db.sql`select status from calls where id = ${fresh}`)[0]!.status).toBe('in_progress');
  });

  it('ends queued and ringing calls that never connected once they have been quiet long enough, saying so', async () => {
    const ids: string[] = [];
    for (const status of ['queued', 'ringing'] as const) {
      const id = await seedCall(db.sql, companyId, botId, `+1212555012${ids.length}`);
      await db.sql`update calls set status = ${status}, updated_at = now() - interval '3 hours' where id = ${id}`;
      ids.push(id);
    }
    const recent = await seedCall(db.sql, companyId, botId, '+12125550129');
    await db.sql`update calls set status = 'ringing' where id = ${recent}`;
    const sweeper = new CallOwnership(db.sql, quiet, { sweepEveryMs: 0 });
    expect(await sweeper.sweep()).toBe(2);
    const rows = await db.sql<{ id: string; status: string; end_reason: string | null }[]>`select id, status, end_reason from calls where id = any(${[...ids, recent]}::uuid[])`;
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    for (const id of ids) expect(byId[id]).toMatchObject({ status: 'failed', end_reason: 'never_connected' });
    expect(byId[recent]!.status).toBe('ringing');
  });
});
