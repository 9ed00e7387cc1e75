/**
 * The database going away is a 503 the client may retry, not a 500 "internal error" logged as a server bug:
 * postgres.js's connection errors, the socket's, and PostgreSQL shutting down (SQLSTATE 08xxx, 57P01–57P03).
 */
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { installErrorHandler } from '../../src/api/error-handler.js';
import { QueryDeadlineError } from '../../src/db/param-guard.js';

describe('a request whose database is unreachable', () => {
  it.each(['ECONNREFUSED', 'CONNECTION_CLOSED', 'CONNECT_TIMEOUT', '57P01', '08006'])('%s is a 503', async (code) => {
    const app = Fastify({ logger: false });
    installErrorHandler(app);
    app.get('/x', async () => {
      throw Object.assign(new Error(`database: ${code}`), { code });
    });
    const res = await app.inject({ url: '/x' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: { code: 'PARLEY_ERR_UNAVAILABLE', message: 'The database is unavailable; retry shortly' } });
    await app.close();
  });

  // The database answered other queries fine: a deadline cut this request's work. Its 503 says so, not "unavailable".
  it.each([
    ['the query deadline', new QueryDeadlineError(5000)],
    ['the server\'s statement_timeout', Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })],
  ])('a query cut by %s is a 503 that says the work did not finish in time', async (_what, error) => {
    const app = Fastify({ logger: false });
    installErrorHandler(app);
    app.get('/x', async () => {
      throw error;
    });
    const res = await app.inject({ url: '/x' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: { code: 'PARLEY_ERR_UNAVAILABLE', message: 'The database did not finish this request\'s work within the time allowed; retry later' } });
    await app.close();
  });

  it('a bug is still a 500', async () => {
    const app = Fastify({ logger: false });
    installErrorHandler(app);
    app.get('/x', async () => {
      throw new TypeError('x is undefined');
    });
    expect((await app.inject({ url: '/x' })).statusCode).toBe(500);
    await app.close();
  });
});
