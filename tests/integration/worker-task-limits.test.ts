/**
 * Upload checks run on worker threads (campaigns/upload-check.ts): a process starts only as many at once as its
 * bound allows (util/task-slots.ts), a burst beyond a short queue is a 503 with Retry-After, companies take turns,
 * and a thread that overran frees its turn. Threads are counted where they are started (util/module-worker.ts).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { WorkerOptions } from 'node:worker_threads';
import { campaignRoutes } from '../../src/api/routes/campaigns.js';
import { checkUploadOffLoop } from '../../src/campaigns/upload-check.js';
import { ParleyError } from '../../src/errors.js';
import { TaskSlots, type TaskSlotsOptions } from '../../src/util/task-slots.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

/** Threads alive now, the most alive at once, and what each was started with (its task), in order. */
const threads = vi.hoisted(() => ({ alive: 0, peak: 0, tasks: [] as unknown[] }));

vi.mock('../../src/util/module-worker.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/util/module-worker.js')>();
  return {
    startModuleWorker(callerUrl: string, moduleName: string, options?: WorkerOptions) {
      const worker = real.startModuleWorker(callerUrl, moduleName, options);
      threads.alive++;
      threads.peak = Math.max(threads.peak, threads.alive);
      threads.tasks.push(options?.workerData);
      worker.once('exit', () => threads.alive--);
      return worker;
    },
  };
});

const resetThreads = (): void => {
  threads.peak = threads.alive;
  threads.tasks = [];
};

/** Generous waits: these tests are about order and counts, never about time. */
const slots = (o: Partial<TaskSlotsOptions> = {}): TaskSlots =>
  new TaskSlots({ running: 1, queued: 100, queuedPerKey: 100, maxWaitMs: 120_000, retryAfterSec: 3, ...o });

/** Holds one of the slots' turns until `release` is called. */
function holdTurn(s: TaskSlots): { release: () => void; done: Promise<unknown> } {
  let release!: () => void;
  const done = s.run('someone else', () => new Promise<void>((r) => (release = r)));
  return { release: () => release(), done };
}

const csvOf = (tag: string, rows = 3): string =>
  ['phone,name', ...Array.from({ length: rows }, (_, i) => `+1212555${String(i).padStart(4, '0')},${tag}`)].join('\n');

describe('upload checks on worker threads are bounded per process', () => {
  it(`never runs more than K threads at once, however many checks are started (K = 2, 3K checks)`, async () => {
    resetThreads();
    const bound = slots({ running: 2 });
    const checks = Array.from({ length: 6 }, (_, i) => checkUploadOffLoop({ kind: 'contacts-csv', csv: csvOf(`n${i}`) }, { slots: bound, companyId: 'one' }));
    const results = await Promise.all(checks);
    expect(results.map((r) => r.received)).toEqual([3, 3, 3, 3, 3, 3]);
    expect(threads.tasks).toHaveLength(6);
    expect(threads.peak).toBeLessThanOrEqual(2);
    expect(bound.load).toEqual({ running: 0, queued: 0 });
  });

  it('a thread that overran its deadline frees its turn, and is gone before the next starts', async () => {
    resetThreads();
    const bound = slots({ running: 1 });
    const turn = { slots: bound, companyId: 'one' };
    const big = ['phone,name', ...Array.from({ length: 10_000 }, (_, i) => `+1415555${String(i).padStart(4, '0')},Name ${i}`)].join('\n');
    const overrun = checkUploadOffLoop({ kind: 'contacts-csv', csv: big }, turn, { memoryMb: 256, timeoutMs: 1 }).catch((e: unknown) => e);
    const next = checkUploadOffLoop({ kind: 'contacts-csv', csv: csvOf('after') }, turn);
    const err = await overrun;
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).status).toBe(413);
    expect((await next).received).toBe(3);
    expect(threads.tasks).toHaveLength(2);
    expect(threads.peak).toBe(1);
  });

  it('a thread that cannot begin within its start deadline is the busy server it shows (503, Retry-After), not a 413; the turn is freed', async () => {
    resetThreads();
    const bound = slots({ running: 1 });
    const turn = { slots: bound, companyId: 'one' };
    // No thread loads its code within 1 ms; the task's own deadline (generous) never starts.
    const err = await checkUploadOffLoop({ kind: 'contacts-csv', csv: csvOf('slow start') }, turn, { memoryMb: 256, timeoutMs: 60_000, startTimeoutMs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).status).toBe(503);
    expect((err as ParleyError).details).toMatchObject({ retry_after_s: expect.any(Number) });
    expect((await checkUploadOffLoop({ kind: 'contacts-csv', csv: csvOf('next') }, turn)).received).toBe(3);
    expect(threads.peak).toBe(1);
  });

  it('a check that waits past its longest wait is refused with a Retry-After, and its place is freed', async () => {
    const bound = slots({ running: 1, maxWaitMs: 20 });
    const held = holdTurn(bound);
    const err = await checkUploadOffLoop({ kind: 'contacts-csv', csv: csvOf('late') }, { slots: bound, companyId: 'one' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect(err).toMatchObject({ status: 503, code: 'PARLEY_ERR_UNAVAILABLE', details: { retry_after_s: 3 } });
    expect(bound.load).toEqual({ running: 1, queued: 0 });
    held.release();
    await held.done;
  });
});

describe('upload checks through the API', () => {
  let t: TestApp;
  /** The routes' bound: one check at once, two waiting per company, four in all. */
  const bound = slots({ running: 1, queued: 4, queuedPerKey: 2 });
  const ALWAYS = [{ days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '23:59' }];
  let companies: { apiKey: string; campaignId: string }[];

  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_PER_MIN: '100000' }, tenantRoutes: (db) => [campaignRoutes({ sql: db.sql, dialingAvailable: false, uploadChecks: bound })] });
    companies = await Promise.all(['A', 'B'].map(async (name) => {
      const { apiKey } = await t.createCompany(name);
      const json = { ...t.as(apiKey), 'content-type': 'application/json' };
      const bot = (await t.app.inject({ method: 'POST', url: '/v1/bots', headers: json, payload: JSON.stringify(botBody()) })).json() as { id: string };
      const campaign = (await t.app.inject({ method: 'POST', url: '/v1/campaigns', headers: json, payload: JSON.stringify({ bot_id: bot.id, name: 'Bulk', windows: ALWAYS }) })).json() as { id: string };
      return { apiKey, campaignId: campaign.id };
    }));
  });
  afterAll(async () => t.close());

  const upload = (company: { apiKey: string; campaignId: string }, tag: string) =>
    t.app.inject({ method: 'POST', url: `/v1/campaigns/${company.campaignId}/contacts/csv`, headers: { ...t.as(company.apiKey), 'content-type': 'text/csv' }, payload: csvOf(tag) });
  const dnc = (company: { apiKey: string }, tag: string) =>
    t.app.inject({ method: 'POST', url: '/v1/dnc', headers: { ...t.as(company.apiKey), 'content-type': 'application/json' }, payload: JSON.stringify({ numbers: [{ phone: '+12125550100', reason: tag }] }) });

  /** Waits until `n` checks wait for a turn (each request reaches the queue after its own queries). */
  const queued = (n: number) => vi.waitFor(() => expect(bound.load.queued).toBe(n), { timeout: 20_000, interval: 5 });

  it('a burst past the queue is answered 503 with Retry-After at once; what waited is stored', async () => {
    const [a] = companies;
    const held = holdTurn(bound);
    const burst = [upload(a!, 'a1'), upload(a!, 'a2'), upload(a!, 'a3'), dnc(a!, 'a4'), upload(a!, 'a5')];
    // Three of the five find the company's share of the queue full: their answers come while the turn is held.
    const refused: Awaited<(typeof burst)[number]>[] = [];
    for (const request of burst) void request.then((res) => refused.push(res));
    await vi.waitFor(() => expect(refused).toHaveLength(3), { timeout: 20_000, interval: 5 });
    for (const res of refused) {
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('3');
      expect(res.json().error).toMatchObject({ code: 'PARLEY_ERR_UNAVAILABLE', details: { retry_after_s: 3 } });
    }
    expect(bound.load).toEqual({ running: 1, queued: 2 });
    held.release();
    const statuses = (await Promise.all(burst)).map((r) => r.statusCode).sort();
    expect(statuses).toEqual([200, 200, 503, 503, 503]);
    await held.done;
  });

  it("one company's burst does not starve another's upload: companies take turns", async () => {
    const [a, b] = companies;
    resetThreads();
    const held = holdTurn(bound);
    const a1 = upload(a!, 'a-first');
    await queued(1);
    const a2 = upload(a!, 'a-second');
    await queued(2);
    const b1 = upload(b!, 'b-first');
    await queued(3);
    held.release();
    expect((await Promise.all([a1, a2, b1])).map((r) => r.statusCode)).toEqual([200, 200, 200]);
    await held.done;
    // B's upload, sent last, was checked second: after A's first, before A's second.
    const order = threads.tasks.map((task) => (task as { csv: string }).csv.split('\n')[1]!.split(',')[1]);
    expect(order).toEqual(['a-first', 'b-first', 'a-second']);
  });
});
