/**
 * New work announces itself (migrations/0190_work_notifications.sql, src/db/work-notifications.ts): a worker idling
 * on a slow poll starts a job or an event the moment its transaction commits — on PostgreSQL on whichever instance
 * listens (committed here by another connection pool), on embedded PGlite in its one process (the thread reads
 * notifications out of the answers it streams: db/notification-scanner.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueJob, JobWorker } from '../../src/jobs/queue.js';
import { listenForWork, type WorkListener } from '../../src/db/work-notifications.js';
import { openDatabase, type Database } from '../../src/db/connect.js';
import { emitEvent } from '../../src/webhooks/emit.js';
import { createTestDb, usingRealPostgres, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/until.js';
import { seedBot, seedCall, seedCompany } from './booking-fixtures.js';

const silent = { warn: () => {}, error: () => {} };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('announcements of new work', () => {
  let db: TestDatabase;
  let companyId: string;
  beforeAll(async () => {
    db = await createTestDb();
    companyId = await seedCompany(db.sql, 'Announcer', 'https://hooks.example.com/parley');
  });
  afterAll(async () => db?.close());

  it('every path that queues work still commits with the announcing triggers (both databases)', async () => {
    const botId = (await seedBot(db.sql, companyId)).id;
    const callId = await seedCall(db.sql, companyId, botId, '+12125550100');
    await db.sql`update calls set direction = 'outbound' where id = ${callId}`;
    await db.sql.begin(async (tx) => {
      await enqueueJob(tx, { kind: 'noop', payload: {}, companyId });
      await emitEvent(tx, { companyId, type: 'call.started', data: { call_id: callId }, orderingKey: callId });
      await tx`update calls set ended_at = now(), status = 'completed' where id = ${callId}`;
    });
    expect(await db.sql`select 1 from jobs where kind = 'noop'`).toHaveLength(1);
  });

  describe('listening', () => {
    let other: Database | null = null;
    /** Who commits the work: on PostgreSQL another instance's connection pool; PGlite has one process only. */
    let committer: TestDatabase['sql'];
    let listener: WorkListener | null = null;
    beforeAll(async () => {
      if (usingRealPostgres()) other = await openDatabase({ databaseUrl: db.url!, dataDir: 'memory://', poolMax: 2 });
      committer = other?.sql ?? db.sql;
    });
    afterAll(async () => {
      await listener?.stop();
      await other?.close();
    });

    it('announces a queued job, a pending event and an ended outbound call on commit, not before', async () => {
      const heard: (string | null)[] = [];
      listener = await listenForWork(db, (what) => heard.push(what));
      await until(() => heard.includes(null)); // listening started: every worker is asked to look
      const botId = (await seedBot(committer, companyId)).id;
      const callId = await seedCall(committer, companyId, botId, '+12125550101');
      await committer`update calls set direction = 'outbound' where id = ${callId}`;
      await committer.begin(async (tx) => {
        await enqueueJob(tx, { kind: 'analyze_call', payload: { callId }, companyId });
        await emitEvent(tx, { companyId, type: 'call.started', data: { call_id: callId }, orderingKey: callId });
        await sleep(200);
        expect(heard.filter((h) => h !== null)).toEqual([]);
      });
      await committer`update calls set ended_at = now(), status = 'completed' where id = ${callId}`;
      await until(() => heard.includes('campaigns'));
      expect(heard).toEqual(expect.arrayContaining(['job:analyze_call', 'webhooks', 'campaigns']));
      await listener.stop();
      listener = null;
    });

    it('an idle worker polling every 30 s runs a job queued elsewhere long before its next poll', async () => {
      const ran: number[] = [];
      const worker = new JobWorker(db.sql, {
        kinds: { announced: { concurrency: 1, handler: async () => void ran.push(Date.now()) } },
        pollMs: 30_000, log: silent,
      });
      worker.start();
      listener = await listenForWork(db, (what) => {
        if (what === null) worker.kick();
        else if (what.startsWith('job:')) worker.kick(what.slice('job:'.length));
      });
      // The first poll (at start) found nothing: the next is 30 s away.
      await sleep(300);
      const queuedAt = Date.now();
      await enqueueJob(committer, { kind: 'announced', payload: {}, companyId });
      await until(() => ran.length === 1, 10_000); // a deadline a third of the poll's: only the announcement meets it
      console.log(`announced job (${db.kind}): queued → running on the listening worker in ${ran[0]! - queuedAt} ms`);
      await worker.stop(100);
    });
  });
});
