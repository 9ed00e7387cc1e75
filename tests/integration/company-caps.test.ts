/**
 * What one company may keep, so that no tenant's storage grows without bound: unrevoked API keys, campaigns not yet
 * ended, contacts per campaign. Each limit is a 409 naming the setting and how to get back under it (revoke a key,
 * cancel a campaign, start another campaign): only what the API can also revoke or end is capped. Two requests at
 * once cannot both take the last place (counted under a row lock).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignRoutes } from '../../src/api/routes/campaigns.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

const ALWAYS = [{ days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '23:59' }];

describe('per-company caps', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      env: { API_KEYS_MAX_PER_COMPANY: '3', RATE_LIMIT_PER_MIN: '100000' },
      tenantRoutes: (db) => [campaignRoutes({ sql: db.sql, dialingAvailable: true, maxOpenPerCompany: 2, maxContacts: 5 })],
    });
  });
  afterAll(async () => t?.close());

  const newKey = (apiKey: string, name: string) =>
    t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(apiKey), payload: { name, scopes: ['calls:read'] } });

  it('API keys: the one past API_KEYS_MAX_PER_COMPANY is 409 (of two at once, one passes); revoking one frees its place', async () => {
    const c = await t.createCompany(); // its first key is one of the three
    expect((await newKey(c.apiKey, 'second')).statusCode).toBe(201);
    const both = await Promise.all([newKey(c.apiKey, 'third a'), newKey(c.apiKey, 'third b')]);
    expect(both.map((r) => r.statusCode).sort()).toEqual([201, 409]);
    const refused = both.find((r) => r.statusCode === 409)!;
    expect(refused.json().error.message).toMatch(/API_KEYS_MAX_PER_COMPANY.*revoke/);
    const third = both.find((r) => r.statusCode === 201)!.json() as { id: string };
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${third.id}`, headers: t.as(c.apiKey) })).statusCode).toBe(200);
    expect((await newKey(c.apiKey, 'after the revoke')).statusCode).toBe(201);
    // Another company's keys are its own.
    const other = await t.createCompany();
    expect((await newKey(other.apiKey, 'other')).statusCode).toBe(201);
  });

  it('campaigns: the one past CAMPAIGNS_MAX_OPEN_PER_COMPANY not yet ended is 409; cancelling one frees its place', async () => {
    const c = await t.createCompany();
    const bot = (await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(c.apiKey), payload: botBody() })).json() as { id: string };
    const create = (name: string) =>
      t.app.inject({ method: 'POST', url: '/v1/campaigns', headers: t.as(c.apiKey), payload: { bot_id: bot.id, name, windows: ALWAYS } });
    const first = await create('One');
    expect(first.statusCode).toBe(201);
    expect((await create('Two')).statusCode).toBe(201);
    const third = await create('Three');
    expect(third.statusCode).toBe(409);
    expect(third.json().error.message).toMatch(/CAMPAIGNS_MAX_OPEN_PER_COMPANY.*cancel/);
    expect((await t.app.inject({ method: 'POST', url: `/v1/campaigns/${first.json().id}/cancel`, headers: t.as(c.apiKey) })).statusCode).toBe(200);
    expect((await create('Three, after a cancel')).statusCode).toBe(201);
  });

  it('contacts: an upload that would take a campaign past CAMPAIGN_CONTACTS_MAX is 409 and adds nothing', async () => {
    const c = await t.createCompany();
    const bot = (await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(c.apiKey), payload: botBody() })).json() as { id: string };
    const campaign = (await t.app.inject({ method: 'POST', url: '/v1/campaigns', headers: t.as(c.apiKey), payload: { bot_id: bot.id, name: 'Full', windows: ALWAYS } })).json() as { id: string };
    const upload = (from: number, n: number) => t.app.inject({
      method: 'POST', url: `/v1/campaigns/${campaign.id}/contacts`, headers: t.as(c.apiKey),
      payload: { contacts: Array.from({ length: n }, (_, i) => ({ phone: `+1312555${String(from + i).padStart(4, '0')}` })) },
    });
    expect((await upload(0, 3)).json()).toMatchObject({ added: 3 });
    const over = await upload(10, 3);
    expect(over.statusCode).toBe(409);
    expect(over.json().error.message).toMatch(/CAMPAIGN_CONTACTS_MAX.*another campaign/);
    const [held] = await t.db.sql<{ n: number }[]>`select count(*)::int as n from campaign_contacts where campaign_id = ${campaign.id}`;
    expect(held!.n).toBe(3);
    expect((await upload(20, 2)).json()).toMatchObject({ added: 2 });
  });
});
