/**
 * a key hands out only what it holds (create and revoke), and every tenant read needs a scope —
 * listing keys needs keys:read, the company record (with its webhook URL) settings:read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyPluginAsync } from 'fastify';
import { bookingRoutes } from '../../src/api/routes/bookings.js';
import { campaignRoutes } from '../../src/api/routes/campaigns.js';
import { knowledgeRoutes } from '../../src/api/routes/knowledge.js';
import { outboundCallRoutes } from '../../src/api/routes/outbound-calls.js';
import { webCallRoutes } from '../../src/api/routes/web-calls.js';
import { webhookRoutes } from '../../src/api/routes/webhooks.js';
import { canGrant } from '../../src/api/auth.js';
import { ROUTE_SCOPES, SCOPES } from '../../src/api/scopes.js';
import { createBookingService } from '../../src/bookings/service.js';
import { knowledgeHarness } from '../fixtures/knowledge/kb.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

describe('API key scopes', () => {
  let t: TestApp;
  let root: string; // the company's first key: '*'
  let companyId: string;
  /** Every tenant route the app registered (the server's feature routes besides the account routes), with its scope. */
  const routes: { method: string; url: string; scope: string }[] = [];
  const collecting = (plugin: FastifyPluginAsync): FastifyPluginAsync => async (app) => {
    app.addHook('onRoute', (r) => {
      for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url, scope: (r.config as { scope: string }).scope });
    });
    await app.register(plugin);
  };

  beforeAll(async () => {
    t = await createTestApp({
      env: { RATE_LIMIT_PER_MIN: '100000' },
      tenantRoutes: (db, config) => {
        const kb = knowledgeHarness(db.sql, { maxUploadBytes: config.UPLOAD_MAX_BYTES });
        return [
          bookingRoutes({ sql: db.sql, bookings: createBookingService({ holdSec: 300 }) }),
          knowledgeRoutes({ sql: db.sql, store: kb.store, retriever: kb.retriever, maxUploadBytes: config.UPLOAD_MAX_BYTES, onEnqueued: () => {} }),
          webCallRoutes({ sql: db.sql, publicOrigin: config.PUBLIC_URL, tokenTtlSec: config.WEB_CALL_TOKEN_TTL_SEC }),
          outboundCallRoutes({ sql: db.sql, dialer: null }),
          campaignRoutes({ sql: db.sql, dialingAvailable: false }),
          webhookRoutes({ sql: db.sql, delivery: { timeoutMs: 1000, allowHttp: false, allowPrivate: false } }),
        ];
      },
      wrapTenantRoute: collecting,
    });
    ({ apiKey: root, companyId } = await t.createCompany('Alpha'));
    await t.app.inject({ method: 'PUT', url: '/v1/company/webhook', headers: t.as(root), payload: { url: 'https://hooks.example.com/secret-path' } });
  });
  afterAll(async () => t.close());

  const req = (apiKey: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: t.as(apiKey), ...(payload !== undefined ? { payload: payload as object } : {}) });
  /** A new key with exactly these scopes, minted by the '*' key. */
  const keyWith = async (scopes: string[], extra: Record<string, unknown> = {}) => {
    const res = await req(root, 'POST', '/v1/api-keys', { name: scopes.join(' '), scopes, ...extra });
    expect(res.statusCode).toBe(201);
    return res.json() as { id: string; key: string; scopes: string[]; expires_at: string | null };
  };
  const keyCount = async () => ((await t.db.sql`select count(*)::int as n from api_keys where company_id = ${companyId}`)[0]!.n as number);

  describe('creating keys', () => {
    it('keys:write alone cannot mint a * key, nor any scope it lacks; nothing is created', async () => {
      const writer = await keyWith(['keys:write']);
      const before = await keyCount();
      for (const scopes of [['*'], ['calls:read'], ['keys:read'], ['keys:*'], ['keys:write', 'bots:write'], ['settings:read']]) {
        const res = await req(writer.key, 'POST', '/v1/api-keys', { name: 'escalate', scopes });
        expect(res.statusCode, JSON.stringify(scopes)).toBe(403);
        expect(res.json().error.code).toBe('PARLEY_ERR_FORBIDDEN');
        expect(res.json().error.message).toContain('cannot grant');
        expect(res.json().error.details.scopes).toEqual(scopes.filter((s) => s !== 'keys:write'));
      }
      expect(await keyCount()).toBe(before);
      // The reads the escalated key would have made stay closed to the writer.
      expect((await req(writer.key, 'GET', '/v1/calls')).statusCode).toBe(403);

      // What it holds, it may grant; with no scopes given, a new key gets the creator's own scopes (not '*').
      const same = await req(writer.key, 'POST', '/v1/api-keys', { name: 'peer', scopes: ['keys:write'] });
      expect(same.statusCode).toBe(201);
      const defaulted = await req(writer.key, 'POST', '/v1/api-keys', { name: 'default scopes' });
      expect(defaulted.statusCode).toBe(201);
      expect(defaulted.json().scopes).toEqual(['keys:write']);
      expect((await req(defaulted.json().key, 'GET', '/v1/calls')).statusCode).toBe(403);
    });

    it('resource wildcards: granted only by that wildcard or *', async () => {
      const botsAll = await keyWith(['bots:*', 'keys:write']);
      for (const scopes of [['bots:read'], ['bots:write'], ['bots:*'], ['bots:read', 'keys:write']]) {
        expect((await req(botsAll.key, 'POST', '/v1/api-keys', { name: 'ok', scopes })).statusCode, JSON.stringify(scopes)).toBe(201);
      }
      for (const scopes of [['*'], ['calls:*'], ['keys:*'], ['calls:read']]) {
        expect((await req(botsAll.key, 'POST', '/v1/api-keys', { name: 'no', scopes })).statusCode, JSON.stringify(scopes)).toBe(403);
      }
      // Holding bots:read and bots:write is not holding bots:* (a wildcard also covers actions added later).
      const both = await keyWith(['bots:read', 'bots:write', 'keys:write']);
      expect((await req(both.key, 'POST', '/v1/api-keys', { name: 'no', scopes: ['bots:*'] })).statusCode).toBe(403);
      expect((await req(both.key, 'POST', '/v1/api-keys', { name: 'ok', scopes: ['bots:read', 'bots:write'] })).statusCode).toBe(201);
      // '*' grants anything.
      for (const scopes of [['*'], ['calls:*'], SCOPES.filter((s) => s !== '*')]) {
        expect((await req(root, 'POST', '/v1/api-keys', { name: 'root grants', scopes })).statusCode).toBe(201);
      }
    });

    it('only scopes some route checks can be granted: analytics:write and its like are a 400, and nothing is created', async () => {
      const before = await keyCount();
      for (const scope of ['analytics:write', 'usage:write', 'audit:write', 'export:write', 'recordings:write', 'bots:delete']) {
        const res = await req(root, 'POST', '/v1/api-keys', { name: 'no such scope', scopes: ['calls:read', scope] });
        expect(res.statusCode, scope).toBe(400);
        expect(res.json().error.details.field).toBe('body.scopes.1');
        expect(res.json().error.message).toContain('must be one of: *, bots:read');
      }
      expect(await keyCount()).toBe(before);
      // Their resources' wildcards stay: analytics:* is analytics:read.
      const analyticsAll = await keyWith(['analytics:*']);
      expect((await req(analyticsAll.key, 'GET', '/v1/analytics?from=2026-01-01&to=2026-01-02')).statusCode).toBe(200);
    });

    it('the rule itself: canGrant', () => {
      expect(canGrant(['*'], '*')).toBe(true);
      expect(canGrant(['keys:write'], '*')).toBe(false);
      expect(canGrant(['keys:*'], '*')).toBe(false);
      expect(canGrant(['bots:*'], 'bots:read')).toBe(true);
      expect(canGrant(['bots:read'], 'bots:*')).toBe(false);
      expect(canGrant(['bots:read'], 'bots:read')).toBe(true);
      expect(canGrant(['bots:read'], 'calls:read')).toBe(false);
      expect(canGrant(['bots:read'], 'nonsense')).toBe(false);
    });

    it('a key cannot outlive the key that creates it', async () => {
      const expires = new Date(Date.now() + 3_600_000);
      const shortLived = await keyWith(['keys:write', 'calls:read'], { expires_at: expires.toISOString() });
      const inherits = await req(shortLived.key, 'POST', '/v1/api-keys', { name: 'child', scopes: ['calls:read'] });
      expect(inherits.statusCode).toBe(201);
      expect(new Date(inherits.json().expires_at).getTime()).toBe(new Date(shortLived.expires_at!).getTime());
      const longer = await req(shortLived.key, 'POST', '/v1/api-keys', { name: 'child', scopes: ['calls:read'], expires_at: new Date(expires.getTime() + 60_000).toISOString() });
      expect(longer.statusCode).toBe(403);
      expect(longer.json().error.details.field).toBe('body.expires_at');
      const shorter = await req(shortLived.key, 'POST', '/v1/api-keys', { name: 'child', scopes: ['calls:read'], expires_at: new Date(expires.getTime() - 60_000).toISOString() });
      expect(shorter.statusCode).toBe(201);
      // A key without expiry may still mint one that never expires.
      expect((await req(root, 'POST', '/v1/api-keys', { name: 'forever' })).json().expires_at).toBeNull();
    });
  });

  describe('reads need their scope', () => {
    it('calls:read cannot list keys nor read the company record with webhook_url', async () => {
      const reader = await keyWith(['calls:read']);
      expect((await req(reader.key, 'GET', '/v1/calls')).statusCode).toBe(200);
      const keys = await req(reader.key, 'GET', '/v1/api-keys');
      expect(keys.statusCode).toBe(403);
      expect(keys.json().error.message).toContain('keys:read');
      const company = await req(reader.key, 'GET', '/v1/company');
      expect(company.statusCode).toBe(403);
      expect(company.json().error.message).toContain('settings:read');
      expect(company.body).not.toContain('hooks.example.com');
    });

    it('keys:read lists keys; settings:read (or settings:*) reads the company; neither grants the other', async () => {
      const keysReader = await keyWith(['keys:read']);
      const listed = await req(keysReader.key, 'GET', '/v1/api-keys');
      expect(listed.statusCode).toBe(200);
      expect(listed.json().data.map((k: { id: string }) => k.id)).toContain(keysReader.id);
      expect((await req(keysReader.key, 'GET', '/v1/company')).statusCode).toBe(403);
      for (const scopes of [['settings:read'], ['settings:*']]) {
        const settings = await keyWith(scopes);
        const company = await req(settings.key, 'GET', '/v1/company');
        expect(company.statusCode).toBe(200);
        expect(company.json().webhook_url).toBe('https://hooks.example.com/secret-path');
        expect((await req(settings.key, 'GET', '/v1/api-keys')).statusCode).toBe(403);
      }
      // settings:read does not reveal the signing secret (that stays settings:write).
      expect((await req((await keyWith(['settings:read'])).key, 'GET', '/v1/company/webhook/secret')).statusCode).toBe(403);
    });

    it('every tenant route in the API document needs a scope', async () => {
      const doc = (await t.app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
      const a = await keyWith(['keys:write']);
      const b = await keyWith(['webhooks:read']);
      const routes = Object.entries(doc.paths)
        .filter(([path]) => path.startsWith('/v1/') && !path.startsWith('/v1/admin/'))
        .flatMap(([path, ops]) => Object.keys(ops).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map((m) => [m.toUpperCase(), path] as const));
      expect(routes.length).toBeGreaterThan(25);
      const open: string[] = [];
      for (const [method, path] of routes) {
        const url = path.replace(/\{number\}/g, '+15550100999').replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
        const codes = await Promise.all([a.key, b.key].map(async (k) => (await req(k, method as 'GET', url)).statusCode));
        if (!codes.includes(403)) open.push(`${method} ${path} → ${codes.join(', ')}`);
      }
      expect(open).toEqual([]);
    });
  });

  describe('every route', () => {
    it('asks for a scope keys can be given, and every such scope is asked for by some route', () => {
      expect(routes.length).toBeGreaterThan(60);
      const asked = new Set(routes.map((r) => r.scope));
      expect([...asked].filter((s) => !ROUTE_SCOPES.includes(s))).toEqual([]);
      expect(ROUTE_SCOPES.filter((s) => !asked.has(s))).toEqual([]);
    });

    it('that changes anything asks for a write scope: a key of every read scope writes nothing', () => {
      // A search takes its question as a body; it changes nothing.
      const readsByPost = new Set(['POST /v1/bots/:id/knowledge/search']);
      const writesOnRead = routes.filter((r) => r.method !== 'GET' && !readsByPost.has(`${r.method} ${r.url}`) && !r.scope.endsWith(':write'));
      expect(writesOnRead.map((r) => `${r.method} ${r.url} (${r.scope})`)).toEqual([]);
    });

    it('is a 403 naming its scope to a key holding every other scope', async () => {
      const wrong: string[] = [];
      for (const { method, url, scope } of routes) {
        const others = await keyWith(ROUTE_SCOPES.filter((s) => s !== scope), { name: `all but ${scope}` });
        const path = url.replace(/:number/g, '+15550100999').replace(/:[A-Za-z]+/g, '00000000-0000-4000-8000-000000000000');
        const res = await req(others.key, method as 'GET', path);
        if (res.statusCode !== 403 || res.json().error.message !== `This API key lacks the ${scope} scope`) wrong.push(`${method} ${url} → ${res.statusCode} ${res.body}`);
        await req(root, 'DELETE', `/v1/api-keys/${others.id}`);
      }
      expect(wrong).toEqual([]);
    });
  });

  describe('revoking keys', () => {
    it('a limited key cannot revoke a stronger key; the stronger key keeps working', async () => {
      const limited = await keyWith(['keys:write']);
      const strong = await keyWith(['*']);
      const res = await req(limited.key, 'DELETE', `/v1/api-keys/${strong.id}`);
      expect(res.statusCode).toBe(403);
      expect(res.json().error.message).toContain('cannot revoke');
      expect((await req(strong.key, 'GET', '/v1/bots')).statusCode).toBe(200);
      // Nor the company's first key, nor a key with any scope the limited key lacks.
      const [first] = await t.db.sql`select id from api_keys where company_id = ${companyId} order by created_at limit 1`;
      expect((await req(limited.key, 'DELETE', `/v1/api-keys/${first!.id}`)).statusCode).toBe(403);
      expect((await req(root, 'GET', '/v1/bots')).statusCode).toBe(200);
      const sideways = await keyWith(['calls:read']);
      expect((await req(limited.key, 'DELETE', `/v1/api-keys/${sideways.id}`)).statusCode).toBe(403);
      expect((await req(sideways.key, 'GET', '/v1/calls')).statusCode).toBe(200);
      const [row] = await t.db.sql`select revoked_at from api_keys where id = ${strong.id}`;
      expect(row!.revoked_at).toBeNull();
    });

    it('a key revokes keys whose scopes it holds, and itself; * revokes anything', async () => {
      const manager = await keyWith(['keys:write', 'bots:*']);
      for (const scopes of [['keys:write'], ['bots:read'], ['bots:*', 'keys:write']]) {
        const victim = await keyWith(scopes);
        const res = await req(manager.key, 'DELETE', `/v1/api-keys/${victim.id}`);
        expect(res.statusCode, JSON.stringify(scopes)).toBe(200);
        expect((await req(victim.key, 'GET', '/v1/bots')).statusCode).toBe(401);
      }
      const strong = await keyWith(['*']);
      expect((await req(root, 'DELETE', `/v1/api-keys/${strong.id}`)).statusCode).toBe(200);
      expect((await req(strong.key, 'GET', '/v1/bots')).statusCode).toBe(401);
      expect((await req(manager.key, 'DELETE', `/v1/api-keys/${manager.id}`)).statusCode).toBe(200);
      expect((await req(manager.key, 'GET', '/v1/bots')).statusCode).toBe(401);
      // Unknown or another company's key: 404 (checked before scopes, so nothing is learned about it).
      const other = await t.createCompany('Beta');
      const theirs = (await req(other.apiKey, 'POST', '/v1/api-keys', { name: 'theirs', scopes: ['calls:read'] })).json();
      const limited = await keyWith(['keys:write']);
      expect((await req(limited.key, 'DELETE', `/v1/api-keys/${theirs.id}`)).statusCode).toBe(404);
      expect((await req(root, 'DELETE', `/v1/api-keys/${theirs.id}`)).statusCode).toBe(404);
    });
  });
});

describe('a tenant route without a scope', () => {
  it('cannot be registered: the app refuses to start rather than let any valid key through', async () => {
    const unscoped = async (app: import('fastify').FastifyInstance) => {
      app.get('/unscoped-report', async () => ({ everything: true }));
    };
    await expect(createTestApp({ tenantRoutes: () => [unscoped] })).rejects.toThrow(/GET \/v1\/unscoped-report: a tenant route must declare config\.scope/);
  });

  it('nor can one asking for a scope keys cannot be given (only a * key would open it)', async () => {
    const misnamed = async (app: import('fastify').FastifyInstance) => {
      app.get('/reports', { config: { scope: 'report:read' } }, async () => ({ everything: true }));
    };
    await expect(createTestApp({ tenantRoutes: () => [misnamed] })).rejects.toThrow(/GET \/v1\/reports: scope report:read is not one keys can be given/);
  });
});
