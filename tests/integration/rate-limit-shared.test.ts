/**
 * The /v1 rate limit is one budget per company however many processes serve it: two apps on one database (two
 * processes of PROCESSES=2, or two instances) count together. Each counting alone let a company through twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

const LIMIT = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the rate limit across processes', () => {
  let db: TestDatabase;
  let first: TestApp;
  let second: TestApp;
  beforeAll(async () => {
    db = await createTestDb();
    const env = { RATE_LIMIT_PER_MIN: String(LIMIT) };
    first = await createTestApp({ db, env, sharedRateLimits: true });
    second = await createTestApp({ db, env, sharedRateLimits: true });
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
    await db?.close();
  });

  it('lets a company through RATE_LIMIT_PER_MIN requests a minute in all, whichever process takes each', async () => {
    const { apiKey } = await first.createCompany('Busy');
    const { apiKey: otherKey } = await first.createCompany('Quiet');
    // The window is the clock's minute: start well inside one.
    if (new Date().getSeconds() >= 50) await sleep((61 - new Date().getSeconds()) * 1000);
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 2; i++) {
      const app = i % 2 === 0 ? first : second;
      statuses.push((await app.app.inject({ method: 'GET', url: '/v1/bots', headers: app.as(apiKey) })).statusCode);
    }
    expect(statuses).toEqual([...Array(LIMIT).fill(200), 429, 429]);
    const refused = await second.app.inject({ method: 'GET', url: '/v1/bots', headers: second.as(apiKey) });
    expect(refused.json().error.code).toBe('PARLEY_ERR_RATE_LIMITED');
    // Another company's budget is its own.
    expect((await second.app.inject({ method: 'GET', url: '/v1/bots', headers: second.as(otherKey) })).statusCode).toBe(200);
  });
});
