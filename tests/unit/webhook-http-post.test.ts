import { lookup } from 'node:dns/promises';
import type { Agent } from 'node:http';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRetryAfter, WebhookHttpClient } from '../../src/webhooks/http-post.js';
import { DEFAULT_BACKOFF, isPermanentFailure, retryDelayMs } from '../../src/webhooks/retry-policy.js';
import { blockedAddressReason } from '../../src/webhooks/url-guard.js';
import { FakeReceiver } from '../fakes/fakeReceiver.js';
import { until } from '../helpers/until.js';

describe('WebhookHttpClient', () => {
  let receiver: FakeReceiver;
  const open = new WebhookHttpClient({ timeoutMs: 300, allowHttp: true, allowPrivate: true });
  const guarded = new WebhookHttpClient({ timeoutMs: 300, allowHttp: true, allowPrivate: false });

  beforeAll(async () => {
    receiver = await FakeReceiver.start();
  });
  afterAll(async () => {
    open.close();
    guarded.close();
    await receiver.close();
  });

  it('refuses, at connect time, a hostname that resolves to a private address (DNS rebinding)', async () => {
    const host = hostname();
    const { address } = await lookup(host);
    expect(blockedAddressReason(address)).not.toBeNull(); // precondition: this machine's name is local
    const before = receiver.requests.length;
    const url = receiver.url.replace('127.0.0.1', host);
    const r = await guarded.post(url, {}, '{}');
    expect(r.statusCode).toBeNull();
    expect(r.error).toMatch(/refused to connect/);
    expect(receiver.requests.length).toBe(before);
    // The same URL is fine when private addresses are allowed.
    receiver.behaviour = () => ({ status: 204 });
    expect((await open.post(url, {}, '{}')).statusCode).toBe(204);
  });

  it('refuses IP-literal private hosts and plain http when not allowed', async () => {
    expect((await guarded.post(receiver.url, {}, '{}')).error).toMatch(/loopback/);
    const httpsOnly = new WebhookHttpClient({ timeoutMs: 300, allowHttp: false, allowPrivate: true });
    expect((await httpsOnly.post(receiver.url, {}, '{}')).error).toMatch(/not allowed/);
    httpsOnly.close();
  });

  it('does not follow redirects', async () => {
    receiver.behaviour = () => ({ status: 302, headers: { location: 'http://169.254.169.254/latest' } });
    const before = receiver.requests.length;
    const r = await open.post(receiver.url, {}, '{}');
    expect(r.statusCode).toBe(302);
    expect(r.error).toBe('HTTP 302');
    expect(receiver.requests.length).toBe(before + 1);
  });

  it('reads at most 64 KiB of a large answer and keeps a short excerpt', async () => {
    receiver.behaviour = () => ({ status: 200, body: 'x'.repeat(2_000_000) });
    const r = await open.post(receiver.url, {}, '{}');
    expect(r.statusCode).toBe(200);
    expect(r.error).toBeNull();
    expect(r.responseExcerpt!.length).toBeLessThanOrEqual(1024);
  });

  it('a 2xx is accepted when its status arrives, though its body never ends; another status whose body hangs keeps its status', async () => {
    receiver.behaviour = () => ({ status: 200, body: 'accepted', bodyNeverEnds: true });
    const accepted = await open.post(receiver.url, {}, '{}');
    expect(accepted).toMatchObject({ statusCode: 200, error: null });
    receiver.behaviour = () => ({ status: 503, headers: { 'retry-after': '7' }, body: 'busy', bodyNeverEnds: true });
    const refused = await open.post(receiver.url, {}, '{}');
    expect(refused).toMatchObject({ statusCode: 503, error: 'HTTP 503', retryAfterMs: 7000 });
  });

  it('an abort after the answer came keeps the answer: a stopping worker records it rather than sending the event again', async () => {
    const client = new WebhookHttpClient({ timeoutMs: 60_000, allowHttp: true, allowPrivate: true });
    receiver.behaviour = () => ({ status: 503, body: 'busy', bodyNeverEnds: true });
    const stop = new AbortController();
    const answer = client.post(receiver.url, {}, '{}', stop.signal);
    // Bytes read on the socket: the status line and headers are parsed in the same turn, so the answer is in.
    const agent = (client as unknown as { httpAgent: Agent }).httpAgent;
    await until(() => Object.values(agent.sockets).flat().some((s) => (s?.bytesRead ?? 0) > 0));
    stop.abort();
    expect(await answer).toMatchObject({ statusCode: 503, error: 'HTTP 503' });
    client.close();
  });

  it('times out a slow receiver and reports Retry-After', async () => {
    receiver.behaviour = () => ({ hang: true });
    const slow = await open.post(receiver.url, {}, '{}');
    expect(slow.statusCode).toBeNull();
    expect(slow.error).toMatch(/timed out/);
    receiver.behaviour = () => ({ status: 429, headers: { 'retry-after': '7' } });
    const limited = await open.post(receiver.url, {}, '{}');
    expect(limited.statusCode).toBe(429);
    expect(limited.retryAfterMs).toBe(7000);
  });
});

describe('retry policy', () => {
  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('120')).toBe(120_000);
    expect(parseRetryAfter(new Date(10_000 + 30_000).toUTCString(), 10_000)).toBe(30_000);
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter(undefined)).toBeNull();
  });

  it('backs off exponentially with jitter, capped, and honours a longer Retry-After', () => {
    const opts = { baseMs: 1000, maxMs: 60_000 };
    expect(retryDelayMs(1, null, opts, () => 0)).toBe(500);
    expect(retryDelayMs(1, null, opts, () => 1)).toBe(1000);
    expect(retryDelayMs(4, null, opts, () => 1)).toBe(8000);
    expect(retryDelayMs(30, null, opts, () => 1)).toBe(60_000);
    expect(retryDelayMs(1, 20_000, opts, () => 1)).toBe(20_000);
    expect(retryDelayMs(1, 10 ** 12, DEFAULT_BACKOFF, () => 1)).toBe(DEFAULT_BACKOFF.maxRetryAfterMs);
  });

  it('only 410 Gone is permanent', () => {
    expect(isPermanentFailure(410)).toBe(true);
    for (const s of [400, 401, 404, 408, 429, 500, 503, null]) expect(isPermanentFailure(s)).toBe(false);
  });

  it('the default schedule retries for about a day within WEBHOOK_MAX_AGE_HOURS=24', () => {
    let total = 0;
    let n = 0;
    while (total < 24 * 3600_000) total += retryDelayMs(++n, null, DEFAULT_BACKOFF, () => 1);
    expect(n).toBeGreaterThan(20);
  });
});
