import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryCounter } from '../../src/api/rate-limit-store.js';
import { webhookRoutes } from '../../src/api/routes/webhooks.js';
import { DEFAULT_TEST_EVENT_LIMITS } from '../../src/webhooks/test-event-limits.js';
import { recordEvent } from '../../src/webhooks/emit.js';
import { DEFAULT_BACKOFF } from '../../src/webhooks/retry-policy.js';
import { validateWebhookUrl } from '../../src/webhooks/url-guard.js';
import { WebhookWorker } from '../../src/webhooks/worker.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { FakeReceiver } from '../fakes/fakeReceiver.js';

let t: TestApp;
let receiver: FakeReceiver;
const delivery = { timeoutMs: 500, allowHttp: true, allowPrivate: true };
const frozenMinute = Date.now();

beforeAll(async () => {
  receiver = await FakeReceiver.start();
  t = await createTestApp({
    // Test events are counted in a minute that never ends while the file runs (the clock's minute could turn mid-test).
    tenantRoutes: (db) => [webhookRoutes({ sql: db.sql, delivery, testCounter: memoryCounter(() => frozenMinute) })],
    validateWebhookUrl: async (url) => {
      await validateWebhookUrl(url, { allowHttp: true, allowPrivate: false });
    },
  });
});
afterAll(async () => {
  await t.close();
  await receiver.close();
});

async function companyWithUrl() {
  const c = await t.createCompany();
  await t.db.sql`update companies set webhook_url = ${receiver.url} where id = ${c.companyId}`;
  return c;
}

describe('webhook routes', () => {
  it('the settings route refuses private webhook URLs through the exported guard', async () => {
    const c = await t.createCompany();
    for (const method of ['PUT', 'PATCH'] as const) {
      const res = await t.app.inject({ method, url: '/v1/company/webhook', headers: t.as(c.apiKey), payload: { url: 'http://169.254.169.254/latest' } });
      expect(res.statusCode, method).toBe(400);
      expect(res.json().error.code).toBe('PARLEY_ERR_UNSAFE_URL');
    }
  });

  it('POST /v1/webhooks/test sends a signed test event now and reports the attempt', async () => {
    const c = await companyWithUrl();
    receiver.behaviour = () => ({ status: 200 });
    const res = await t.app.inject({ method: 'POST', url: '/v1/webhooks/test', headers: t.as(c.apiKey) });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ delivered: true, status_code: 200, error: null, url: receiver.url });
    const got = receiver.requests.at(-1)!;
    expect(got.json).toMatchObject({ id: body.event_id, type: 'webhook.test', version: 1, company_id: c.companyId });
    const [row] = await t.db.sql<{ webhook_secret: string }[]>`select webhook_secret from companies where id = ${c.companyId}`;
    const secret = row!.webhook_secret;
    const h = { 'webhook-id': String(got.headers['webhook-id']), 'webhook-timestamp': String(got.headers['webhook-timestamp']), 'webhook-signature': String(got.headers['webhook-signature']) };
    expect(() => new Webhook(secret).verify(got.body, h)).not.toThrow();

    receiver.behaviour = () => ({ status: 503 });
    const failed = (await t.app.inject({ method: 'POST', url: '/v1/webhooks/test', headers: t.as(c.apiKey) })).json();
    expect(failed).toMatchObject({ delivered: false, status_code: 503, error: 'HTTP 503' });

    const noUrl = await t.createCompany();
    const bad = await t.app.inject({ method: 'POST', url: '/v1/webhooks/test', headers: t.as(noUrl.apiKey) });
    expect(bad.statusCode).toBe(400);
  });

  it('POST /v1/webhooks/test is bounded per company, at once and per minute: 429 naming the limit, with Retry-After', async () => {
    const c = await companyWithUrl();
    const other = await companyWithUrl();
    const test = (apiKey: string) => t.app.inject({ method: 'POST', url: '/v1/webhooks/test', headers: t.as(apiKey) });
    const { concurrent, perMinute } = DEFAULT_TEST_EVENT_LIMITS;
    expect(concurrent).toBe(1);

    // One in flight (the receiver holds it until the timeout): the next is refused, another company's is not.
    receiver.behaviour = () => ({ hang: true });
    const before = receiver.requests.length;
    const first = test(c.apiKey);
    await receiver.waitForRequests(before + 1);
    const busy = await test(c.apiKey);
    expect(busy.statusCode).toBe(429);
    expect(busy.json().error).toMatchObject({ code: 'PARLEY_ERR_RATE_LIMITED', details: { limit: 'concurrent', max: 1 } });
    expect(busy.json().error.message).toContain('1 at once');
    expect(Number(busy.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    receiver.behaviour = () => ({ status: 200 });
    expect((await test(other.apiKey)).statusCode).toBe(200);
    expect((await first).statusCode).toBe(200);

    // The minute's allowance: the refused one above did not count; the one past it is refused until the minute ends.
    for (let i = 1; i < perMinute; i++) expect((await test(c.apiKey)).statusCode, `test ${i + 1}`).toBe(200);
    const sent = receiver.requests.length;
    const over = await test(c.apiKey);
    expect(over.statusCode).toBe(429);
    expect(over.json().error).toMatchObject({ code: 'PARLEY_ERR_RATE_LIMITED', details: { limit: 'per_minute', max: perMinute } });
    expect(over.json().error.message).toContain(`${perMinute} per minute`);
    const retryAfter = Number(over.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(receiver.requests.length).toBe(sent);
    expect((await test(other.apiKey)).statusCode).toBe(200);
  });

  it('shows the webhook URL (a setting, perhaps with the receiver\'s token) only to keys with settings:read', async () => {
    const c = await t.createCompany();
    const url = `${receiver.url}/hooks/tok-123?token=receiver-secret`;
    await t.db.sql`update companies set webhook_url = ${url} where id = ${c.companyId}`;
    receiver.behaviour = () => ({ status: 200 });
    const key = async (scopes: string[]) =>
      (await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(c.apiKey), payload: { name: scopes.join(' '), scopes } })).json().key as string;
    const webhooksOnly = await key(['webhooks:read', 'webhooks:write']);
    const withSettings = await key(['webhooks:read', 'settings:read']);

    const test = (await t.app.inject({ method: 'POST', url: '/v1/webhooks/test', headers: t.as(webhooksOnly) })).json();
    expect(test.url).toBe(`${new URL(receiver.url).origin}/…`);
    const listed = (await t.app.inject({ method: 'GET', url: '/v1/webhooks/deliveries', headers: t.as(webhooksOnly) })).json();
    expect(JSON.stringify(listed)).not.toContain('receiver-secret');
    expect(JSON.stringify(listed)).not.toContain('tok-123');
    expect(listed.data[0].attempts[0].url).toBe(`${new URL(receiver.url).origin}/…`);
    const full = (await t.app.inject({ method: 'GET', url: `/v1/webhooks/deliveries/${listed.data[0].id}`, headers: t.as(withSettings) })).json();
    expect(full.attempts[0].url).toBe(url);
  });

  it('lists deliveries with attempts, filters and cursor pagination; get one; another company gets 404', async () => {
    const c = await companyWithUrl();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await recordEvent(t.db.sql, { companyId: c.companyId, type: i % 2 ? 'booking.created' : 'call.ended', data: { i } }))!);
    receiver.behaviour = (r) => (r.json?.data?.i === 0 ? { status: 500 } : { status: 200 });
    const worker = new WebhookWorker(t.db.sql, { ...delivery, maxAgeMs: 60_000, pollMs: 20, backoff: { baseMs: 60_000, maxMs: 60_000 } });
    worker.start();
    for (let i = 0; i < 2400; i++) {
      const rows = await t.db.sql`select 1 from webhook_events where company_id = ${c.companyId} and attempts > 0 and locked_until is null`;
      if (rows.length === 5) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await worker.stop();

    const page1 = (await t.app.inject({ url: '/v1/webhooks/deliveries?limit=3', headers: t.as(c.apiKey) })).json();
    expect(page1.data.map((d: { id: string }) => d.id)).toEqual([ids[4], ids[3], ids[2]]);
    expect(page1.next_cursor).toBeTruthy();
    const page2 = (await t.app.inject({ url: `/v1/webhooks/deliveries?limit=3&cursor=${page1.next_cursor}`, headers: t.as(c.apiKey) })).json();
    expect(page2.data.map((d: { id: string }) => d.id)).toEqual([ids[1], ids[0]]);
    expect(page2.next_cursor).toBeNull();

    const failing = page2.data[1];
    expect(failing).toMatchObject({ status: 'pending', attempt_count: 1, last_status_code: 500, payload: { id: ids[0], type: 'call.ended', data: { i: 0 } } });
    expect(failing.attempts).toEqual([expect.objectContaining({ attempt: 1, status_code: 500, url: receiver.url, error: 'HTTP 500' })]);

    const booked = (await t.app.inject({ url: '/v1/webhooks/deliveries?type=booking.created', headers: t.as(c.apiKey) })).json();
    expect(booked.data.map((d: { id: string }) => d.id).sort()).toEqual([ids[1], ids[3]].sort());
    const pending = (await t.app.inject({ url: '/v1/webhooks/deliveries?status=pending', headers: t.as(c.apiKey) })).json();
    expect(pending.data.map((d: { id: string }) => d.id)).toEqual([ids[0]]);

    const one = await t.app.inject({ url: `/v1/webhooks/deliveries/${ids[2]}`, headers: t.as(c.apiKey) });
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({ id: ids[2], status: 'delivered', attempt_count: 1 });

    const other = await t.createCompany();
    expect((await t.app.inject({ url: `/v1/webhooks/deliveries/${ids[2]}`, headers: t.as(other.apiKey) })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'POST', url: `/v1/webhooks/deliveries/${ids[2]}/replay`, headers: t.as(other.apiKey) })).statusCode).toBe(404);
    expect((await t.app.inject({ url: '/v1/webhooks/deliveries', headers: t.as(other.apiKey) })).json().data).toEqual([]);
    expect((await t.app.inject({ url: '/v1/webhooks/deliveries?cursor=nope', headers: t.as(c.apiKey) })).statusCode).toBe(400);
  });

  it('replay sends a delivered event again with the same id', async () => {
    const c = await companyWithUrl();
    receiver.behaviour = () => ({ status: 200 });
    const id = (await recordEvent(t.db.sql, { companyId: c.companyId, type: 'knowledge.ready', data: { document_id: 'd' } }))!;
    const worker = new WebhookWorker(t.db.sql, { ...delivery, maxAgeMs: 60_000, pollMs: 20 });
    worker.start();
    const waitDelivered = async (n: number) => {
      for (let i = 0; i < 2400 && receiver.requests.filter((r) => r.json?.id === id).length < n; i++) await new Promise((r) => setTimeout(r, 25));
    };
    await waitDelivered(1);
    const res = await t.app.inject({ method: 'POST', url: `/v1/webhooks/deliveries/${id}/replay`, headers: t.as(c.apiKey) });
    expect(res.statusCode).toBe(202);
    await waitDelivered(2);
    await worker.stop();
    const sent = receiver.requests.filter((r) => r.json?.id === id);
    expect(sent.map((r) => r.headers['webhook-id'])).toEqual([id, id]);
    const d = (await t.app.inject({ url: `/v1/webhooks/deliveries/${id}`, headers: t.as(c.apiKey) })).json();
    expect(d).toMatchObject({ status: 'delivered', attempt_count: 2 });
    expect(d.attempts).toHaveLength(2);
  });

  it('an event waiting behind an earlier one of its key says so: which event it waits for, and no past next_attempt_at', async () => {
    const c = await companyWithUrl();
    const head = (await recordEvent(t.db.sql, { companyId: c.companyId, type: 'call.ended', data: {}, orderingKey: 'call-9' }))!;
    const behind = (await recordEvent(t.db.sql, { companyId: c.companyId, type: 'call.analyzed', data: {}, orderingKey: 'call-9' }))!;
    const loose = (await recordEvent(t.db.sql, { companyId: c.companyId, type: 'knowledge.ready', data: {} }))!;
    // The head failed and waits out its backoff; the one behind has never been tried.
    await t.db.sql`update webhook_events set attempts = 1, last_status_code = 503, next_attempt_at = now() + interval '1 hour' where id = ${head}`;
    await t.db.sql`update webhook_events set created_at = created_at - interval '3 hours', next_attempt_at = next_attempt_at - interval '3 hours' where id = ${behind}`;

    const get = async (id: string) => (await t.app.inject({ url: `/v1/webhooks/deliveries/${id}`, headers: t.as(c.apiKey) })).json();
    expect(await get(behind)).toMatchObject({ status: 'pending', attempt_count: 0, waiting_behind: head, next_attempt_at: null });
    expect(await get(head)).toMatchObject({ status: 'pending', waiting_behind: null });
    expect(new Date((await get(head)).next_attempt_at).getTime()).toBeGreaterThan(Date.now());
    expect(await get(loose)).toMatchObject({ waiting_behind: null });
    const listed = (await t.app.inject({ url: '/v1/webhooks/deliveries?status=pending', headers: t.as(c.apiKey) })).json();
    expect(listed.data.find((d: { id: string }) => d.id === behind)).toMatchObject({ waiting_behind: head, next_attempt_at: null });

    // Once the head has settled, the next is first in line: due, waiting for nothing.
    await t.db.sql`update webhook_events set status = 'delivered', delivered_at = now() where id = ${head}`;
    const next = await get(behind);
    expect(next.waiting_behind).toBeNull();
    expect(next.next_attempt_at).not.toBeNull();
    await t.db.sql`update webhook_events set status = 'delivered' where id in ${t.db.sql([behind, loose])}`;
  });

  it('replay of an event the company would not receive now (no URL, or its type unsubscribed) is a 409 saying why, not a 202 then skipped', async () => {
    const c = await companyWithUrl();
    const id = (await recordEvent(t.db.sql, { companyId: c.companyId, type: 'call.ended', data: {} }))!;
    await t.db.sql`update webhook_events set status = 'skipped', last_error = 'no webhook URL configured' where id = ${id}`;
    const replay = () => t.app.inject({ method: 'POST', url: `/v1/webhooks/deliveries/${id}/replay`, headers: t.as(c.apiKey) });
    const status = async () => (await t.db.sql<{ status: string }[]>`select status from webhook_events where id = ${id}`)[0]!.status;

    await t.db.sql`update companies set webhook_url = null where id = ${c.companyId}`;
    const noUrl = await replay();
    expect(noUrl.statusCode).toBe(409);
    expect(noUrl.json().error.message).toMatch(/no webhook URL/i);
    expect(await status()).toBe('skipped');

    await t.db.sql`update companies set webhook_url = ${receiver.url}, webhook_events = ${['booking.created']} where id = ${c.companyId}`;
    const unsubscribed = await replay();
    expect(unsubscribed.statusCode).toBe(409);
    expect(unsubscribed.json().error.message).toContain('call.ended');
    expect(await status()).toBe('skipped');

    await t.db.sql`update companies set webhook_events = ${['call.ended']} where id = ${c.companyId}`;
    expect((await replay()).statusCode).toBe(202);
    expect(await status()).toBe('pending');
  });

  it('after a long outage the dead deliveries are replayed in bounded batches, not one request each; only the company\'s own', async () => {
    const c = await companyWithUrl();
    const other = await companyWithUrl();
    const dead = async (companyId: string, type: 'call.ended' | 'booking.created', hoursAgo: number) => {
      const id = (await recordEvent(t.db.sql, { companyId, type, data: {} }))!;
      await t.db.sql`update webhook_events set status = 'dead', attempts = 30, last_status_code = 503,
        created_at = now() - ${hoursAgo} * interval '1 hour' where id = ${id}`;
      return id;
    };
    const old = await dead(c.companyId, 'call.ended', 50);
    const recent = [await dead(c.companyId, 'call.ended', 30), await dead(c.companyId, 'booking.created', 29), await dead(c.companyId, 'call.ended', 28)];
    const theirs = await dead(other.companyId, 'call.ended', 30);
    const delivered = (await recordEvent(t.db.sql, { companyId: c.companyId, type: 'call.ended', data: {} }))!;
    await t.db.sql`update webhook_events set status = 'delivered' where id = ${delivered}`;
    const statusOf = async (id: string) => (await t.db.sql<{ status: string }[]>`select status from webhook_events where id = ${id}`)[0]!.status;
    const bulk = (payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/v1/webhooks/deliveries/replay', headers: t.as(c.apiKey), payload });

    const since = new Date(Date.now() - 40 * 3_600_000).toISOString();
    const first = await bulk({ status: 'dead', since, limit: 2 });
    expect(first.statusCode).toBe(202);
    expect(first.json()).toEqual({ replayed: 2, more: true });
    const second = await bulk({ status: 'dead', since, limit: 2 });
    expect(second.json()).toEqual({ replayed: 1, more: false });
    for (const id of recent) expect(await statusOf(id)).toBe('pending');
    expect(await statusOf(old)).toBe('dead'); // before `since`
    expect(await statusOf(theirs)).toBe('dead'); // another company's
    expect(await statusOf(delivered)).toBe('delivered');
    const replayed = (await t.app.inject({ url: `/v1/webhooks/deliveries/${recent[0]}`, headers: t.as(c.apiKey) })).json();
    expect(replayed).toMatchObject({ status: 'pending', attempt_count: 30, waiting_behind: null });

    // Filtered by type; nothing left is 0; bad input is a 400; with no URL it is a 409, as a single replay.
    expect((await bulk({ status: 'dead', type: 'call.ended' })).json()).toEqual({ replayed: 1, more: false });
    expect((await bulk({ status: 'dead' })).json()).toEqual({ replayed: 0, more: false });
    expect((await bulk({ status: 'delivered' })).statusCode).toBe(400);
    expect((await bulk({ status: 'dead', limit: 100_000 })).statusCode).toBe(400);
    expect((await bulk({ status: 'dead', since: 'yesterday' })).statusCode).toBe(400);
    await t.db.sql`update companies set webhook_url = null where id = ${c.companyId}`;
    expect((await bulk({ status: 'dead' })).statusCode).toBe(409);
    await t.db.sql`update webhook_events set status = 'delivered' where company_id in ${t.db.sql([c.companyId, other.companyId])}`;
  });

  it('replay of a dead event starts its retry schedule over, and its earlier attempts stay listed', async () => {
    const c = await companyWithUrl();
    const id = (await recordEvent(t.db.sql, { companyId: c.companyId, type: 'booking.created', data: { booking_id: 'b' } }))!;
    // Dead after a day of 21 refused attempts (the last backoffs were an hour).
    await t.db.sql`update webhook_events set status = 'dead', attempts = 21, last_status_code = 500, last_error = 'HTTP 500' where id = ${id}`;
    await t.db.sql`
      insert into webhook_attempts (event_id, company_id, attempt, url, status_code, latency_ms, error)
      select ${id}, ${c.companyId}, n, ${receiver.url}, 500, 5, 'HTTP 500' from generate_series(1, 21) n`;
    const replayed = await t.app.inject({ method: 'POST', url: `/v1/webhooks/deliveries/${id}/replay`, headers: t.as(c.apiKey) });
    expect(replayed.statusCode).toBe(202);
    expect(replayed.json()).toMatchObject({ status: 'pending', attempt_count: 21 });

    receiver.behaviour = () => ({ status: 500 });
    // The default schedule, its jitter at the top: the first retry after the replay is due 5 s after it fails.
    const worker = new WebhookWorker(t.db.sql, { ...delivery, maxAgeMs: 24 * 3_600_000, pollMs: 20, backoff: DEFAULT_BACKOFF, random: () => 1 });
    worker.start();
    for (let i = 0; i < 2400; i++) {
      if ((await t.db.sql`select 1 from webhook_events where id = ${id} and attempts = 22 and locked_until is null`).length === 1) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await worker.stop();
    const [row] = await t.db.sql<{ status: string; wait_ms: number }[]>`
      select e.status, extract(epoch from e.next_attempt_at - a.created_at) * 1000 as wait_ms
      from webhook_events e join webhook_attempts a on a.event_id = e.id and a.attempt = 22 where e.id = ${id}`;
    expect(row!.status).toBe('pending');
    expect(Number(row!.wait_ms)).toBeLessThan(2 * DEFAULT_BACKOFF.baseMs); // the first step (5 s), not the hour of a 22nd attempt
    const d = (await t.app.inject({ url: `/v1/webhooks/deliveries/${id}`, headers: t.as(c.apiKey) })).json();
    expect(d.attempt_count).toBe(22);
    expect(d.attempts.map((a: { attempt: number }) => a.attempt)).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
  });
});
