/**
 * The failed-authentication throttle is one budget per client IP however many processes serve it: two apps on one
 * database (two processes of PROCESSES=2, or two instances behind a load balancer) count a client's 401s together,
 * and a restarted one remembers them. Each counting alone let a guesser through AUTH_FAILURES_PER_MIN times the
 * number of processes, and anew after every restart. The count is in the database; each process remembers the
 * block it learns from its own 401's count, so another process lets at most one more attempt through.
 *
 * The server counts in the database on PostgreSQL (sharedRateLimits); the apps here are set the same way on either
 * database of the suite, so the shared path runs in both runs.
 */
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthFailureThrottle } from '../../src/api/auth.js';
import { installErrorHandler } from '../../src/api/error-handler.js';
import type { SharedCounter } from '../../src/api/rate-limit-store.js';
import { ParleyError } from '../../src/errors.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';

const LIMIT = 5;
const WRONG_KEY = 'pk_0123abcd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const WRONG_ADMIN = 'Bearer not-the-admin-token-0123456789abcdef';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the failed-authentication throttle across processes', () => {
  let db: TestDatabase;
  let first: TestApp;
  let second: TestApp;
  let apiKey: string;
  const opened: TestApp[] = [];
  const openApp = async () => {
    const app = await createTestApp({ db, env: { AUTH_FAILURES_PER_MIN: String(LIMIT) }, sharedRateLimits: true });
    opened.push(app);
    return app;
  };

  beforeAll(async () => {
    db = await createTestDb();
    first = await openApp();
    second = await openApp();
    ({ apiKey } = await first.createCompany());
    // The shared window is the clock's minute: start well inside one (the file takes a second or two).
    if (new Date().getSeconds() >= 50) await sleep((61 - new Date().getSeconds()) * 1000);
  });
  afterAll(async () => {
    for (const app of opened) await app.close();
    await db?.close();
  });

  const attempt = async (t: TestApp, ip: string, url = '/v1/bots', authorization = `Bearer ${WRONG_KEY}`) =>
    (await t.app.inject({ method: 'GET', url, remoteAddress: ip, headers: { authorization } })).statusCode;

  /** Wrong attempts from `ips` (in turn) on `apps` (in turn) until every app answers 429: the 401s they allowed. */
  async function guessUntilAllRefuse(apps: TestApp[], ips: string[], urls: string[] = ['/v1/bots']): Promise<number> {
    let allowed = 0;
    const refusing = new Set<TestApp>();
    for (let i = 0; refusing.size < apps.length && i < LIMIT * apps.length * 4; i++) {
      const app = apps[i % apps.length]!;
      const url = urls[i % urls.length]!;
      const status = await attempt(app, ips[i % ips.length]!, url, url.startsWith('/v1/admin') ? WRONG_ADMIN : `Bearer ${WRONG_KEY}`);
      if (status === 401) allowed++;
      else if (status === 429) refusing.add(app);
      else throw new Error(`unexpected ${status}`);
    }
    expect(refusing.size).toBe(apps.length);
    return allowed;
  }

  it('lets a client AUTH_FAILURES_PER_MIN failures in all, plus at most one per other process, whichever takes each', async () => {
    const allowed = await guessUntilAllRefuse([first, second], ['203.0.113.40']);
    expect(allowed).toBeGreaterThanOrEqual(LIMIT);
    expect(allowed).toBeLessThanOrEqual(LIMIT + 1);
    // Refused everywhere now, valid credentials included; another client is not.
    for (const t of [first, second]) expect(await attempt(t, '203.0.113.40', '/v1/bots', `Bearer ${apiKey}`)).toBe(429);
    expect(await attempt(second, '203.0.113.41', '/v1/bots', `Bearer ${apiKey}`)).toBe(200);
  });

  it('counts wrong admin tokens and wrong API keys together, and an IPv6 client per /64, across processes', async () => {
    const ips = ['2001:db8:7:7::1', '2001:db8:7:7:aaaa::2', '2001:db8:7:7:ffff:1:2:3'];
    const allowed = await guessUntilAllRefuse([first, second], ips, ['/v1/admin/companies', '/v1/bots', '/v1/bots']);
    expect(allowed).toBeLessThanOrEqual(LIMIT + 1);
    expect(await attempt(first, '2001:db8:7:7::99', '/v1/admin/companies', `Bearer ${ADMIN_TOKEN}`)).toBe(429);
    expect(await attempt(second, '2001:db8:7:8::1', '/v1/admin/companies', `Bearer ${ADMIN_TOKEN}`)).toBe(200);
  });

  it('a restarted process remembers: it lets at most one more attempt through', async () => {
    for (let i = 0; i < LIMIT; i++) expect(await attempt(first, '203.0.113.50')).toBe(401);
    expect(await attempt(first, '203.0.113.50')).toBe(429);
    const restarted = await openApp();
    expect(await guessUntilAllRefuse([restarted], ['203.0.113.50'])).toBeLessThanOrEqual(1);
    expect(await attempt(restarted, '203.0.113.50', '/v1/bots', `Bearer ${apiKey}`)).toBe(429);
  });
});

describe('a shared count that fails', () => {
  /** A /v1-like app whose every request is a 401, throttled by `throttle`; its warnings and notes collected. */
  async function appWith(throttle: AuthFailureThrottle) {
    const logged: { level: string; msg: string }[] = [];
    const note = (level: string) => (...args: unknown[]) => {
      logged.push({ level, msg: String(args.find((a) => typeof a === 'string')) });
    };
    const log = { level: 'info', fatal: note('fatal'), error: note('error'), warn: note('warn'), info: note('info'), debug: () => {}, trace: () => {}, silent: () => {} } as unknown as FastifyBaseLogger;
    (log as unknown as { child: () => FastifyBaseLogger }).child = () => log;
    const app = Fastify({ loggerInstance: log });
    installErrorHandler(app);
    app.addHook('onRequest', throttle.onRequest);
    app.addHook('onSend', throttle.onSend);
    app.get('/v1/bots', async () => {
      throw new ParleyError('PARLEY_ERR_UNAUTHORIZED', 'Missing or invalid API key');
    });
    await app.ready();
    const status = async () => (await app.inject({ method: 'GET', url: '/v1/bots', remoteAddress: '198.51.100.60' })).statusCode;
    return { app, logged, status };
  }

  it('leaves a 401 a 401, counts it in this process instead, and says so once per outage', async () => {
    let down = true;
    let hits = 0;
    const shared: SharedCounter = async (_key, windowMs) => {
      if (down) throw new Error('connection refused');
      return { hits: ++hits, resetAt: Date.now() - (Date.now() % windowMs) + windowMs };
    };
    const { app, logged, status } = await appWith(new AuthFailureThrottle({ maxFailures: 3, windowMs: 60_000, shared }));
    try {
      expect([await status(), await status()]).toEqual([401, 401]);
      down = false;
      // The database's count (1) does not undo the two counted here meanwhile…
      expect(await status()).toBe(401);
      down = true;
      // …so the next failure is the third.
      expect([await status(), await status()]).toEqual([401, 429]);
      const said = logged.filter((l) => /database/.test(l.msg));
      expect(said.map((l) => l.level)).toEqual(['warn', 'info', 'warn']);
    } finally {
      await app.close();
    }
  });
});
