/**
 * A database out of resources (SQLSTATE class 53: disk full, out of memory, too many connections) is an outage,
 * not a bug: requests answer 503 PARLEY_ERR_UNAVAILABLE, the error is logged once per interval rather than per
 * request, and /readyz says "not ready" for a while, since its own read-only check still passes on a full disk.
 */
import Fastify from 'fastify';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installErrorHandler } from '../../src/api/error-handler.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

const diskFull = () => Object.assign(new Error('could not extend file "base/5/16384": No space left on device'), { code: '53100' });

describe('SQLSTATE class 53 in a request', () => {
  it('answers 503 PARLEY_ERR_UNAVAILABLE, and logs it once for many requests', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const stream = new Writable({ write: (chunk: Buffer, _enc, done) => { lines.push(JSON.parse(chunk.toString())); done(); } });
    const app = Fastify({ logger: { level: 'info', stream } });
    installErrorHandler(app);
    app.post('/write', async () => { throw diskFull(); });
    try {
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await app.inject({ method: 'POST', url: '/write' }));
      for (const res of answers) {
        expect(res.statusCode).toBe(503);
        expect(res.json().error.code).toBe('PARLEY_ERR_UNAVAILABLE');
        expect(res.json().error.message).toMatch(/out of resources/);
      }
      expect(lines.filter((l) => l.level >= 50)).toHaveLength(1);
    } finally {
      await app.close();
    }
  });
});

describe('/readyz after a class-53 error', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  }, 60_000);
  afterAll(async () => t?.close());

  it('is 503 once a query has met one', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    // The server's own error, as a full disk raises it (reads keep working).
    await expect(t.db.sql`do $$ begin raise exception 'could not extend file' using errcode = '53100'; end $$`).rejects.toMatchObject({ code: '53100' });
    const res = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'database out of resources' });
  });
});
