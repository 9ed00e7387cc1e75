/**
 * Repeated authentication failures (wrong API keys, wrong admin token) from one client IP are throttled: after
 * AUTH_FAILURES_PER_MIN 401s the client gets 429 with Retry-After for every /v1 request — valid credentials
 * included, so the throttle is no oracle — while other clients go on. The structure behind it stays bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthFailureThrottle, clientKey } from '../../src/api/auth.js';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';

const WRONG_KEY = 'pk_0123abcd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

describe('auth failure throttle (default AUTH_FAILURES_PER_MIN)', () => {
  let t: TestApp;
  let apiKey: string;

  beforeAll(async () => {
    t = await createTestApp();
    ({ apiKey } = await t.createCompany());
  });
  afterAll(async () => t.close());

  const get = (url: string, authorization: string, ip: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'GET', url, remoteAddress: ip, headers: { authorization, ...headers } });

  it('answers 429 with Retry-After after 20 wrong API keys from one IP, for every request from it', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 30; i++) codes.push((await get('/v1/bots', `Bearer ${WRONG_KEY}`, '203.0.113.10')).statusCode);
    expect(codes.filter((c) => c === 401)).toHaveLength(20);
    expect(codes.slice(20)).toEqual(new Array(10).fill(429));

    const limited = await get('/v1/bots', `Bearer ${WRONG_KEY}`, '203.0.113.10');
    expect(limited.json()).toMatchObject({ error: { code: 'PARLEY_ERR_RATE_LIMITED' } });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // A valid key from the throttled address is refused too: 200 vs 429 would tell a guess was right.
    expect((await get('/v1/bots', `Bearer ${apiKey}`, '203.0.113.10')).statusCode).toBe(429);
    // So is a spoofed X-Forwarded-For from an untrusted peer.
    expect((await get('/v1/bots', `Bearer ${apiKey}`, '203.0.113.10', { 'x-forwarded-for': '198.51.100.1' })).statusCode).toBe(429);
    // Other clients are unaffected.
    expect((await get('/v1/bots', `Bearer ${apiKey}`, '203.0.113.11')).statusCode).toBe(200);
    expect((await get('/v1/bots', `Bearer ${WRONG_KEY}`, '203.0.113.11')).statusCode).toBe(401);
  });

  it('throttles wrong admin tokens the same way', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 25; i++) codes.push((await get('/v1/admin/companies', 'Bearer not-the-admin-token-0123456789abcdef', '203.0.113.20')).statusCode);
    expect(codes.filter((c) => c === 401)).toHaveLength(20);
    expect(codes.slice(20)).toEqual(new Array(5).fill(429));
    expect((await get('/v1/admin/companies', `Bearer ${ADMIN_TOKEN}`, '203.0.113.20')).statusCode).toBe(429);
    expect((await get('/v1/admin/companies', `Bearer ${ADMIN_TOKEN}`, '203.0.113.21')).statusCode).toBe(200);
  });

  it('counts the clients of a trusted proxy (loopback) by X-Forwarded-For', async () => {
    for (let i = 0; i < 20; i++) expect((await get('/v1/bots', 'Bearer nope', '127.0.0.1', { 'x-forwarded-for': '198.51.100.30' })).statusCode).toBe(401);
    expect((await get('/v1/bots', 'Bearer nope', '127.0.0.1', { 'x-forwarded-for': '198.51.100.30' })).statusCode).toBe(429);
    expect((await get('/v1/bots', `Bearer ${apiKey}`, '127.0.0.1', { 'x-forwarded-for': '198.51.100.31' })).statusCode).toBe(200);
  });
});

describe('AuthFailureThrottle', () => {
  it('blocks after maxFailures within the window, and lets go when it ends', () => {
    let now = 1_000_000;
    const th = new AuthFailureThrottle({ maxFailures: 3, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 2; i++) th.recordFailure('198.51.100.1');
    expect(th.blockedFor('198.51.100.1')).toBe(0);
    th.recordFailure('198.51.100.1');
    expect(th.blockedFor('198.51.100.1')).toBe(60_000);
    now += 59_000;
    expect(th.blockedFor('198.51.100.1')).toBe(1_000);
    now += 1_000;
    expect(th.blockedFor('198.51.100.1')).toBe(0);
    th.recordFailure('198.51.100.1'); // a new window
    expect(th.blockedFor('198.51.100.1')).toBe(0);
  });

  it('stays bounded under a flood of addresses', () => {
    let now = 0;
    const th = new AuthFailureThrottle({ maxFailures: 3, windowMs: 60_000, maxClients: 100, now: () => now });
    for (let i = 0; i < 100_000; i++) {
      th.recordFailure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      if (i % 1000 === 0) now += 1;
    }
    expect(th.size).toBeLessThanOrEqual(100);
    // Expired windows are dropped before live ones.
    now += 120_000;
    for (let i = 0; i < 3; i++) th.recordFailure('198.51.100.9');
    expect(th.size).toBe(1);
    expect(th.blockedFor('198.51.100.9')).toBeGreaterThan(0);
  });

  it('counts IPv6 clients per /64 and IPv4-mapped addresses as IPv4', () => {
    const th = new AuthFailureThrottle({ maxFailures: 3, windowMs: 60_000 });
    th.recordFailure('2001:db8:1:2::1');
    th.recordFailure('2001:db8:1:2:aaaa:bbbb:cccc:dddd');
    th.recordFailure('2001:0db8:0001:0002::ffff');
    expect(th.blockedFor('2001:db8:1:2::42')).toBeGreaterThan(0);
    expect(th.blockedFor('2001:db8:1:3::1')).toBe(0);
    expect(clientKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
  });
});
