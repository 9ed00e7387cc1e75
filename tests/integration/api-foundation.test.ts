import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, botBody, createTestApp, type TestApp } from '../helpers/app.js';
import { storeTurns } from '../helpers/transcript.js';

describe('REST API foundation', () => {
  let t: TestApp;
  let a: { companyId: string; apiKey: string };
  let b: { companyId: string; apiKey: string };

  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_PER_MIN: '1000' } });
    a = await t.createCompany('Alpha Salon');
    b = await t.createCompany('Beta Plumbing');
  });
  afterAll(async () => t.close());

  const req = (apiKey: string, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: t.as(apiKey), ...(payload !== undefined ? { payload: payload as object } : {}) });

  describe('admin', () => {
    it('refuses without the admin token, with the error shape', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/v1/admin/companies', payload: { name: 'X' } });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: { code: 'PARLEY_ERR_UNAUTHORIZED', message: expect.any(String) } });
      const wrong = await t.app.inject({ method: 'GET', url: '/v1/admin/companies', headers: { authorization: 'Bearer nope' } });
      expect(wrong.statusCode).toBe(401);
    });

    it('an API key is not an admin token', async () => {
      const res = await req(a.apiKey, 'GET', '/v1/admin/companies');
      expect(res.statusCode).toBe(401);
    });

    it('lists companies with pagination and disables one (its keys stop working)', async () => {
      const c = await t.createCompany('Gamma');
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
      const page1 = await t.app.inject({ method: 'GET', url: '/v1/admin/companies?limit=2', headers: admin });
      expect(page1.statusCode).toBe(200);
      const p1 = page1.json();
      expect(p1.data).toHaveLength(2);
      expect(p1.next_cursor).toEqual(expect.any(String));
      const page2 = await t.app.inject({ method: 'GET', url: `/v1/admin/companies?limit=2&cursor=${p1.next_cursor}`, headers: admin });
      const ids = [...p1.data, ...page2.json().data].map((x: { id: string }) => x.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toContain(c.companyId);

      expect((await req(c.apiKey, 'GET', '/v1/bots')).statusCode).toBe(200);
      const off = await t.app.inject({ method: 'PATCH', url: `/v1/admin/companies/${c.companyId}`, headers: admin, payload: { is_active: false } });
      expect(off.json().is_active).toBe(false);
      expect((await req(c.apiKey, 'GET', '/v1/bots')).statusCode).toBe(401);
    });

    it('validates the body and names the bad field', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/v1/admin/companies', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: '' } });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('PARLEY_ERR_VALIDATION');
      expect(res.json().error.details.field).toBe('body.name');
    });
  });

  describe('API keys', () => {
    it('are stored hashed, shown once, listed without secrets, revocable', async () => {
      const created = await req(a.apiKey, 'POST', '/v1/api-keys', { name: 'ci', scopes: ['calls:read'] });
      expect(created.statusCode).toBe(201);
      const { key, id, prefix } = created.json();
      expect(key).toMatch(/^pk_[0-9a-f]{8}_/);
      expect(key.startsWith(prefix)).toBe(true);

      const stored = await t.db.sql`select * from api_keys`;
      for (const row of stored) {
        expect(JSON.stringify(row)).not.toContain(key.slice(prefix.length + 1));
        expect(row.key_hash).toMatch(/^[0-9a-f]{64}$/);
      }
      const listed = await req(a.apiKey, 'GET', '/v1/api-keys');
      expect(listed.body).not.toContain(key);
      expect(listed.json().data.map((k: { id: string }) => k.id)).toContain(id);

      // Scoped key: can read calls, cannot create bots.
      expect((await req(key, 'GET', '/v1/calls')).statusCode).toBe(200);
      const forbidden = await req(key, 'POST', '/v1/bots', botBody());
      expect(forbidden.statusCode).toBe(403);
      expect(forbidden.json().error.code).toBe('PARLEY_ERR_FORBIDDEN');

      const revoked = await req(a.apiKey, 'DELETE', `/v1/api-keys/${id}`);
      expect(revoked.statusCode).toBe(200);
      expect(revoked.json().revoked_at).not.toBeNull();
      expect((await req(key, 'GET', '/v1/calls')).statusCode).toBe(401);
    });

    it('rejects malformed, unknown and expired keys alike', async () => {
      expect((await req('garbage', 'GET', '/v1/bots')).statusCode).toBe(401);
      const forged = a.apiKey.slice(0, -4) + 'AAAA';
      expect((await req(forged, 'GET', '/v1/bots')).statusCode).toBe(401);
      const created = await req(a.apiKey, 'POST', '/v1/api-keys', { name: 'short-lived', expires_at: new Date(Date.now() + 60_000).toISOString() });
      await t.db.sql`update api_keys set expires_at = now() - interval '1 second' where id = ${created.json().id}`;
      expect((await req(created.json().key, 'GET', '/v1/bots')).statusCode).toBe(401);
      const noAuth = await t.app.inject({ method: 'GET', url: '/v1/bots' });
      expect(noAuth.statusCode).toBe(401);
    });
  });

  describe('bots', () => {
    it('create, get, list, update, deactivate', async () => {
      const created = await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: '+15550001111' }));
      expect(created.statusCode).toBe(201);
      const bot = created.json();
      expect(bot.config.greeting).toContain('Hello');
      expect(bot.is_active).toBe(true);

      expect((await req(a.apiKey, 'GET', `/v1/bots/${bot.id}`)).json().id).toBe(bot.id);
      expect((await req(a.apiKey, 'GET', '/v1/bots')).json().data.map((x: { id: string }) => x.id)).toContain(bot.id);

      const updated = await req(a.apiKey, 'PATCH', `/v1/bots/${bot.id}`, { name: 'Reception', config: { greeting: 'Hi!', limits: { maxCallSec: 600 } } });
      expect(updated.statusCode).toBe(200);
      expect(updated.json().name).toBe('Reception');
      expect(updated.json().config.limits.maxCallSec).toBe(600);

      const off = await req(a.apiKey, 'DELETE', `/v1/bots/${bot.id}`);
      expect(off.json().is_active).toBe(false);
      expect((await req(a.apiKey, 'GET', '/v1/bots')).json().data.map((x: { id: string }) => x.id)).not.toContain(bot.id);
      expect((await req(a.apiKey, 'GET', '/v1/bots?include_inactive=true')).json().data.map((x: { id: string }) => x.id)).toContain(bot.id);
    });

    it('validates config and names the bad field', async () => {
      const missing = await req(a.apiKey, 'POST', '/v1/bots', botBody({ config: { systemPrompt: 'x' } }));
      expect(missing.statusCode).toBe(400);
      expect(missing.json().error.details.field).toBe('body.config.greeting');
      const unknown = await req(a.apiKey, 'POST', '/v1/bots', botBody({ config: { greeting: 'Hi', greting: 'typo' } }));
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json().error.details.field).toBe('body.config.greting');
      const lang = await req(a.apiKey, 'POST', '/v1/bots', botBody({ language: 'de' }));
      expect(lang.statusCode).toBe(400);
      const phone = await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: '555-1234' }));
      expect(phone.statusCode).toBe(400);
      expect(phone.json().error.details.field).toBe('body.phone_number');
      const badId = await req(a.apiKey, 'GET', '/v1/bots/not-a-uuid');
      expect(badId.statusCode).toBe(400);
    });

    it('a phone number belongs to one active bot at a time, and to one company until released', async () => {
      const first = await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: '+15550002222' }));
      expect(first.statusCode).toBe(201);
      const twin = await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: '+15550002222' }));
      expect(twin.statusCode).toBe(409);
      expect(twin.json().error.message).toContain('another active bot of your company');
      const clash = await req(b.apiKey, 'POST', '/v1/bots', botBody({ phone_number: '+15550002222' }));
      expect(clash.statusCode).toBe(409);
      expect(clash.json().error.code).toBe('PARLEY_ERR_CONFLICT');
      await req(a.apiKey, 'DELETE', `/v1/bots/${first.json().id}`);
      // Deactivating the bot does not give the number away (see tenant-numbers.test.ts); the operator's release does.
      expect((await req(b.apiKey, 'POST', '/v1/bots', botBody({ phone_number: '+15550002222' }))).statusCode).toBe(409);
      expect((await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: '+15550002222' }))).statusCode).toBe(201);
      const release = await t.app.inject({ method: 'DELETE', url: '/v1/admin/phone-numbers/+15550002222', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(release.statusCode).toBe(200);
      expect((await req(b.apiKey, 'POST', '/v1/bots', botBody({ phone_number: '+15550002222' }))).statusCode).toBe(201);
    });
  });

  describe('calls', () => {
    let botId: string;
    beforeAll(async () => {
      botId = (await req(a.apiKey, 'POST', '/v1/bots', botBody())).json().id;
      // 7 calls a minute apart, alternating status; one with a transcript and an outcome.
      for (let i = 0; i < 7; i++) {
        const [row] = await t.db.sql<{ id: string }[]>`insert into calls (company_id, bot_id, direction, status, started_at, from_number, to_number)
          values (${a.companyId}, ${botId}, ${i % 3 === 0 ? 'web' : 'inbound'}, ${i % 2 ? 'completed' : 'failed'},
                  ${new Date(Date.UTC(2026, 10, 1, 10, i))}, '+15551230000', '+15550001111') returning id`;
        await storeTurns(t.db.sql, row!.id, [{ role: 'caller', text: `hello ${i}`, ts: '2026-11-01T10:00:00Z' }]);
      }
      const [call] = await t.db.sql`select id from calls where company_id = ${a.companyId} order by started_at limit 1`;
      await t.db.sql`insert into outcomes (call_id, company_id, outcome_type, confidence, summary, extracted_data, analyzer)
        values (${call!.id}, ${a.companyId}, 'lead', 0.8, 'Wants a quote', ${t.db.sql.json({ client_name: 'Ann' })}, 'offline')`;
    });

    it('pages through every call exactly once, newest first', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await req(a.apiKey, 'GET', `/v1/calls?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.statusCode).toBe(200);
        const body = res.json();
        seen.push(...body.data.map((c: { id: string; started_at: string }) => c.started_at));
        cursor = body.next_cursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen).toHaveLength(7);
      expect([...seen].sort().reverse()).toEqual(seen);
    });

    it('filters by status, direction, bot and date range', async () => {
      const completed = (await req(a.apiKey, 'GET', '/v1/calls?status=completed')).json().data;
      expect(completed).toHaveLength(3);
      const web = (await req(a.apiKey, 'GET', '/v1/calls?direction=web')).json().data;
      expect(web).toHaveLength(3);
      const range = (await req(a.apiKey, 'GET', `/v1/calls?bot_id=${botId}&from=2026-11-01T10:02:00Z&to=2026-11-01T10:05:00Z`)).json().data;
      expect(range).toHaveLength(3);
      const bad = await req(a.apiKey, 'GET', '/v1/calls?status=exploded');
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.details.field).toContain('status');
      // The choices, not "must be equal to constant, … must match a schema in anyOf".
      expect(bad.json().error.message).toMatch(/^querystring\.status must be one of: .*completed.*failed/);
      expect((await req(a.apiKey, 'GET', '/v1/calls?cursor=%%%')).statusCode).toBe(400);
      // A range that ends before it starts is a mistake, not "no calls then"; the same on every list with a range.
      for (const path of ['/v1/calls', '/v1/audit-log']) {
        const backwards = await req(a.apiKey, 'GET', `${path}?from=2026-11-01T10:05:00Z&to=2026-11-01T10:02:00Z`);
        expect(backwards.statusCode, path).toBe(400);
        expect(backwards.json().error.details.field, path).toBe('querystring.to');
      }
    });

    it('gets one call with transcript and outcome', async () => {
      const [first] = await t.db.sql`select id from calls where company_id = ${a.companyId} order by started_at limit 1`;
      // Every field a bot turn is stored with comes back (the response schema once dropped unsaid and safety).
      const bot = { role: 'bot', text: 'We open at nine.', ts: '2026-11-01T10:00:02Z', interrupted: true, latency: { responseMs: 640 },
        unsaid: ['Prices start at forty dollars.'], safety: [{ reason: 'price_unknown', detail: '$35' }] };
      await storeTurns(t.db.sql, first!.id, [bot]);
      const res = await req(a.apiKey, 'GET', `/v1/calls/${first!.id}`);
      expect(res.statusCode).toBe(200);
      expect(res.json().transcript[0].text).toBe('hello 0');
      expect(res.json().transcript[1]).toEqual(bot);
      expect(res.json().outcome).toMatchObject({ outcome_type: 'lead', extracted_data: { client_name: 'Ann' } });
    });

    it('says why a call ended, completed or not, in the call, the list and the export', async () => {
      const [first] = await t.db.sql<{ id: string }[]>`select id from calls where company_id = ${a.companyId} and status = 'completed' order by started_at limit 1`;
      await t.db.sql`update calls set ended_at = now(), end_reason = 'caller_hangup: stop' where id = ${first!.id}`;
      const one = (await req(a.apiKey, 'GET', `/v1/calls/${first!.id}`)).json();
      expect(one).toMatchObject({ status: 'completed', failure_reason: null, end_reason: 'caller_hangup: stop' });
      const listed = (await req(a.apiKey, 'GET', '/v1/calls?status=completed')).json().data.find((c: { id: string }) => c.id === first!.id);
      expect(listed.end_reason).toBe('caller_hangup: stop');
      const exported = (await req(a.apiKey, 'GET', '/v1/export?types=call')).body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id?: string; end_reason?: string });
      expect(exported.find((c) => c.id === first!.id)?.end_reason).toBe('caller_hangup: stop');
    });
  });

  describe('company settings', () => {
    it('sets the webhook URL and events, rotates the secret', async () => {
      const set = await req(a.apiKey, 'PUT', '/v1/company/webhook', { url: 'https://hooks.example.com/parley', events: ['call.ended'] });
      expect(set.statusCode).toBe(200);
      expect(set.json()).toMatchObject({ webhook_url: 'https://hooks.example.com/parley', webhook_events: ['call.ended'] });
      const before = (await req(a.apiKey, 'GET', '/v1/company/webhook/secret')).json().secret;
      expect(before).toMatch(/^whsec_/);
      const rotated = await req(a.apiKey, 'POST', '/v1/company/webhook/rotate-secret');
      expect(rotated.json().secret).toMatch(/^whsec_/);
      expect(rotated.json().secret).not.toBe(before);
      const [row] = await t.db.sql<{ webhook_previous_secrets: { secret: string }[] }[]>`select webhook_previous_secrets from companies where id = ${a.companyId}`;
      expect(row!.webhook_previous_secrets.map((p) => p.secret)).toEqual([before]);
      // A second rotation inside the overlap (a client retrying one whose answer it lost) keeps both old secrets.
      const again = await req(a.apiKey, 'POST', '/v1/company/webhook/rotate-secret');
      const [row2] = await t.db.sql<{ webhook_previous_secrets: { secret: string }[] }[]>`select webhook_previous_secrets from companies where id = ${a.companyId}`;
      expect(row2!.webhook_previous_secrets.map((p) => p.secret)).toEqual([rotated.json().secret, before]);
      const current = (await req(a.apiKey, 'GET', '/v1/company/webhook/secret')).json();
      expect(current).toEqual({ secret: again.json().secret, previous_secret_expires_at: again.json().previous_secret_expires_at });
      const badEvent = await req(a.apiKey, 'PUT', '/v1/company/webhook', { url: 'https://hooks.example.com/parley', events: ['call.exploded'] });
      expect(badEvent.statusCode).toBe(400);
    });

    it('PUT sets the whole webhook setting, PATCH only what it is given', async () => {
      const webhook = async () => (await req(b.apiKey, 'GET', '/v1/company')).json() as { webhook_url: string | null; webhook_events: string[] };
      await req(b.apiKey, 'PUT', '/v1/company/webhook', { url: 'https://hooks.example.com/one', events: ['call.ended'] });
      // A PATCH of the events keeps the URL; one of the URL keeps the events.
      expect((await req(b.apiKey, 'PATCH', '/v1/company/webhook', { events: ['call.started', 'call.ended'] })).statusCode).toBe(200);
      expect(await webhook()).toMatchObject({ webhook_url: 'https://hooks.example.com/one', webhook_events: ['call.started', 'call.ended'] });
      expect((await req(b.apiKey, 'PATCH', '/v1/company/webhook', { url: 'https://hooks.example.com/two' })).statusCode).toBe(200);
      expect(await webhook()).toMatchObject({ webhook_url: 'https://hooks.example.com/two', webhook_events: ['call.started', 'call.ended'] });
      // A PUT without events is every event, not the events an earlier call left.
      expect((await req(b.apiKey, 'PUT', '/v1/company/webhook', { url: 'https://hooks.example.com/three' })).statusCode).toBe(200);
      expect(await webhook()).toMatchObject({ webhook_url: 'https://hooks.example.com/three', webhook_events: [] });
      // A PUT must say the URL (null stops deliveries); a PATCH checks what it changes like a PUT (its unsafe URLs:
      // webhook-routes.test.ts).
      const noUrl = await req(b.apiKey, 'PUT', '/v1/company/webhook', { events: ['call.ended'] });
      expect(noUrl.statusCode).toBe(400);
      expect(noUrl.json().error.details).toEqual({ field: 'body.url' });
      expect((await req(b.apiKey, 'PATCH', '/v1/company/webhook', { events: ['call.exploded'] })).statusCode).toBe(400);
      expect(await webhook()).toMatchObject({ webhook_url: 'https://hooks.example.com/three', webhook_events: [] });
      expect((await req(b.apiKey, 'PUT', '/v1/company/webhook', { url: null })).json()).toMatchObject({ webhook_url: null, webhook_events: [] });
    });
  });

  describe('tenant isolation', () => {
    it("every read and write of another company's resources is not found", async () => {
      const botB = (await req(b.apiKey, 'POST', '/v1/bots', botBody())).json();
      const keyB = (await req(b.apiKey, 'POST', '/v1/api-keys', { name: 'b2' })).json();
      const [callB] = await t.db.sql`insert into calls (company_id, bot_id, direction, status) values (${b.companyId}, ${botB.id}, 'inbound', 'completed') returning id`;

      const attempts = [
        req(a.apiKey, 'GET', `/v1/bots/${botB.id}`),
        req(a.apiKey, 'PATCH', `/v1/bots/${botB.id}`, { name: 'hijack' }),
        req(a.apiKey, 'DELETE', `/v1/bots/${botB.id}`),
        req(a.apiKey, 'GET', `/v1/calls/${callB!.id}`),
        req(a.apiKey, 'DELETE', `/v1/api-keys/${keyB.id}`),
      ];
      for (const res of await Promise.all(attempts)) {
        expect(res.statusCode).toBe(404);
        expect(res.json().error.code).toBe('PARLEY_ERR_NOT_FOUND');
      }
      expect((await req(a.apiKey, 'GET', '/v1/bots')).json().data.map((x: { id: string }) => x.id)).not.toContain(botB.id);
      expect((await req(a.apiKey, 'GET', '/v1/calls')).json().data.map((x: { id: string }) => x.id)).not.toContain(callB!.id);
      expect((await req(a.apiKey, 'GET', '/v1/api-keys')).json().data.map((x: { id: string }) => x.id)).not.toContain(keyB.id);
      // B's resources are untouched.
      expect((await req(b.apiKey, 'GET', `/v1/bots/${botB.id}`)).json()).toMatchObject({ name: botB.name, is_active: true });
      expect((await req(keyB.key, 'GET', '/v1/bots')).statusCode).toBe(200);
    });
  });

  describe('operations', () => {
    it('health, readiness, metrics, OpenAPI', async () => {
      expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
      expect((await t.app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready' });
      const metrics = await t.app.inject({ url: '/metrics' });
      expect(metrics.body).toContain('parley_http_request_duration_seconds_bucket');
      // Exports and uploads run for minutes: the buckets reach 300 s, not 5 s.
      expect(metrics.body).toMatch(/parley_http_request_duration_seconds_bucket\{le="300",[^}]*route="\/healthz"/);
      const doc = (await t.app.inject({ url: '/openapi.json' })).json();
      expect(doc.openapi).toBe('3.1.0');
      for (const path of ['/v1/bots', '/v1/bots/{id}', '/v1/calls', '/v1/calls/{id}', '/v1/api-keys', '/v1/company/webhook', '/v1/admin/companies']) {
        expect(Object.keys(doc.paths)).toContain(path);
      }
      // The bot config schema the route validates with is the one documented.
      const create = doc.paths['/v1/bots'].post.requestBody.content['application/json'].schema;
      expect(create.properties.config.required).toContain('greeting');
      // What any route can answer is documented on every route: 429, 413 where a body is taken, 403 where a scope is needed.
      for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown>; parameters?: unknown[]; requestBody?: unknown }>>)) {
        if (!path.startsWith('/v1/')) continue;
        for (const [method, op] of Object.entries(ops)) {
          expect(Object.keys(op.responses), `${method} ${path}`).toContain('429');
          // A path id, a query or a body that can be malformed: 400 (GET /v1/bots/{id}/knowledge with a non-UUID id).
          if (op.parameters?.length || op.requestBody) expect(Object.keys(op.responses), `${method} ${path}`).toContain('400');
          if (['post', 'put', 'patch'].includes(method)) expect(Object.keys(op.responses), `${method} ${path}`).toContain('413');
        }
      }
      expect(Object.keys(doc.paths['/v1/bots'].post.responses)).toContain('403');
    });

    it('answers a method a path does not take with 405 and the methods it does take, on every kind of path', async () => {
      const created = await req(a.apiKey, 'POST', '/v1/bots', botBody({ name: 'Method bot' }));
      const botId = created.json().id as string;
      for (const [method, url, allowed] of [
        ['DELETE', '/v1/calls', ['GET', 'HEAD']],
        ['PUT', `/v1/bots/${botId}`, ['GET', 'HEAD', 'PATCH', 'DELETE']],
        ['POST', `/v1/bots/${botId}?x=1`, ['GET', 'HEAD', 'PATCH', 'DELETE']],
        ['PATCH', '/v1/admin/companies', ['GET', 'HEAD', 'POST']],
        ['POST', '/healthz', ['GET', 'HEAD']],
      ] as const) {
        const res = await t.app.inject({ method, url, headers: t.as(a.apiKey) });
        expect(res.statusCode, `${method} ${url}`).toBe(405);
        expect(res.headers.allow!.split(', ').sort(), `${method} ${url}`).toEqual([...allowed].sort());
        expect(res.json().error.code).toBe('PARLEY_ERR_METHOD_NOT_ALLOWED');
      }
      // A path no method has stays a 404, whatever the method.
      for (const method of ['GET', 'DELETE'] as const) {
        const res = await t.app.inject({ method, url: `/v1/bots/${botId}/nothing`, headers: t.as(a.apiKey) });
        expect(res.statusCode).toBe(404);
        expect(res.headers.allow).toBeUndefined();
      }
    });

    it('never leaks internals on unknown routes or bad JSON', async () => {
      const nf = await t.app.inject({ url: '/v1/nope', headers: t.as(a.apiKey) });
      expect(nf.statusCode).toBe(404);
      const bad = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: { ...t.as(a.apiKey), 'content-type': 'application/json' }, payload: '{"name":' });
      expect(bad.statusCode).toBe(400);
      expect(bad.body).not.toMatch(/at .*\.ts|SELECT|stack/i);
    });
  });
});

describe('rate limiting', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_PER_MIN: '5' } });
  });
  afterAll(async () => t.close());

  it('answers 429 per company once the limit is spent, whichever of its keys asks', async () => {
    const a = await t.createCompany();
    const b = await t.createCompany();
    const second = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(a.apiKey), payload: { name: 'second' } });
    expect(second.statusCode).toBe(201);
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await t.app.inject({ url: '/v1/bots', headers: t.as(a.apiKey) })).statusCode);
    expect(codes.slice(0, 4)).toEqual([200, 200, 200, 200]);
    expect(codes.slice(4)).toEqual([429, 429]);
    // A new key of the same company is no new budget.
    expect((await t.app.inject({ url: '/v1/bots', headers: t.as(second.json().key as string) })).statusCode).toBe(429);
    const limited = await t.app.inject({ url: '/v1/bots', headers: t.as(a.apiKey) });
    expect(limited.json().error.code).toBe('PARLEY_ERR_RATE_LIMITED');
    expect(limited.headers['retry-after']).toBeDefined();
    // Another company's key has its own budget.
    expect((await t.app.inject({ url: '/v1/bots', headers: t.as(b.apiKey) })).statusCode).toBe(200);
  });
});
