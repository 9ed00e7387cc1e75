import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rotateWebhookSecret, updateWebhookSettings } from '../../src/db/companies.js';
import type { RootSql } from '../../src/db/sql.js';
import type { LeaseOwner } from '../../src/jobs/lease-owner.js';
import { CallOwnership } from '../../src/telephony/call-ownership.js';
import { emitEvent, recordEvent, type WebhookEventType } from '../../src/webhooks/emit.js';
import { DEFAULT_BACKOFF } from '../../src/webhooks/retry-policy.js';
import { claimDueEvents, getDelivery, replayDeliveries, replayDelivery, settleEvent } from '../../src/webhooks/outbox.js';
import { generateWebhookSecret, verifySignature } from '../../src/webhooks/signing.js';
import { WebhookWorker, type WebhookWorkerOptions } from '../../src/webhooks/worker.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { FakeReceiver, type ReceivedRequest } from '../fakes/fakeReceiver.js';

let db: TestDatabase;
let sql: RootSql;
let receiver: FakeReceiver;
const workers: WebhookWorker[] = [];

const fast: WebhookWorkerOptions = {
  timeoutMs: 250,
  maxAgeMs: 3_600_000,
  allowHttp: true,
  allowPrivate: true,
  pollMs: 20,
  // Long enough that a slow (loaded) machine never loses a lease mid-test; the crash test expires it by hand.
  leaseMs: 10_000,
  backoff: { baseMs: 10, maxMs: 40 },
};

function startWorker(options: Partial<WebhookWorkerOptions> = {}): WebhookWorker {
  const w = new WebhookWorker(sql, { ...fast, ...options });
  workers.push(w);
  w.start();
  return w;
}

async function company(overrides: { url?: string | null; events?: string[]; previous?: { secret: string; expiresAt: Date } } = {}) {
  const secret = generateWebhookSecret();
  const [row] = await sql<{ id: string }[]>`
    insert into companies (name, webhook_url, webhook_secret, webhook_events, webhook_previous_secrets)
    values ('Acme', ${overrides.url === undefined ? receiver.url : overrides.url}, ${secret}, ${overrides.events ?? []},
            ${sql.json(overrides.previous ? [{ secret: overrides.previous.secret, expires_at: overrides.previous.expiresAt.toISOString() }] : [])})
    returning id`;
  return { id: row!.id, secret };
}

async function until(what: string, check: () => Promise<boolean>, limitMs = 60_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Time passing for these events: their age counts `ms` more (timestamps at whole milliseconds, as JS dates). */
async function makeOlder(ids: string[], ms: number): Promise<void> {
  await sql`
    update webhook_events set created_at = date_trunc('milliseconds', created_at) - ${ms} * interval '1 millisecond',
      window_started_at = date_trunc('milliseconds', window_started_at) - ${ms} * interval '1 millisecond'
    where id in ${sql(ids)}`;
}

const statusCounts = async (companyId: string) =>
  Object.fromEntries((await sql<{ status: string; n: number }[]>`select status, count(*)::int as n from webhook_events where company_id = ${companyId} group by status`).map((r) => [r.status, r.n]));

beforeAll(async () => {
  db = await createTestDb();
  sql = db.sql;
  receiver = await FakeReceiver.start();
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop(100)));
  receiver.behaviour = () => ({ status: 200 });
});
afterAll(async () => {
  await receiver.close();
  await db.close();
});

describe('webhook outbox delivery', () => {
  it('delivers every event through an outage, timeouts and 500s — same id on retries, per-call order kept', async () => {
    const acme = await company();
    const calls = ['call-a', 'call-b', 'call-c'];
    const types: WebhookEventType[] = ['call.started', 'call.ended', 'call.analyzed'];
    const emitted: { id: string; key: string | null }[] = [];
    for (const type of types) {
      await sql.begin(async (tx) => {
        for (const callId of calls) {
          const id = await recordEvent(tx, { companyId: acme.id, type, data: { call_id: callId }, orderingKey: callId });
          emitted.push({ id: id!, key: callId });
        }
      });
    }
    emitted.push({ id: (await recordEvent(sql, { companyId: acme.id, type: 'knowledge.ready', data: { document_id: 'd1' } }))!, key: null });

    await receiver.down(); // phase 1: connection refused
    const settled = { delivered: 0, retry: 0, dead: 0, skipped: 0, timed: 0 };
    startWorker({ onAttempt: (outcome, latencyMs) => void (settled[outcome]++, latencyMs !== null && settled.timed++) });
    await until('refused attempts', async () => (await sql`select 1 from webhook_attempts where error like '%ECONNREFUSED%'`).length >= 3);

    // phase 2: back up, but slow past the timeout, then 500s, a 429, then healthy.
    let n = 0;
    receiver.behaviour = () => {
      n++;
      if (n <= 2) return { status: 200, delayMs: 600 };
      if (n <= 5) return { status: 500 };
      if (n === 6) return { status: 429, headers: { 'retry-after': '0' } };
      return { status: 200 };
    };
    await receiver.up();
    await until('all delivered', async () => (await statusCounts(acme.id)).delivered === emitted.length);
    // What /metrics counts (parley_webhook_attempts_total): one delivery per event, the failures as retries.
    expect(settled.delivered).toBe(emitted.length);
    expect(settled.retry).toBeGreaterThanOrEqual(3 + 5);
    expect(settled.dead).toBe(0);
    expect(settled.timed).toBe(settled.delivered + settled.retry);

    // Every event arrived (answered 2xx in time) under its own id, and every request was signed.
    const mine = receiver.requests.filter((r) => r.json?.data && emitted.some((e) => e.id === r.json!.id));
    for (const e of emitted) {
      const got = mine.filter((r) => r.json!.id === e.id);
      expect(got.length).toBeGreaterThanOrEqual(1);
      for (const r of got) expect(r.headers['webhook-id']).toBe(e.id);
    }
    for (const r of mine) {
      const h = { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) };
      expect(() => new Webhook(acme.secret).verify(r.body, h)).not.toThrow();
      expect(verifySignature(acme.secret, h, r.body)).toBe(true);
    }
    // Retries happened: some event was sent more than once with the same webhook-id.
    expect(mine.length).toBeGreaterThan(new Set(mine.map((r) => r.json!.id)).size);

    // Per call: no request for a later event before the earlier one was answered successfully.
    for (const callId of calls) {
      const order = emitted.filter((e) => e.key === callId).map((e) => e.id);
      const seen = mine.filter((r) => r.json!.data!.call_id === callId).map((r) => order.indexOf(r.json!.id!));
      for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
      expect([...new Set(seen)]).toEqual([0, 1, 2]);
    }

    // Every attempt is recorded, numbered 1..attempts, with code, latency and error.
    const attempts = await sql<{ event_id: string; attempt: number; status_code: number | null; error: string | null; latency_ms: number }[]>`
      select a.event_id, a.attempt, a.status_code, a.error, a.latency_ms from webhook_attempts a
      join webhook_events e on e.id = a.event_id where e.company_id = ${acme.id} order by a.id`;
    const events = await sql<{ id: string; attempts: number }[]>`select id, attempts from webhook_events where company_id = ${acme.id}`;
    for (const e of events) expect(attempts.filter((a) => a.event_id === e.id).map((a) => a.attempt)).toEqual(Array.from({ length: e.attempts }, (_, i) => i + 1));
    expect(attempts.some((a) => a.error?.includes('timed out'))).toBe(true);
    expect(attempts.some((a) => a.status_code === 500)).toBe(true);
    expect(attempts.some((a) => a.status_code === 429)).toBe(true);
    expect(attempts.every((a) => a.latency_ms >= 0)).toBe(true);
  });

  it('a worker that dies mid-delivery loses nothing: the lease expires and the same event is sent again', async () => {
    const acme = await company();
    const firstIndex = receiver.requests.length;
    const id = (await recordEvent(sql, { companyId: acme.id, type: 'call.ended', data: { call_id: 'x' }, orderingKey: 'x' }))!;
    // A worker claimed it and died before recording anything (a graceful stop would give it back: webhook-lease-owner).
    expect((await claimDueEvents(sql, 100, 60_000)).map((e) => e.id)).toContain(id);
    startWorker();
    // The lease is still held: no worker sends it until it expires. Shorten it as time passing would.
    expect((await statusCounts(acme.id)).pending).toBe(1);
    await sql`update webhook_events set locked_until = now() - interval '1 second' where id = ${id}`;
    await until('redelivered', async () => (await statusCounts(acme.id)).delivered === 1);
    const got = receiver.requests.slice(firstIndex).filter((r) => r.json?.id === id);
    expect(got.map((r) => r.headers['webhook-id'])).toEqual([id]);
    const [row] = await sql<{ attempts: number }[]>`select attempts from webhook_events where id = ${id}`;
    expect(row!.attempts).toBe(2);
  });

  it('two workers on one database deliver each event exactly once', async () => {
    const acme = await company();
    const start = receiver.requests.length;
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await recordEvent(sql, { companyId: acme.id, type: 'booking.created', data: { booking_id: `b${i}` }, orderingKey: `k${i % 5}` }))!);
    startWorker({ concurrency: 4 });
    startWorker({ concurrency: 4 });
    await until('all delivered', async () => (await statusCounts(acme.id)).delivered === 40);
    const got = receiver.requests.slice(start).filter((r) => r.json?.company_id === acme.id).map((r) => r.json!.id);
    expect(got.sort()).toEqual([...ids].sort());
  });

  it('records only events the company wants, and skips events whose URL was removed before delivery', async () => {
    const picky = await company({ events: ['call.analyzed'] });
    expect(await recordEvent(sql, { companyId: picky.id, type: 'call.started', data: {} })).toBeNull();
    expect(await recordEvent(sql, { companyId: picky.id, type: 'call.analyzed', data: {} })).not.toBeNull();
    const noUrl = await company({ url: null });
    await emitEvent(sql, { companyId: noUrl.id, type: 'call.started', data: {} });
    expect(await statusCounts(noUrl.id)).toEqual({});
    // Emitted inside a transaction that rolls back: no event.
    await sql.begin(async (tx) => {
      await emitEvent(tx, { companyId: picky.id, type: 'call.analyzed', data: { n: 2 } });
      throw new Error('rollback');
    }).catch(() => {});
    expect(await statusCounts(picky.id)).toEqual({ pending: 1 });
    await sql`update companies set webhook_url = null where id = ${picky.id}`;
    startWorker();
    await until('skipped', async () => (await statusCounts(picky.id)).skipped === 1);
  });

  it('signs with both secrets during rotation, only the current one after the overlap', async () => {
    const previous = generateWebhookSecret();
    const rotating = await company({ previous: { secret: previous, expiresAt: new Date(Date.now() + 3_600_000) } });
    const expired = await company({ previous: { secret: generateWebhookSecret(), expiresAt: new Date(Date.now() - 1000) } });
    const start = receiver.requests.length;
    const a = (await recordEvent(sql, { companyId: rotating.id, type: 'call.started', data: {} }))!;
    const b = (await recordEvent(sql, { companyId: expired.id, type: 'call.started', data: {} }))!;
    startWorker();
    await until('delivered', async () => receiver.requests.slice(start).length >= 2);
    const byId = (id: string): ReceivedRequest => receiver.requests.slice(start).find((r) => r.json?.id === id)!;
    const headers = (r: ReceivedRequest) => ({ 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) });
    expect(headers(byId(a))['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(previous).verify(byId(a).body, headers(byId(a)))).not.toThrow();
    expect(() => new Webhook(rotating.secret).verify(byId(a).body, headers(byId(a)))).not.toThrow();
    expect(headers(byId(b))['webhook-signature'].split(' ')).toHaveLength(1);
  });

  it('marks an event dead after 410 Gone, or when retries run past the maximum age', async () => {
    const gone = await company();
    const gid = (await recordEvent(sql, { companyId: gone.id, type: 'call.started', data: { g: 1 } }))!;
    receiver.behaviour = (r) => (r.json?.id === gid ? { status: 410 } : { status: 500 });
    const old = await company();
    const oid = (await recordEvent(sql, { companyId: old.id, type: 'call.started', data: {} }))!;
    startWorker({ maxAgeMs: 300 });
    await until('dead', async () => (await statusCounts(gone.id)).dead === 1 && (await statusCounts(old.id)).dead === 1);
    const [g] = await sql<{ attempts: number; last_status_code: number }[]>`select attempts, last_status_code from webhook_events where id = ${gid}`;
    expect(g).toEqual({ attempts: 1, last_status_code: 410 });
    const [o] = await sql<{ attempts: number }[]>`select attempts from webhook_events where id = ${oid}`;
    expect(o!.attempts).toBeGreaterThan(1);
  });

  it('updates the outcome row when call.analyzed is delivered', async () => {
    const acme = await company();
    const [call] = await sql<{ id: string }[]>`insert into calls (company_id, direction, status) values (${acme.id}, 'web', 'completed') returning id`;
    await sql`insert into outcomes (call_id, company_id, outcome_type, confidence, summary, analyzer) values (${call!.id}, ${acme.id}, 'lead', 0.7, 's', 'offline')`;
    await recordEvent(sql, { companyId: acme.id, type: 'call.analyzed', data: { call_id: call!.id }, orderingKey: call!.id });
    receiver.behaviour = () => ({ status: 202 });
    startWorker();
    await until('sent', async () => (await sql`select 1 from outcomes where call_id = ${call!.id} and webhook_sent`).length === 1);
    const [o] = await sql<{ webhook_response_code: number; webhook_sent_at: Date | null }[]>`select webhook_response_code, webhook_sent_at from outcomes where call_id = ${call!.id}`;
    expect(o!.webhook_response_code).toBe(202);
    expect(o!.webhook_sent_at).toBeInstanceOf(Date);
  });

  it('a receiver\'s answer with a NUL in its body is recorded cleaned, and the event is delivered once', async () => {
    const acme = await company();
    const start = receiver.requests.length;
    const ok = (await recordEvent(sql, { companyId: acme.id, type: 'booking.created', data: { n: 1 }, orderingKey: 'nul' }))!;
    const failing = (await recordEvent(sql, { companyId: acme.id, type: 'booking.created', data: { n: 2 } }))!;
    receiver.behaviour = (r, i) => (r.json?.id === ok ? { status: 200, body: 'ok\u0000' } : i < start + 3 ? { status: 500, body: 'no\u0000' } : { status: 200 });
    startWorker();
    await until('both delivered', async () => (await statusCounts(acme.id)).delivered === 2);
    expect(receiver.requests.slice(start).filter((r) => r.json?.id === ok)).toHaveLength(1);
    const attempts = await sql<{ event_id: string; response_excerpt: string }[]>`
      select event_id, response_excerpt from webhook_attempts where event_id in (${ok}, ${failing}) order by created_at`;
    expect(attempts.find((a) => a.event_id === ok)!.response_excerpt).toBe('ok');
    expect(attempts.filter((a) => a.event_id === failing).map((a) => a.response_excerpt)).toContain('no');
  });

  it('a 2xx whose body never ends is delivered once, not retried as a timeout', async () => {
    const acme = await company();
    const start = receiver.requests.length;
    const id = (await recordEvent(sql, { companyId: acme.id, type: 'call.started', data: {} }))!;
    receiver.behaviour = () => ({ status: 200, body: 'ok', bodyNeverEnds: true });
    startWorker();
    await until('settled', async () => (await sql`select 1 from webhook_events where id = ${id} and attempts > 0 and locked_until is null`).length === 1);
    const [row] = await sql<{ status: string; attempts: number; last_status_code: number }[]>`select status, attempts, last_status_code from webhook_events where id = ${id}`;
    expect(row).toEqual({ status: 'delivered', attempts: 1, last_status_code: 200 });
    expect(receiver.requests.slice(start).filter((r) => r.json?.id === id)).toHaveLength(1);
  });

  it('an event first claimed after its deadline (no worker ran) still gets its attempt: delivered if accepted, dead if refused', async () => {
    const acme = await company();
    const start = receiver.requests.length;
    const accepted = (await recordEvent(sql, { companyId: acme.id, type: 'call.started', data: {} }))!;
    const refused = (await recordEvent(sql, { companyId: acme.id, type: 'call.ended', data: {} }))!;
    await makeOlder([accepted, refused], 2 * 3_600_000);
    receiver.behaviour = (r) => (r.json?.id === refused ? { status: 500 } : { status: 200 });
    startWorker({ maxAgeMs: 3_600_000 });
    await until('settled', async () => (await statusCounts(acme.id)).pending === undefined);
    const rows = await sql<{ id: string; status: string; attempts: number; last_status_code: number }[]>`
      select id, status, attempts, last_status_code from webhook_events where company_id = ${acme.id} order by seq`;
    expect(rows).toEqual([
      { id: accepted, status: 'delivered', attempts: 1, last_status_code: 200 },
      { id: refused, status: 'dead', attempts: 1, last_status_code: 500 },
    ]);
    expect(receiver.requests.slice(start).map((r) => r.json?.id)).toEqual(expect.arrayContaining([accepted, refused]));
    expect(receiver.requests.slice(start)).toHaveLength(2);
  });

  it('an event whose last claim held it past its deadline and recorded nothing is dead, and not sent again', async () => {
    const acme = await company();
    const start = receiver.requests.length;
    const id = (await recordEvent(sql, { companyId: acme.id, type: 'call.started', data: {} }))!;
    await makeOlder([id], 2 * 3_600_000);
    // Claimed an hour after its deadline; that claim's lease expired without its attempt being recorded.
    await sql`update webhook_events set attempts = 1, locked_until = now() - interval '1 second' where id = ${id}`;
    startWorker({ maxAgeMs: 3_600_000 });
    await until('dead', async () => (await statusCounts(acme.id)).dead === 1);
    const [row] = await sql<{ attempts: number; last_error: string }[]>`select attempts, last_error from webhook_events where id = ${id}`;
    expect(row).toEqual({ attempts: 2, last_error: 'not delivered within the maximum age' });
    expect(receiver.requests.slice(start).filter((r) => r.json?.id === id)).toHaveLength(0);
  });

  it('an event whose final attempt, at its deadline, was cut by a crash is attempted again, not given up', async () => {
    const acme = await company();
    const id = (await recordEvent(sql, { companyId: acme.id, type: 'call.started', data: {} }))!;
    // Deadline a moment ago; the claim of its last retry (due at the deadline) ended unsettled just after it.
    await makeOlder([id], 3_600_000 + 2_000);
    await sql`update webhook_events set attempts = 5, locked_until = now() - interval '1 second' where id = ${id}`;
    receiver.behaviour = () => ({ status: 200 });
    startWorker({ maxAgeMs: 3_600_000, leaseMs: 10_000, timeoutMs: 2_000 });
    await until('delivered', async () => (await statusCounts(acme.id)).delivered === 1);
    expect(receiver.requests.filter((r) => r.json?.id === id)).toHaveLength(1);
  });

  it('retries until the deadline: the last retry is due at the deadline, however long the backoff or Retry-After; dead once it failed', async () => {
    const acme = await company();
    const day = 24 * 3_600_000;
    // 23.5 h old: half an hour left. One has failed 15 times (its next backoff is an hour); one is asked to wait 6 h.
    const backedOff = (await recordEvent(sql, { companyId: acme.id, type: 'call.started', data: {} }))!;
    const throttled = (await recordEvent(sql, { companyId: acme.id, type: 'call.ended', data: {} }))!;
    await sql`update webhook_events set attempts = 15 where id = ${backedOff}`;
    await makeOlder([backedOff, throttled], day - 30 * 60_000);
    receiver.behaviour = (r) => (r.json?.id === throttled ? { status: 503, headers: { 'retry-after': String(6 * 3600) } } : { status: 500 });
    startWorker({ maxAgeMs: day, backoff: DEFAULT_BACKOFF, random: () => 1 });
    const settledAfter = (attempts: [number, number]) => async () =>
      (await sql`select 1 from webhook_events where ((id = ${backedOff} and attempts = ${attempts[0]}) or (id = ${throttled} and attempts = ${attempts[1]})) and locked_until is null`).length === 2;
    await until('first attempts', settledAfter([16, 1]));
    const rows = await sql<{ id: string; status: string; next_attempt_at: Date; window_started_at: Date }[]>`
      select id, status, next_attempt_at, window_started_at from webhook_events where company_id = ${acme.id} order by seq`;
    for (const r of rows) {
      expect(r.status, r.id).toBe('pending');
      expect(r.next_attempt_at.getTime(), r.id).toBe(r.window_started_at.getTime() + day);
    }

    // The deadline comes (half an hour on), the retry due then is made, and fails: now they are dead.
    await makeOlder([backedOff, throttled], 30 * 60_000);
    await sql`update webhook_events set next_attempt_at = now() where id in (${backedOff}, ${throttled})`;
    await until('dead', async () => (await statusCounts(acme.id)).dead === 2);
    const dead = await sql<{ attempts: number; last_status_code: number }[]>`
      select attempts, last_status_code from webhook_events where company_id = ${acme.id} order by seq`;
    expect(dead).toEqual([{ attempts: 17, last_status_code: 500 }, { attempts: 2, last_status_code: 503 }]);
  });

  it('two rotations inside the overlap: the delivery is signed with all three secrets, each verifying', async () => {
    const acme = await company();
    const s1 = generateWebhookSecret();
    const s2 = generateWebhookSecret();
    await rotateWebhookSecret(sql, acme.id, s1, 3600);
    await rotateWebhookSecret(sql, acme.id, s2, 3600);
    const start = receiver.requests.length;
    const id = (await recordEvent(sql, { companyId: acme.id, type: 'call.started', data: {} }))!;
    startWorker();
    await until('delivered', async () => receiver.requests.slice(start).some((r) => r.json?.id === id));
    const got = receiver.requests.slice(start).find((r) => r.json?.id === id)!;
    const headers = { 'webhook-id': String(got.headers['webhook-id']), 'webhook-timestamp': String(got.headers['webhook-timestamp']), 'webhook-signature': String(got.headers['webhook-signature']) };
    expect(headers['webhook-signature'].split(' ')).toHaveLength(3);
    for (const secret of [acme.secret, s1, s2]) expect(() => new Webhook(secret).verify(got.body, headers)).not.toThrow();
  });

  it('settings changed while an event is retried take effect at its next attempt: a new URL, a removed URL, a rotated secret', async () => {
    // Each time at most one request may still go out as before: the attempt already in flight when the change committed.
    const moved = await FakeReceiver.start();
    try {
      receiver.behaviour = () => ({ status: 500 });
      const acme = await company();
      const toMove = (await recordEvent(sql, { companyId: acme.id, type: 'call.ended', data: {} }))!;
      startWorker();
      const sentTo = (r: FakeReceiver, id: string) => r.requests.filter((q) => q.json?.id === id).length;
      await until('failing attempts', async () => sentTo(receiver, toMove) >= 2);
      await updateWebhookSettings(sql, acme.id, { url: moved.url });
      const beforeMove = sentTo(receiver, toMove);
      await until('delivered to the new URL', async () => (await statusCounts(acme.id)).delivered === 1);
      expect(sentTo(receiver, toMove) - beforeMove).toBeLessThanOrEqual(1);

      // The receiver switches to the new secret as it rotates: the attempts after are signed with it too.
      const rotating = await company();
      let secret = rotating.secret;
      const verifies = (r: ReceivedRequest) => {
        try {
          new Webhook(secret).verify(r.body, { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) });
          return true;
        } catch {
          return false;
        }
      };
      let rotated = false;
      receiver.behaviour = (r) => ({ status: rotated && verifies(r) ? 200 : 401 });
      const toSign = (await recordEvent(sql, { companyId: rotating.id, type: 'call.ended', data: {} }))!;
      await until('refused attempts', async () => sentTo(receiver, toSign) >= 2);
      secret = (await rotateWebhookSecret(sql, rotating.id, generateWebhookSecret(), 3600))!.secret;
      rotated = true;
      const beforeRotation = sentTo(receiver, toSign);
      await until('delivered with the new secret', async () => (await statusCounts(rotating.id)).delivered === 1);
      expect(sentTo(receiver, toSign) - beforeRotation).toBeLessThanOrEqual(2);

      receiver.behaviour = () => ({ status: 500 });
      const dropping = await company();
      const toDrop = (await recordEvent(sql, { companyId: dropping.id, type: 'call.ended', data: {} }))!;
      await until('failing attempts', async () => sentTo(receiver, toDrop) >= 2);
      await updateWebhookSettings(sql, dropping.id, { url: null });
      const beforeRemoval = sentTo(receiver, toDrop);
      await until('skipped', async () => (await statusCounts(dropping.id)).skipped === 1);
      expect(sentTo(receiver, toDrop) - beforeRemoval).toBeLessThanOrEqual(1);
    } finally {
      await moved.close();
    }
  });

  it('an attempt in flight while the settings change does not set its own retry: the newest settings win, even over a 410 from the old URL', async () => {
    // Each backoff is an hour: an event that sets its own retry after the change is not sent again within the test.
    const hour = { baseMs: 3_600_000, maxMs: 3_600_000 };
    for (const oldAnswer of [{ status: 500, delayMs: 1_500 }, { status: 410, delayMs: 1_500 }] as const) {
      const old = await FakeReceiver.start();
      const fixed = await FakeReceiver.start();
      try {
        // The old URL answers only after the change has been saved (the attempt is in flight meanwhile).
        old.behaviour = () => oldAnswer;
        const acme = await company({ url: old.url });
        const id = (await recordEvent(sql, { companyId: acme.id, type: 'call.ended', data: {}, orderingKey: 'call-1' }))!;
        startWorker({ backoff: hour, timeoutMs: 5_000 });
        await old.waitForRequests(1);
        await updateWebhookSettings(sql, acme.id, { url: fixed.url });
        await until(`delivered to the new URL after the old one answered ${oldAnswer.status}`, async () => (await statusCounts(acme.id)).delivered === 1, 20_000);
        expect(fixed.delivered().map((r) => r.json!.id)).toEqual([id]);
        // The old attempt is recorded as it went; the event is not dead for it.
        const attempts = await sql<{ url: string; status_code: number | null }[]>`select url, status_code from webhook_attempts where event_id = ${id} order by attempt`;
        expect(attempts).toEqual([{ url: old.url, status_code: oldAnswer.status }, { url: fixed.url, status_code: 200 }]);
      } finally {
        await Promise.all(workers.splice(0).map((w) => w.stop(100)));
        await old.close();
        await fixed.close();
      }
    }
  });

  it('a fixed URL gets the events waiting out their backoff at once, and a removed URL or type skips them at once — not up to an hour later', async () => {
    const fixed = await FakeReceiver.start();
    try {
      // A receiver that failed: each event waits an hour (the backoff's cap) for its next attempt.
      receiver.behaviour = () => ({ status: 404 });
      const acme = await company();
      const ids = [
        (await recordEvent(sql, { companyId: acme.id, type: 'call.ended', data: {}, orderingKey: 'call-1' }))!,
        (await recordEvent(sql, { companyId: acme.id, type: 'call.analyzed', data: {}, orderingKey: 'call-1' }))!,
        (await recordEvent(sql, { companyId: acme.id, type: 'booking.created', data: {} }))!,
      ];
      const hour = { baseMs: 3_600_000, maxMs: 3_600_000 };
      startWorker({ backoff: hour });
      const attempted = async (id: string) => (await sql`select 1 from webhook_events where id = ${id} and attempts = 1 and locked_until is null`).length === 1;
      await until('first attempts failed', async () => (await attempted(ids[0]!)) && (await attempted(ids[2]!)));

      // The developer fixes the URL (a typo in its path): the backlog goes there now, in order.
      await updateWebhookSettings(sql, acme.id, { url: fixed.url });
      await until('delivered to the fixed URL', async () => (await statusCounts(acme.id)).delivered === 3, 20_000);
      expect(fixed.delivered().map((r) => r.json!.id).filter((id) => id !== ids[2])).toEqual([ids[0], ids[1]]);

      // A company that stops receiving a type, or removes its URL: what waited is skipped at once.
      const dropping = await company();
      const unwanted = (await recordEvent(sql, { companyId: dropping.id, type: 'call.ended', data: {} }))!;
      const unaddressed = (await recordEvent(sql, { companyId: dropping.id, type: 'booking.created', data: {} }))!;
      await until('first attempts failed', async () => (await attempted(unwanted)) && (await attempted(unaddressed)));
      await updateWebhookSettings(sql, dropping.id, { events: ['booking.created'] });
      await until('unsubscribed type skipped', async () => (await statusCounts(dropping.id)).skipped === 1, 20_000);
      await updateWebhookSettings(sql, dropping.id, { url: null });
      await until('removed URL skipped', async () => (await statusCounts(dropping.id)).skipped === 2, 20_000);

      // Saving the same settings again changes nothing: a retry waiting out its backoff keeps waiting.
      const same = await company();
      const waiting = (await recordEvent(sql, { companyId: same.id, type: 'call.ended', data: {} }))!;
      await until('first attempt failed', async () => attempted(waiting));
      const before = (await sql<{ next_attempt_at: Date }[]>`select next_attempt_at from webhook_events where id = ${waiting}`)[0]!.next_attempt_at;
      await updateWebhookSettings(sql, same.id, { url: receiver.url, events: [] });
      expect((await sql<{ next_attempt_at: Date }[]>`select next_attempt_at from webhook_events where id = ${waiting}`)[0]!.next_attempt_at).toEqual(before);
    } finally {
      await fixed.close();
    }
  });

  it('a replay of a settled event is out of band: it does not hold back its key\'s live events, which keep their order', async () => {
    const acme = await company();
    const key = 'campaign-1';
    const [old, next, last] = [
      (await recordEvent(sql, { companyId: acme.id, type: 'campaign.attempt.ended', data: { n: 1 }, orderingKey: key }))!,
      (await recordEvent(sql, { companyId: acme.id, type: 'campaign.attempt.ended', data: { n: 2 }, orderingKey: key }))!,
      (await recordEvent(sql, { companyId: acme.id, type: 'campaign.attempt.ended', data: { n: 3 }, orderingKey: key }))!,
    ];
    await sql`update webhook_events set status = 'delivered', attempts = 1, delivered_at = now() where id = ${old}`;
    expect(await replayDelivery(sql, acme.id, old)).toBe(true);
    const claimed = (await claimDueEvents(sql, 100, 60_000)).filter((e) => e.company_id === acme.id).map((e) => e.id);
    expect(claimed.sort()).toEqual([old, next].sort());
    expect(claimed).not.toContain(last);
  });

  it('replayed events of one key keep their order among themselves (by creation), in bulk or one by one, beside the live line', async () => {
    const acme = await company();
    const key = 'call-7';
    const record = async (type: WebhookEventType) => (await recordEvent(sql, { companyId: acme.id, type, data: {}, orderingKey: key }))!;
    const [ended, analyzed, booked] = [await record('call.ended'), await record('call.analyzed'), await record('booking.created')];
    // Each died first in its line (dead events leave their line one by one as they die).
    await sql`update webhook_events set status = 'dead', attempts = 3, waiting_behind = false where id in ${sql([ended, analyzed, booked])}`;
    const live = await record('booking.updated');
    const claimable = async () => {
      const claimed = (await claimDueEvents(sql, 100, 60_000)).filter((e) => e.company_id === acme.id);
      // Given back unattempted, so that each look is the same question.
      await sql`update webhook_events set locked_until = null, claimed_by = null, attempts = attempts - 1 where id in ${sql(claimed.length ? claimed.map((e) => e.id) : [''])}`;
      return claimed;
    };

    expect(await replayDeliveries(sql, acme.id, { status: 'dead', types: [] }, 1000)).toEqual({ replayed: 3, more: false });
    // The replay line sends its oldest first; the live line goes on beside it.
    expect((await claimable()).map((e) => e.id).sort()).toEqual([ended, live].sort());
    expect((await getDelivery(sql, acme.id, analyzed))?.waiting_behind).toBe(ended);
    for (const [head, next] of [[ended, analyzed], [analyzed, booked]] as const) {
      const claimed = (await claimDueEvents(sql, 100, 60_000)).find((e) => e.id === head)!;
      await settleEvent(sql, claimed, { status: 'delivered', statusCode: 200, error: null });
      expect((await claimable()).map((e) => e.id)).toContain(next);
    }

    // One by one, newest first: the older one still goes first.
    await sql`update webhook_events set status = 'dead', locked_until = null, claimed_by = null where id in ${sql([ended, analyzed, booked])}`;
    expect(await replayDelivery(sql, acme.id, booked)).toBe(true);
    expect(await replayDelivery(sql, acme.id, ended)).toBe(true);
    const ids = (await claimable()).map((e) => e.id);
    expect(ids).toContain(ended);
    expect(ids).not.toContain(booked);
  });

  it('an event waiting behind another of its key does not age: when the one ahead dies, it has its own window', async () => {
    const acme = await company();
    const key = 'booking-7';
    const ahead = (await recordEvent(sql, { companyId: acme.id, type: 'booking.created', data: { n: 1 }, orderingKey: key }))!;
    const behind = (await recordEvent(sql, { companyId: acme.id, type: 'booking.updated', data: { n: 2 }, orderingKey: key }))!;
    let behindTries = 0;
    // The receiver refuses the first event for good, and the second once more (it is still recovering), then takes it.
    receiver.behaviour = (r) => (r.json?.id === ahead ? { status: 500 } : r.json?.id === behind && ++behindTries === 1 ? { status: 503 } : { status: 200 });
    startWorker({ maxAgeMs: 3_600_000 });
    await until('retries of the first', async () => (await sql`select 1 from webhook_events where id = ${ahead} and attempts >= 2`).length === 1);
    // Two hours pass for both while the first fails: its deadline is behind it, and the second waited all along.
    await makeOlder([ahead, behind], 2 * 3_600_000);
    await until('both settled', async () => (await statusCounts(acme.id)).pending === undefined);
    const rows = await sql<{ id: string; status: string; last_status_code: number }[]>`
      select id, status, last_status_code from webhook_events where company_id = ${acme.id} order by seq`;
    expect(rows).toEqual([
      { id: ahead, status: 'dead', last_status_code: 500 },
      { id: behind, status: 'delivered', last_status_code: 200 },
    ]);
    expect(behindTries).toBe(2);
  });
});

/**
 * Deliveries cut short by a graceful stop or held by a lost instance are sent again at once, not after their lease
 * (the timeout plus 30 s): a stopping worker gives back the deliveries it aborted, attempt uncounted; a claim's
 * lease records its instance (jobs/lease-owner.ts, as jobs' do) and the leases of an instance known to be lost are
 * taken over. Each event is still delivered once, every send with the same id and a valid signature, so a receiver
 * that saw the cut-short request dedupes the next one.
 */
interface EventRow {
  status: string;
  attempts: number;
  locked_until: Date | null;
  locked_by: string | null;
  claimed_by: string | null;
  due: boolean;
}
const event = async (id: string) =>
  (await sql<EventRow[]>`
    select status, attempts, locked_until, locked_by, claimed_by, next_attempt_at <= now() as due from webhook_events where id = ${id}`)[0]!;
const attemptRows = (id: string) => sql<{ attempt: number; status_code: number | null }[]>`
  select attempt, status_code from webhook_attempts where event_id = ${id} order by id`;

/** An instance row as a server writes it, last heard from `agoMs` ago. */
async function instance(agoMs: number): Promise<string> {
  const id = randomUUID();
  await sql`insert into instances (id, hostname, pid, heartbeat_at) values (${id}, 'test-host', 4242, now() - ${agoMs} * interval '1 millisecond')`;
  return id;
}

/** An event that `owner` claimed (one attempt under way), its lease good for an hour. */
async function heldEvent(companyId: string, owner: string): Promise<string> {
  const id = (await recordEvent(sql, { companyId, type: 'call.started', data: { call_id: randomUUID() } }))!;
  await sql`update webhook_events set attempts = 1, claimed_by = ${randomUUID()}, locked_by = ${owner},
    locked_until = now() + interval '1 hour' where id = ${id}`;
  return id;
}

const judge = (instanceId: string, mayJudge: boolean): LeaseOwner => ({ instanceId, lostAfterMs: 60_000, mayJudgeSilence: () => mayJudge });

describe('webhook deliveries cut short by a stop or a lost instance', () => {
  // Leases of an hour: only a graceful stop's give-back or a lost owner can free an event within the test.
  const held = { timeoutMs: 30_000, leaseMs: 3_600_000 };
  const ownerships: CallOwnership[] = [];
  afterAll(async () => {
    for (const o of ownerships) await o.stop();
  });

  it('a graceful stop gives back the delivery it aborted at once, attempt uncounted; another worker sends it, same id and signature scheme', async () => {
    const acme = await company();
    const first = receiver.requests.length;
    receiver.behaviour = (_r, i) => (i === first ? { hang: true } : { status: 200 });
    const id = (await recordEvent(sql, { companyId: acme.id, type: 'call.ended', data: { call_id: 'c1' }, orderingKey: 'c1' }))!;

    const a = startWorker(held);
    await receiver.waitForRequests(first + 1);
    await a.stop(0); // past its grace: the hanging request is aborted
    expect(await event(id)).toEqual({ status: 'pending', attempts: 0, locked_until: null, locked_by: null, claimed_by: null, due: true });
    expect(await attemptRows(id)).toEqual([]);

    startWorker(held);
    await until('delivered', async () => (await event(id)).status === 'delivered');
    expect(await event(id)).toMatchObject({ attempts: 1, locked_until: null });
    expect(await attemptRows(id)).toEqual([{ attempt: 1, status_code: 200 }]);
    // The receiver saw the cut-short request and the delivery: one id, one body, each signed with the company's secret.
    const got = receiver.requests.slice(first).filter((r) => r.json?.id === id);
    expect(got.map((r) => r.headers['webhook-id'])).toEqual([id, id]);
    expect(new Set(got.map((r) => r.body)).size).toBe(1);
    for (const r of got) {
      const headers = { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) };
      expect(verifySignature(acme.secret, headers, r.body)).toBe(true);
    }
    expect(receiver.delivered().filter((r) => r.json?.id === id)).toHaveLength(1);
  });

  it('a stop gives back only what it cut short: the next event of the key still waits its turn, and nothing is sent twice', async () => {
    const acme = await company();
    const first = receiver.requests.length;
    receiver.behaviour = (_r, i) => (i === first ? { hang: true } : { status: 200 });
    const ended = (await recordEvent(sql, { companyId: acme.id, type: 'call.ended', data: { call_id: 'c2' }, orderingKey: 'c2' }))!;
    const analyzed = (await recordEvent(sql, { companyId: acme.id, type: 'call.analyzed', data: { call_id: 'c2' }, orderingKey: 'c2' }))!;

    const a = startWorker(held);
    await receiver.waitForRequests(first + 1);
    await a.stop(0);
    expect(await event(ended)).toMatchObject({ status: 'pending', attempts: 0, locked_until: null });
    expect(await event(analyzed)).toMatchObject({ status: 'pending', attempts: 0, locked_until: null });

    startWorker(held);
    await until('both delivered', async () => (await event(analyzed)).status === 'delivered');
    const delivered = receiver.delivered().filter((r) => r.json?.company_id === acme.id).map((r) => r.json!.id);
    expect(delivered).toEqual([ended, analyzed]);
  });

  it('claims at once the deliveries of an instance that is lost (silent, or its row gone), never those of one alive or its own', async () => {
    const acme = await company();
    const me = await instance(0);
    const dead = await heldEvent(acme.id, await instance(10 * 60_000));
    const vanished = await heldEvent(acme.id, randomUUID());
    const alive = await heldEvent(acme.id, await instance(0));
    const mine = await heldEvent(acme.id, me);
    const ours = async (owner: LeaseOwner) => (await claimDueEvents(sql, 100, 60_000, {}, owner)).filter((e) => e.company_id === acme.id);

    // Until this instance may judge others' silence (it has itself reached the database for lostAfterMs), nothing.
    expect(await ours(judge(me, false))).toEqual([]);

    const claimed = await ours(judge(me, true));
    expect(claimed.map((e) => e.id).sort()).toEqual([dead, vanished].sort());
    expect(await event(dead)).toMatchObject({ attempts: 2, locked_by: me });
    expect(await event(alive)).toMatchObject({ attempts: 1 });
    expect(await event(mine)).toMatchObject({ attempts: 1 });
    // A taken-over claim is one that ended unsettled: its lease is reported as such.
    expect(claimed.every((e) => e.unsettled_lease_until !== null)).toBe(true);
    expect(await ours(judge(me, true))).toEqual([]);
  });

  it('a restarted server takes over its crashed predecessor\'s delivery promptly, and sends it once with the same id', async () => {
    const acme = await company();
    const first = receiver.requests.length;
    const predecessor = await instance(10 * 60_000); // crashed mid-delivery: its heartbeat stopped
    const id = await heldEvent(acme.id, predecessor);
    const ownership = new CallOwnership(sql, { info: () => {}, warn: () => {} }, { heartbeatMs: 50, lostAfterMs: 300, sweepEveryMs: 0 });
    ownerships.push(ownership);
    await ownership.start({ sweep: false });

    startWorker({ ...held, owner: ownership });
    await until('delivered', async () => (await event(id)).status === 'delivered');
    expect(await event(id)).toMatchObject({ attempts: 2, locked_by: null });
    expect(receiver.requests.slice(first).filter((r) => r.json?.company_id === acme.id).map((r) => r.headers['webhook-id'])).toEqual([id]);
  });
});
