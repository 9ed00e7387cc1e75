/**
 * One company's backlog does not delay another company's webhooks: the claim takes companies in turns (every
 * company's oldest due event before any company's second) and holds each company to its cap of deliveries in
 * flight, so a company whose receiver never answers cannot occupy every delivery slot.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RootSql } from '../../src/db/sql.js';
import { recordEvent } from '../../src/webhooks/emit.js';
import { claimDueEvents } from '../../src/webhooks/outbox.js';
import { generateWebhookSecret } from '../../src/webhooks/signing.js';
import { WebhookWorker } from '../../src/webhooks/worker.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/until.js';
import { FakeReceiver } from '../fakes/fakeReceiver.js';

let db: TestDatabase;
let sql: RootSql;
let receiver: FakeReceiver;
const workers: WebhookWorker[] = [];

async function company(name: string): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    insert into companies (name, webhook_url, webhook_secret) values (${name}, ${receiver.url}, ${generateWebhookSecret()}) returning id`;
  return row!.id;
}

/** `n` events for a company in one transaction (one now(): due together), optionally spread over ordering keys. */
async function emit(companyId: string, n: number, key?: (i: number) => string): Promise<string[]> {
  return sql.begin(async (tx) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      ids.push((await recordEvent(tx, { companyId, type: 'knowledge.ready', data: { document_id: `d${i}` }, ...(key ? { orderingKey: key(i) } : {}) }))!);
    }
    return ids;
  });
}

const byCompany = (events: { company_id: string }[], companyId: string) => events.filter((e) => e.company_id === companyId).length;

beforeAll(async () => {
  db = await createTestDb();
  sql = db.sql;
  receiver = await FakeReceiver.start();
});
beforeEach(async () => {
  await sql`delete from webhook_events`;
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop(100)));
  receiver.behaviour = () => ({ status: 200 });
});
afterAll(async () => {
  await receiver?.close();
  await db?.close();
});

describe('webhook claims are fair between companies', () => {
  it('a company alone may use all slots but one; the cap applies once another company has events', async () => {
    const a = await company('Alone');
    await emit(a, 40);
    const alone = await claimDueEvents(sql, 16, 60_000, { maxPerCompany: 8, maxAlone: 15 });
    expect(byCompany(alone, a)).toBe(15);
    await sql`update webhook_events set locked_until = null, attempts = 0`;
    const b = await company('Arrives');
    await emit(b, 1);
    const shared = await claimDueEvents(sql, 16, 60_000, { maxPerCompany: 8, maxAlone: 15 });
    expect([byCompany(shared, a), byCompany(shared, b)]).toEqual([8, 1]);
  });

  it("a claim of 16 takes the other company's later event, and no more of one company than its cap", async () => {
    const a = await company('Backlog');
    const b = await company('Bystander');
    await emit(a, 100);
    const [bEvent] = await emit(b, 1);

    const first = await claimDueEvents(sql, 16, 60_000, { maxPerCompany: 8 });
    expect(first.map((e) => e.id)).toContain(bEvent);
    expect(byCompany(first, a)).toBe(8);
    expect(first).toHaveLength(9);

    // A's 8 are in flight (held by the caller): nothing more of A, however many free slots.
    const held = new Map([[a, 8]]);
    expect(await claimDueEvents(sql, 16, 60_000, { maxPerCompany: 8, held })).toEqual([]);
    // One of A's settles: one more of A.
    held.set(a, 7);
    const next = await claimDueEvents(sql, 16, 60_000, { maxPerCompany: 8, held });
    expect(next.map((e) => e.company_id)).toEqual([a]);
  });

  it('takes companies in turns even without a cap, the earliest first within a turn', async () => {
    const a = await company('Backlog');
    const b = await company('Second');
    const c = await company('Third');
    const aIds = await emit(a, 50);
    const [bEvent] = await emit(b, 1);
    const cIds = await emit(c, 2);

    const claim = await claimDueEvents(sql, 4, 60_000);
    // Turn 1: A's oldest, B's, C's oldest (in due order); turn 2: A's second (earlier than C's second).
    expect(claim.map((e) => e.id).sort()).toEqual([aIds[0], bEvent, cIds[0], aIds[1]].sort());
    // A company already holding deliveries starts at a later turn: C's second comes before A's next.
    const after = await claimDueEvents(sql, 1, 60_000, { held: new Map([[a, 2], [c, 1]]) });
    expect(after.map((e) => e.id)).toEqual([cIds[1]]);
  });

  it('still claims only the oldest pending event per (company, ordering key)', async () => {
    const a = await company('Keys');
    const b = await company('Other');
    const aIds = await emit(a, 10, (i) => `call-${i % 2}`);
    const bIds = await emit(b, 3, () => 'call-b');
    const claim = await claimDueEvents(sql, 16, 60_000, { maxPerCompany: 8 });
    expect(claim.map((e) => e.id).sort()).toEqual([aIds[0], aIds[1], bIds[0]].sort());
    // While they are leased, nothing else of those keys.
    expect(await claimDueEvents(sql, 16, 60_000, { maxPerCompany: 8 })).toEqual([]);
    await sql`update webhook_events set status = 'delivered', locked_until = null where id = ${bIds[0]!}`;
    expect((await claimDueEvents(sql, 16, 60_000, { maxPerCompany: 8 })).map((e) => e.id)).toEqual([bIds[1]]);
  });

  it("a company whose receiver never answers, alone, leaves a slot free; another company's event goes out at once", async () => {
    const a = await company('Hangs');
    const b = await company('Healthy');
    receiver.behaviour = (req) => (req.json?.company_id === a ? { hang: true } : { status: 200 });
    const start = receiver.requests.length;
    await emit(a, 12);
    // Each of A's attempts hangs until its 20 s timeout; with 4 slots A, alone, may hold 3.
    const w = new WebhookWorker(sql, { timeoutMs: 20_000, leaseMs: 60_000, maxAgeMs: 3_600_000, allowHttp: true, allowPrivate: true, concurrency: 4, pollMs: 20 });
    workers.push(w);
    w.start();
    await receiver.waitForRequests(start + 3);
    const [bEvent] = await emit(b, 1);
    w.kick();
    // Well inside A's timeout: B's event does not wait for A's attempts to end.
    await until(async () => (await sql`select 1 from webhook_events where id = ${bEvent!} and status = 'delivered'`).length === 1, 15_000);
    const sent = receiver.requests.slice(start);
    expect(sent.filter((r) => r.json?.company_id === a)).toHaveLength(3);
    expect(sent.filter((r) => r.json?.company_id === b).map((r) => r.answeredWith)).toEqual([200]);
  });
});
