/**
 * Calls cut by a crash: the instance that ran them stops heartbeating, and a sweep by another instance (or the
 * next start) ends them as failed / server_lost with call.ended and the analysis job; their transcript stays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgCallRecorder } from '../../src/call/recorder.js';
import { CallOwnership } from '../../src/telephony/call-ownership.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { seedBot, seedCall, seedCompany } from './booking-fixtures.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
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
    const crashed = new CallOwnership(db.sql, quiet, { heartbeatMs: 60_000, lostAfterMs: 1_000, sweepEveryMs: 0 });
    await crashed.start({ sweep: false });
    const alive = new CallOwnership(db.sql, quiet, { heartbeatMs: 100, lostAfterMs: 1_000, sweepEveryMs: 0 });
    await alive.start({ sweep: false });
    const sweeper = new CallOwnership(db.sql, quiet, { heartbeatMs: 100, lostAfterMs: 1_000, sweepEveryMs: 0 });
    await sweeper.start({ sweep: false });
    const orphan = await liveCallOf(crashed);
    const healthy = await liveCallOf(alive);
    expect((await db.sql`select instance_id from calls where id = ${orphan}`)[0]!.instance_id).toBe(crashed.instanceId);

    // The crashed instance's last heartbeat is old; the live one's is fresh; the sweepers have seen the database
    // for longer than the lost threshold.
    await db.sql`update instances set heartbeat_at = now() - interval '5 minutes' where id = ${crashed.instanceId}`;
    await sleep(1_100);
    // On a loaded machine a late heartbeat restarts an instance's wait; the call is ended once, by either.
    let ended = 0;
    for (const deadline = Date.now() + 10_000; ended === 0 && Date.now() < deadline; await sleep(100)) {
      const [first, second] = await Promise.all([sweeper.sweep(), alive.sweep()]);
      ended = first + second;
    }
    expect(ended).toBe(1);
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
    await new PgCallRecorder({ sql: db.sql, callId: healthy, companyId, botId, log: quiet }).end({ status: 'completed', reason: 'server_shutdown' });
    await Promise.all([crashed.stop(), alive.stop(), sweeper.stop()]);
  });

  it('takes no instance for lost over a database outage, only over silence while the sweeper could reach the database', async () => {
    // Each instance reaches the database through its own gate: closed, every query fails as an outage's would.
    const reach = { sweeper: true, owner: true };
    const through = (who: keyof typeof reach) => new Proxy(db.sql, {
      apply: (target, self, args) => reach[who] ? Reflect.apply(target, self, args) : Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    });
    const options = { heartbeatMs: 100, lostAfterMs: 1_000, sweepEveryMs: 0 };
    const sweeper = new CallOwnership(through('sweeper'), quiet, options);
    const owner = new CallOwnership(through('owner'), quiet, options);
    await Promise.all([sweeper.start({ sweep: false }), owner.start({ sweep: false })]);
    const callId = await liveCallOf(owner);
    await sleep(1_100);

    // The outage: neither heartbeats for longer than the lost threshold.
    reach.sweeper = reach.owner = false;
    await sleep(1_300);
    // The sweeper is back first; the owner's heartbeat is old, but so was everyone's a moment ago.
    reach.sweeper = true;
    await sleep(300);
    expect(await sweeper.sweep()).toBe(0);
    expect((await db.sql`select status from calls where id = ${callId}`)[0]!.status).toBe('in_progress');

    // The owner stays out of reach while the sweeper sees the database: that silence is a lost server.
    let ended = 0;
    for (const deadline = Date.now() + 10_000; ended === 0 && Date.now() < deadline; await sleep(100)) ended = await sweeper.sweep();
    expect(ended).toBe(1);
    expect((await db.sql`select end_reason from calls where id = ${callId}`)[0]!.end_reason).toBe('server_lost');
    reach.owner = true;
    await Promise.all([sweeper.stop(), owner.stop()]);
  });

  it('registers an instance again when its heartbeat finds its row removed', async () => {
    const instance = new CallOwnership(db.sql, quiet, { heartbeatMs: 60_000, sweepEveryMs: 0 });
    await instance.start({ sweep: false });
    await db.sql`delete from instances where id = ${instance.instanceId}`;
    await instance.heartbeat();
    expect(await db.sql`select 1 from instances where id = ${instance.instanceId}`).toHaveLength(1);
    await instance.stop();
  });

  it('knows whether another instance is there to take a new call\'s media while this one stops', async () => {
    await db.sql`delete from instances`;
    const stopping = new CallOwnership(db.sql, quiet, { heartbeatMs: 60_000, sweepEveryMs: 0 });
    await stopping.start({ sweep: false });
    expect(await stopping.anotherInstanceAlive()).toBe(false);
    const other = new CallOwnership(db.sql, quiet, { heartbeatMs: 60_000, sweepEveryMs: 0 });
    await other.start({ sweep: false });
    expect(await stopping.anotherInstanceAlive()).toBe(true);
    // Silent for over two of this instance's beats: not counted on.
    await db.sql`update instances set heartbeat_at = now() - interval '1 hour' where id = ${other.instanceId}`;
    expect(await stopping.anotherInstanceAlive()).toBe(false);
    await Promise.all([stopping.stop(), other.stop()]);
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
