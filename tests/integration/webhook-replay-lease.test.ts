/**
 * A replay of a delivery that a worker holds is refused (409) while that worker may still be sending it — but a lease
 * held by a lost instance (it stopped heartbeating: a crash, kill -9; or its instances row is gone) is judged as the
 * workers judge it (jobs/lease-owner.ts leaseLost): the replay takes it over at once, not when the lease runs out.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookRoutes } from '../../src/api/routes/webhooks.js';
import type { LeaseOwner } from '../../src/jobs/lease-owner.js';
import { recordEvent } from '../../src/webhooks/emit.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
const delivery = { timeoutMs: 500, allowHttp: true, allowPrivate: true };
/** This server's instance, as CallOwnership judges: others silent for a minute are lost, once it may judge. */
let mayJudge = true;
const owner: LeaseOwner = { instanceId: randomUUID(), lostAfterMs: 60_000, mayJudgeSilence: () => mayJudge };

beforeAll(async () => {
  t = await createTestApp({ tenantRoutes: (db) => [webhookRoutes({ sql: db.sql, delivery, owner })] });
});
afterAll(async () => {
  await t?.close();
});

/** An instance row as a server writes it, last heard from `agoMs` ago. */
async function instance(agoMs: number): Promise<string> {
  const id = randomUUID();
  await t.db.sql`insert into instances (id, hostname, pid, heartbeat_at) values (${id}, 'test-host', 4242, now() - ${agoMs} * interval '1 millisecond')`;
  return id;
}

/** A company's event that instance `holder` claimed (one attempt under way), its lease good for an hour. */
async function heldEvent(holder: string) {
  const c = await t.createCompany();
  await t.db.sql`update companies set webhook_url = 'https://hooks.example.com/parley' where id = ${c.companyId}`;
  const id = (await recordEvent(t.db.sql, { companyId: c.companyId, type: 'call.started', data: { call_id: randomUUID() } }))!;
  await t.db.sql`update webhook_events set attempts = 1, claimed_by = ${randomUUID()}, locked_by = ${holder},
    locked_until = now() + interval '1 hour' where id = ${id}`;
  return { id, apiKey: c.apiKey };
}

const replay = (e: { id: string; apiKey: string }) =>
  t.app.inject({ method: 'POST', url: `/v1/webhooks/deliveries/${e.id}/replay`, headers: t.as(e.apiKey) });

const lease = async (id: string) =>
  (await t.db.sql<{ locked_by: string | null; locked_until: Date | null }[]>`select locked_by, locked_until from webhook_events where id = ${id}`)[0]!;

describe('replaying a delivery a worker holds', () => {
  it('takes over at once one held by an instance that stopped heartbeating, or whose row is gone', async () => {
    mayJudge = true;
    for (const holder of [await instance(10 * 60_000), randomUUID()]) {
      const e = await heldEvent(holder);
      const res = await replay(e);
      expect(res.statusCode).toBe(202);
      expect(res.json()).toMatchObject({ id: e.id, status: 'pending', attempt_count: 1 });
      expect(await lease(e.id)).toEqual({ locked_by: null, locked_until: null });
    }
  });

  it('refuses (409) one held by a live instance, its lease left as it was', async () => {
    mayJudge = true;
    const holder = await instance(0);
    const e = await heldEvent(holder);
    const res = await replay(e);
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toMatch(/being attempted right now/);
    expect(await lease(e.id)).toMatchObject({ locked_by: holder, locked_until: expect.any(Date) });
  });

  it('refuses one held by a silent instance while this server may not judge silence yet (as its workers do)', async () => {
    mayJudge = false;
    const e = await heldEvent(await instance(10 * 60_000));
    expect((await replay(e)).statusCode).toBe(409);
    mayJudge = true;
  });
});
