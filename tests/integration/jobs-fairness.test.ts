/**
 * One company's backlog of background jobs does not delay another company's: a job records its company, the claim
 * takes companies in turns (every company's oldest due job before any company's second), and a worker runs at most
 * JobKind.maxPerCompany jobs of one company at once (default half its concurrency), so another company's job finds
 * a slot while the backlog runs.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { claimJobs, enqueueJob, JobWorker, type JobKind } from '../../src/jobs/queue.js';
import { migrate } from '../../src/db/migrate.js';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { INGEST_JOB_KIND } from '../../src/knowledge/ingest.js';
import { createTestDb, migrateBefore, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/until.js';
import { createBot, knowledgeHarness } from '../fixtures/knowledge/kb.js';

const silent = { warn: () => {}, error: () => {} };

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('job claims are fair between companies', () => {
  let db: TestDatabase;
  const workers: JobWorker[] = [];
  const company = async (name: string) =>
    (await db.sql<{ id: string }[]>`insert into companies (name, webhook_secret) values (${name}, 'whsec_test') returning id`)[0]!.id;
  /** `n` due jobs of a company, the oldest `ageS` seconds ago, one second apart. */
  const backlog = async (kind: string, companyId: string, n: number, ageS: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      ids.push((await enqueueJob(db.sql, { kind, companyId, payload: { companyId, n: i }, runAt: new Date(Date.now() - (ageS - i) * 1000) }))!);
    }
    return ids;
  };

  beforeAll(async () => {
    db = await createTestDb();
  });
  beforeEach(async () => {
    await db.sql`delete from jobs`;
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop(100)));
  });
  afterAll(async () => {
    await db?.close();
  });

  it("the first claim of 2 takes the other company's later job, and no more of one company than its cap", async () => {
    const a = await company('Backlog');
    const b = await company('Bystander');
    await backlog('fair_claim', a, 20, 600);
    const [bJob] = await backlog('fair_claim', b, 1, 1);

    const first = await claimJobs(db.sql, 'fair_claim', 2, 60_000);
    expect(first.map((j) => j.id)).toContain(bJob);
    expect(first.map((j) => j.company_id).sort()).toEqual([a, b].sort());
    expect(first.every((j) => j.attempts === 1)).toBe(true);

    // A holds 1 of a cap of 1: nothing more of A, whatever the free slots.
    expect(await claimJobs(db.sql, 'fair_claim', 2, 60_000, { maxPerCompany: 1, held: new Map([[a, 1]]) })).toEqual([]);
    // Without a cap A's backlog is claimed as before, oldest first.
    const rest = await claimJobs(db.sql, 'fair_claim', 5, 60_000);
    expect(rest.map((j) => j.payload.n).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it('a job of no known company is claimed in the first turn', async () => {
    const a = await company('Backlog');
    await backlog('fair_orphan', a, 10, 600);
    const orphan = (await enqueueJob(db.sql, { kind: 'fair_orphan', payload: { n: 'orphan' } }))!;
    const claim = await claimJobs(db.sql, 'fair_orphan', 2, 60_000, { maxPerCompany: 1 });
    expect(claim.map((j) => j.id)).toContain(orphan);
    expect(claim.find((j) => j.id === orphan)!.company_id).toBeNull();
  });

  it("a worker with 2 slots runs B's job beside A's backlog, never more than one of A's at once", async () => {
    const a = await company('Backlog');
    const b = await company('Bystander');
    await backlog('fair_run', a, 8, 600);
    const started: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    let runningA = 0;
    let maxRunningA = 0;
    const kind: JobKind = {
      concurrency: 2,
      handler: async (payload) => {
        const who = payload.companyId === a ? `a${String(payload.n)}` : 'b';
        started.push(who);
        if (payload.companyId === a) maxRunningA = Math.max(maxRunningA, ++runningA);
        const g = gate();
        gates.set(who, g);
        await g.promise;
        if (payload.companyId === a) runningA--;
      },
    };
    const w = new JobWorker(db.sql, { kinds: { fair_run: kind }, pollMs: 20, log: silent });
    workers.push(w);
    w.start();
    await until(() => started.length >= 1);
    // A's first job runs (its document takes long); B's job arrives later and starts beside it.
    await backlog('fair_run', b, 1, 0);
    w.kick();
    await until(() => started.length >= 2);
    expect(started).toEqual(['a0', 'b']);
    gates.get('b')!.open();
    // B's slot is not handed to A: A keeps one job at a time, in order.
    for (let i = 0; i < 8; i++) {
      await until(() => gates.has(`a${i}`));
      gates.get(`a${i}`)!.open();
    }
    await until(async () => (await db.sql`select 1 from jobs where kind = 'fair_run' and status = 'done'`).length === 9);
    expect(started).toEqual(['a0', 'b', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7']);
    expect(maxRunningA).toBe(1);
  });

  it('records the company of the document or call a job is for', async () => {
    const kb = knowledgeHarness(db.sql);
    const bot = await createBot(db.sql, 'en', 'Docs Co');
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'hours.txt', bytes: new TextEncoder().encode('Open daily from 9 to 5.') });
    const [ingest] = await db.sql<{ company_id: string | null }[]>`select company_id from jobs where kind = ${INGEST_JOB_KIND} and payload->>'documentId' = ${document.id}`;
    expect(ingest!.company_id).toBe(bot.companyId);

    const [call] = await db.sql<{ id: string }[]>`insert into calls (company_id, direction, status) values (${bot.companyId}, 'web', 'completed') returning id`;
    const analyze = (await enqueueJob(db.sql, { kind: 'fair_analyze', payload: { callId: call!.id } }))!;
    const orphanCall = (await enqueueJob(db.sql, { kind: 'fair_analyze', payload: { callId: '00000000-0000-4000-8000-000000000000' } }))!;
    const odd = (await enqueueJob(db.sql, { kind: 'fair_analyze', payload: { documentId: 'not-a-uuid', callId: 42 } }))!;
    const rows = await db.sql<{ id: string; company_id: string | null }[]>`select id, company_id from jobs where id in ${db.sql([analyze, orphanCall, odd])}`;
    expect(Object.fromEntries(rows.map((r) => [r.id, r.company_id]))).toEqual({ [analyze]: bot.companyId, [orphanCall]: null, [odd]: null });
  });

  it('the migration gives jobs queued before it the company of their document or call', async () => {
    const old = await createTestDb({ migrate: false });
    try {
      await migrateBefore(old, '0170');
      const bot = await createBot(old.sql, 'en', 'Old Co');
      const [doc] = await old.sql<{ id: string }[]>`
        insert into knowledge_documents (company_id, bot_id, filename, content_type, size_bytes, sha256, status)
        values (${bot.companyId}, ${bot.botId}, 'a.txt', 'text/plain', 1, 'x', 'processing') returning id`;
      const [call] = await old.sql<{ id: string }[]>`insert into calls (company_id, direction, status) values (${bot.companyId}, 'web', 'completed') returning id`;
      await old.sql`insert into jobs (kind, payload) values
        ('ingest_document', ${old.sql.json({ documentId: doc!.id })}), ('analyze_call', ${old.sql.json({ callId: call!.id })}),
        ('ingest_document', ${old.sql.json({ documentId: 'junk' })})`;
      await migrate(old.sql);
      const rows = await old.sql<{ kind: string; company_id: string | null }[]>`select kind, company_id from jobs where kind in ('analyze_call', 'ingest_document') order by kind, company_id nulls last`;
      expect(rows).toEqual([
        { kind: 'analyze_call', company_id: bot.companyId },
        { kind: 'ingest_document', company_id: bot.companyId },
        { kind: 'ingest_document', company_id: null },
      ]);
    } finally {
      await old.close();
    }
  });
});
