import Fastify from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installHealthRoutes } from '../../src/api/health.js';
import type { RootSql } from '../../src/db/sql.js';

/** A stand-in for postgres.js whose queries answer, hang or fail as the test says. */
function fakeSql() {
  const state = { mode: 'ok' as 'ok' | 'hang' | 'fail' };
  const sql = ((strings: TemplateStringsArray) => {
    if (state.mode === 'hang') return new Promise(() => {});
    if (state.mode === 'fail') return Promise.reject(new Error('connection refused'));
    return Promise.resolve(strings.join('').includes('schema_migrations') ? [] : [{ ok: 1 }]);
  }) as unknown as RootSql;
  return { sql, state };
}

describe('health probes and a database that stops answering', () => {
  let app: ReturnType<typeof Fastify> | undefined;
  afterEach(async () => app?.close());

  it('/readyz answers 503 within its timeout when a query hangs, instead of hanging itself', async () => {
    const { sql, state } = fakeSql();
    app = Fastify();
    installHealthRoutes(app, sql, { pingEveryMs: 60_000, timeoutMs: 50, wedgedAfterMs: 60_000 });
    // Read the migration files first (once per process): on a busy machine that read alone can take longer than
    // the 50 ms budget, and this test is about the database's answer, not the disk's.
    // (The stand-in has no migrations applied: once the files are read and it answered, /readyz says so.)
    await vi.waitFor(async () => expect((await app!.inject({ method: 'GET', url: '/readyz' })).json().status).toBe('migrations pending'), { timeout: 10_000, interval: 20 });
    state.mode = 'hang';
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json().status).toBe('database not answering');
    state.mode = 'fail';
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json().status).toBe('database unreachable');
  });

  it('/healthz turns 503 once no database round trip has succeeded for wedgedAfterMs, and recovers', async () => {
    const { sql, state } = fakeSql();
    app = Fastify();
    installHealthRoutes(app, sql, { pingEveryMs: 10, timeoutMs: 20, wedgedAfterMs: 100 });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    state.mode = 'hang';
    await vi.waitFor(async () => {
      const res = await app!.inject({ method: 'GET', url: '/healthz' });
      expect(res.statusCode).toBe(503);
      expect(res.json().status).toBe('database not answering');
    }, { timeout: 5_000, interval: 20 });
    state.mode = 'ok';
    await vi.waitFor(async () => {
      expect((await app!.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    }, { timeout: 5_000, interval: 20 });
  });

  it('with a PostgreSQL server (not in the process), /healthz stays 200 through its outage; /readyz says it', async () => {
    const { sql, state } = fakeSql();
    app = Fastify();
    installHealthRoutes(app, sql, { pingEveryMs: 10, timeoutMs: 20, wedgedAfterMs: 100, databaseInProcess: false });
    state.mode = 'fail';
    await new Promise((r) => setTimeout(r, 300));
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
  });
});
