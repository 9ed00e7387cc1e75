/**
 * One tenant's malformed requests must never disturb another tenant's: malformed and valid requests of two
 * companies run in parallel, on both databases, and every valid response must carry its own tenant's rows,
 * every malformed one a 4xx, and the database must still answer afterwards.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/api/schemas.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

/** JSON text of an object nested `depth` levels deep (built as text: JSON.stringify itself overflows on it). */
function nestedJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}{"leaf":true}${'}'.repeat(depth)}`;
}

/** A bot body whose config carries `nestedJson(depth)` where the schema allows free-form JSON. */
function deepBotJson(depth: number, body: Record<string, unknown> = botBody()): string {
  const config = JSON.stringify({ ...(body.config as object), outcomes: { extractionSchema: { type: 'object', properties: { x: '@@' } } } });
  return JSON.stringify({ ...body, config: '@@config' }).replace('"@@config"', config).replace('"@@"', nestedJson(depth));
}

/** Requests that once reached postgres.js with values it could not serialise, or that the server refused with a 500. */
function malformedRequests(botId: string): { method: 'GET' | 'POST' | 'PATCH'; url: string; payload?: unknown }[] {
  return [
    { method: 'GET', url: `/v1/calls?cursor=${encodeCursor('calls', ['garbage', randomUUID()])}` },
    { method: 'GET', url: `/v1/calls?cursor=${encodeCursor('calls', ['2026-01-01T00:00:00Z', 'not-a-uuid'])}` },
    { method: 'GET', url: `/v1/calls?cursor=${Buffer.from('[12,{"a":1}]').toString('base64url')}` },
    { method: 'GET', url: `/v1/calls?cursor=${Buffer.from('{"a":').toString('base64url')}` },
    { method: 'GET', url: '/v1/calls?from=0000-01-01T00:00:00Z' },
    { method: 'GET', url: '/v1/calls?to=0000-12-31T00:00:00Z' },
    { method: 'GET', url: `/v1/bookings?cursor=${encodeCursor('bookings', ['garbage'])}` },
    { method: 'GET', url: '/v1/bookings?from=0000-01-01T00:00:00Z' },
    { method: 'GET', url: `/v1/webhooks/deliveries?cursor=${encodeCursor('webhook_deliveries', [1e300])}` },
    { method: 'POST', url: '/v1/bots', payload: deepBotJson(5_000) },
    { method: 'PATCH', url: `/v1/bots/${botId}`, payload: deepBotJson(5_000, { config: botBody().config }) },
    { method: 'POST', url: '/v1/bots', payload: deepBotJson(100_000) },
    { method: 'POST', url: '/v1/bots', payload: botBody({ name: 'nul\u0000name' }) },
    { method: 'PATCH', url: `/v1/bots/${botId}`, payload: { name: 'a\u0000b' } },
    { method: 'POST', url: '/v1/api-keys', payload: { name: 'k\u0000' } },
  ];
}

describe('tenant isolation under malformed input', () => {
  let t: TestApp;
  let a: { companyId: string; apiKey: string };
  let b: { companyId: string; apiKey: string };
  let aBot: string;
  let bBot: string;

  beforeAll(async () => {
    const { bookingRoutes } = await import('../../src/api/routes/bookings.js');
    const { webhookRoutes } = await import('../../src/api/routes/webhooks.js');
    const { createBookingService } = await import('../../src/bookings/service.js');
    t = await createTestApp({
      env: { RATE_LIMIT_PER_MIN: '100000' },
      tenantRoutes: (db) => [
        bookingRoutes({ sql: db.sql, bookings: createBookingService({ holdSec: 300 }) }),
        webhookRoutes({ sql: db.sql, delivery: { timeoutMs: 1000, allowHttp: true, allowPrivate: true } }),
      ],
    });
    a = await t.createCompany('Alpha');
    b = await t.createCompany('Beta');
    aBot = (await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(a.apiKey), payload: botBody({ name: 'Alpha bot' }) })).json().id;
    bBot = (await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(b.apiKey), payload: botBody({ name: 'Beta bot' }) })).json().id;
  });
  afterAll(async () => t.close());

  it('answers every malformed request with a 4xx and every valid one with its own tenant’s rows', async () => {
    const bad = malformedRequests(aBot);
    const jobs: Promise<void>[] = [];
    const failures: string[] = [];
    for (let round = 0; round < 6; round++) {
      for (const m of bad) {
        jobs.push(
          t.app.inject({ method: m.method, url: m.url, headers: { ...t.as(a.apiKey), 'content-type': 'application/json' }, ...(m.payload !== undefined ? { payload: typeof m.payload === 'string' ? m.payload : JSON.stringify(m.payload) } : {}) })
            .then((res) => {
              if (res.statusCode < 400 || res.statusCode >= 500) failures.push(`${m.method} ${m.url.slice(0, 80)} → ${res.statusCode} ${res.body.slice(0, 120)}`);
            }),
        );
      }
      for (const [who, bot, botName] of [[a, aBot, 'Alpha bot'], [b, bBot, 'Beta bot']] as const) {
        jobs.push(
          t.app.inject({ method: 'GET', url: '/v1/company', headers: t.as(who.apiKey) }).then((res) => {
            if (res.statusCode !== 200 || res.json().id !== who.companyId) failures.push(`company of ${who.companyId} → ${res.statusCode} ${res.body.slice(0, 120)}`);
          }),
          t.app.inject({ method: 'GET', url: '/v1/bots', headers: t.as(who.apiKey) }).then((res) => {
            const ids = res.statusCode === 200 ? (res.json().data as { id: string }[]).map((x) => x.id) : [];
            if (ids.length !== 1 || ids[0] !== bot) failures.push(`bots of ${who.companyId} → ${res.statusCode} ${res.body.slice(0, 120)}`);
          }),
          t.app.inject({ method: 'GET', url: `/v1/bots/${bot}`, headers: t.as(who.apiKey) }).then((res) => {
            if (res.statusCode !== 200 || res.json().name !== botName) failures.push(`bot ${bot} → ${res.statusCode} ${res.body.slice(0, 120)}`);
          }),
          t.app.inject({ method: 'GET', url: '/v1/calls', headers: t.as(who.apiKey) }).then((res) => {
            if (res.statusCode !== 200) failures.push(`calls of ${who.companyId} → ${res.statusCode}`);
          }),
        );
      }
    }
    await Promise.all(jobs);
    expect(failures).toEqual([]);

    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    const after = await t.app.inject({ method: 'GET', url: '/v1/company', headers: t.as(b.apiKey) });
    expect(after.json().id).toBe(b.companyId);
  });

  it('refuses a JSON body nested deeper than the limit before it is parsed into the route', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: { ...t.as(a.apiKey), 'content-type': 'application/json' }, payload: deepBotJson(100) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/nested/i);
  });
});
