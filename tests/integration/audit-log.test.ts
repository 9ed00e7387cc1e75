/**
 * every successful change through /v1 is in the audit log — actor, action, resource, changed field
 * names (never values), request id, IP, time — readable with filters and a cursor by its company only, and the
 * database refuses to change or delete an entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, botBody, createTestApp, type TestApp } from '../helpers/app.js';

describe('audit log', () => {
  let t: TestApp;
  let a: { companyId: string; apiKey: string };
  let b: { companyId: string; apiKey: string };
  let rootKeyId: string;
  let botId: string;
  let createdKey: { id: string; key: string };

  const audit = async (key: string, qs = '') => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/audit-log${qs ? `?${qs}` : ''}`, headers: t.as(key) });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { data: Array<Record<string, unknown> & { action: string; changed_fields: string[] }>; next_cursor: string | null };
  };

  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_PER_MIN: '100000' } });
    a = await t.createCompany('Alpha');
    b = await t.createCompany('Beta');
    rootKeyId = (await t.db.sql`select id from api_keys where company_id = ${a.companyId}`)[0]!.id as string;
    const bot = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: { ...t.as(a.apiKey), 'x-request-id': 'req-create-bot' }, payload: botBody({ name: 'Desk' }) });
    botId = bot.json().id;
    await t.app.inject({ method: 'PATCH', url: `/v1/bots/${botId}`, headers: { ...t.as(a.apiKey), 'x-request-id': 'req-patch-bot', 'x-forwarded-for': '203.0.113.7' },
      payload: { name: 'Front desk', config: { greeting: 'Hello from the secret greeting', systemPrompt: 'Be kind.' } } });
    createdKey = (await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(a.apiKey), payload: { name: 'dash', scopes: ['calls:read'] } })).json();
    await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${createdKey.id}`, headers: t.as(a.apiKey) });
    await t.app.inject({ method: 'PUT', url: '/v1/company/webhook', headers: t.as(a.apiKey), payload: { url: 'https://hooks.example.com/very-secret-path', events: ['call.ended'] } });
    // Not recorded: a refused change, and reads.
    await t.app.inject({ method: 'PATCH', url: `/v1/bots/${botId}`, headers: t.as(a.apiKey), payload: { name: '' } });
    await t.app.inject({ method: 'GET', url: '/v1/bots', headers: t.as(a.apiKey) });
    // The operator disables and re-enables company A.
    for (const isActive of [false, true]) {
      await t.app.inject({ method: 'PATCH', url: `/v1/admin/companies/${a.companyId}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { is_active: isActive } });
    }
    // Company B changes something too.
    await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(b.apiKey), payload: botBody({ name: 'Beta bot' }) });
  });
  afterAll(async () => t.close());

  it('records each change with actor, action, resource, field names, request id and IP', async () => {
    const { data } = await audit(a.apiKey);
    expect(data.map((e) => e.action)).toEqual([
      'PATCH /v1/admin/companies/:id',
      'PATCH /v1/admin/companies/:id',
      'PUT /v1/company/webhook',
      'DELETE /v1/api-keys/:id',
      'POST /v1/api-keys',
      'PATCH /v1/bots/:id',
      'POST /v1/bots',
      'POST /v1/admin/companies',
    ]);
    const byAction = (action: string) => data.find((e) => e.action === action)!;
    expect(byAction('POST /v1/bots')).toMatchObject({ actor: rootKeyId, resource_id: botId, request_id: 'req-create-bot', status_code: 201 });
    expect(byAction('POST /v1/bots').changed_fields).toEqual(['config.greeting', 'config.systemPrompt', 'language', 'name', 'phone_number']);
    expect(byAction('PATCH /v1/bots/:id')).toMatchObject({ resource_id: botId, request_id: 'req-patch-bot', changed_fields: ['config.greeting', 'config.systemPrompt', 'name'] });
    expect(byAction('PATCH /v1/bots/:id').ip).toBeTruthy();
    expect(byAction('POST /v1/api-keys')).toMatchObject({ resource_id: createdKey.id, changed_fields: ['name', 'scopes'] });
    expect(byAction('DELETE /v1/api-keys/:id')).toMatchObject({ resource_id: createdKey.id, changed_fields: [] });
    expect(byAction('PUT /v1/company/webhook').changed_fields).toEqual(['events', 'url']);
    expect(byAction('PATCH /v1/admin/companies/:id')).toMatchObject({ actor: 'admin', resource_id: a.companyId, changed_fields: ['is_active'] });
    expect(byAction('POST /v1/admin/companies')).toMatchObject({ actor: 'admin', resource_id: a.companyId });
    expect(new Date(String(data[0]!.created_at)).getTime()).toBeGreaterThan(Date.now() - 60_000);
    // Never values, never secrets.
    const stored = JSON.stringify(await t.db.sql`select id::text, * from audit_log`, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    for (const secret of [createdKey.key, a.apiKey, 'very-secret-path', 'secret greeting', 'Front desk']) expect(stored).not.toContain(secret);
  });

  it('filters by action, actor and time, pages with a cursor', async () => {
    expect((await audit(a.apiKey, `action=${encodeURIComponent('PATCH /v1/bots/:id')}`)).data).toHaveLength(1);
    expect((await audit(a.apiKey, 'actor=admin')).data.map((e) => e.action)).toEqual(['PATCH /v1/admin/companies/:id', 'PATCH /v1/admin/companies/:id', 'POST /v1/admin/companies']);
    expect((await audit(a.apiKey, `actor=${rootKeyId}`)).data).toHaveLength(5);
    expect((await audit(a.apiKey, `to=${encodeURIComponent('2000-01-01T00:00:00Z')}`)).data).toHaveLength(0);
    expect((await audit(a.apiKey, `from=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`)).data.length).toBeGreaterThanOrEqual(8);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await audit(a.apiKey, `limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.data.map((e) => String(e.id)));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(new Set(seen).size);
    // Reading the log is not itself logged; the pages above are all there was.
    expect(seen.length).toBe((await audit(a.apiKey, 'limit=200')).data.length);
    const bad = await t.app.inject({ method: 'GET', url: '/v1/audit-log?cursor=bm9wZQ', headers: t.as(a.apiKey) });
    expect(bad.statusCode).toBe(400);
    expect((await t.app.inject({ method: 'GET', url: '/v1/audit-log?actor=someone', headers: t.as(a.apiKey) })).statusCode).toBe(400);
  });

  it('each company sees only its own entries; the scope is audit:read', async () => {
    const beta = await audit(b.apiKey);
    expect(beta.data.map((e) => e.action)).toEqual(['POST /v1/bots', 'POST /v1/admin/companies']);
    const key = (await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(b.apiKey), payload: { name: 'bots', scopes: ['bots:read'] } })).json().key as string;
    expect((await t.app.inject({ method: 'GET', url: '/v1/audit-log', headers: t.as(key) })).statusCode).toBe(403);
  });

  it('is append-only: the database refuses updates and deletes', async () => {
    await expect(t.db.sql`update audit_log set actor = 'someone else'`).rejects.toThrow(/append-only/);
    await expect(t.db.sql`delete from audit_log`).rejects.toThrow(/append-only/);
    await expect(t.db.sql`truncate audit_log`).rejects.toThrow(/append-only/);
    expect((await t.db.sql`select count(*)::int as n from audit_log where actor = 'someone else'`)[0]!.n).toBe(0);
  });
});
