/**
 * Web calls are bounded per company: open ones (tokens minted and not used yet included) may not exceed
 * WEB_CALLS_MAX_ACTIVE_PER_COMPANY (429 beyond, other companies unaffected), as outbound calls are bounded by theirs.
 * And the sweep that cancels abandoned ones works in short batches: a backlog of expired tokens never becomes one
 * long transaction (on PGlite, the only connection every call shares).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webCallRoutes } from '../../src/api/routes/web-calls.js';
import { closeAbandonedWebCalls } from '../../src/telephony/web/tokens.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ tenantRoutes: (db, config) => [webCallRoutes({ sql: db.sql, publicOrigin: config.PUBLIC_URL, tokenTtlSec: 60, maxActivePerCompany: 3 })] });
});
afterAll(async () => t.close());

async function companyWithBot(name: string) {
  const c = await t.createCompany(name);
  const bot = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(c.apiKey), payload: botBody() });
  return { ...c, botId: (bot.json() as { id: string }).id };
}
const mint = (c: { apiKey: string; botId: string }) => t.app.inject({ method: 'POST', url: `/v1/bots/${c.botId}/web-calls`, headers: t.as(c.apiKey) });

describe('web calls per company', () => {
  it('a fourth open web call is a 429; another company is not affected; an ended call frees its place', async () => {
    const a = await companyWithBot('A');
    const b = await companyWithBot('B');
    const minted = await Promise.all([mint(a), mint(a), mint(a), mint(a), mint(a)]);
    expect(minted.map((r) => r.statusCode).sort()).toEqual([201, 201, 201, 429, 429]);
    const refused = minted.find((r) => r.statusCode === 429)!;
    expect((refused.json() as { error: { code: string } }).error.code).toBe('PARLEY_ERR_RATE_LIMITED');
    expect((await mint(b)).statusCode).toBe(201);
    // One of A's tokens expires unused: the sweep cancels its call, and A may open another.
    const first = (minted.find((r) => r.statusCode === 201)!.json() as { call_id: string }).call_id;
    await t.db.sql`update web_call_tokens set expires_at = now() - interval '1 second' where call_id = ${first}`;
    expect(await closeAbandonedWebCalls(t.db.sql)).toBe(1);
    expect((await mint(a)).statusCode).toBe(201);
  });

  it('the sweep cancels a backlog of expired tokens in batches, every one of them', async () => {
    const companies = await Promise.all([1, 2, 3].map((i) => companyWithBot(`S${i}`)));
    const calls: string[] = [];
    for (const c of companies) for (let i = 0; i < 3; i++) calls.push((((await mint(c)).json()) as { call_id: string }).call_id);
    await t.db.sql`update web_call_tokens set expires_at = now() - interval '1 second' where call_id = any(${calls}::uuid[])`;
    expect(await closeAbandonedWebCalls(t.db.sql, 2)).toBe(9);
    const rows = await t.db.sql<{ status: string }[]>`select status from calls where id = any(${calls}::uuid[])`;
    expect(rows.map((r) => r.status)).toEqual(Array(9).fill('canceled'));
    expect(await t.db.sql`select 1 from web_call_tokens where call_id = any(${calls}::uuid[])`).toHaveLength(0);
  });
});
