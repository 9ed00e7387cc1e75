/**
 * A JSON body is validated as the client sent it: a value of the wrong type is a 400, never converted. With type
 * coercion on bodies, `{"is_active": null}` became false — a bot, or a whole company, switched off by a client's
 * null — and `{"name": 12345}` a name. Query strings and path parameters are text and are still converted
 * (`?limit=2`), as are Twilio's form posts (tested with the Twilio routes).
 * The router's own refusals (a path that is not UTF-8 once decoded, an overlong path parameter) have the same
 * error shape as every other error. The API takes JSON: a form-encoded body is a 415, and a body sent to a route
 * that takes none is a 400, not ignored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, botBody, createTestApp, type TestApp } from '../helpers/app.js';

describe('JSON bodies are not type-converted', () => {
  let t: TestApp;
  let co: { companyId: string; apiKey: string };
  let botId: string;
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  beforeAll(async () => {
    t = await createTestApp();
    co = await t.createCompany('Typed');
    const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(co.apiKey), payload: botBody() });
    expect(res.statusCode).toBe(201);
    botId = (res.json() as { id: string }).id;
  });
  afterAll(async () => t.close());

  const patchBot = (payload: unknown) => t.app.inject({ method: 'PATCH', url: `/v1/bots/${botId}`, headers: t.as(co.apiKey), payload: payload as object });

  it.each([
    ['is_active: null', { is_active: null }],
    ['is_active: 0', { is_active: 0 }],
    ['is_active: "false"', { is_active: 'false' }],
    ['name: 12345', { name: 12345 }],
    ['name: false', { name: false }],
  ])('PATCH /v1/bots/:id with %s is a 400 and changes nothing', async (_label, payload) => {
    const res = await patchBot(payload);
    expect(res.statusCode, res.body).toBe(400);
    expect((res.json() as { error: { code: string } }).error.code).toBe('PARLEY_ERR_VALIDATION');
    const bot = (await t.app.inject({ method: 'GET', url: `/v1/bots/${botId}`, headers: t.as(co.apiKey) })).json() as { is_active: boolean; name: string };
    expect(bot).toMatchObject({ is_active: true, name: 'Front desk' });
  });

  it('a company is not disabled by an admin\'s null', async () => {
    const res = await t.app.inject({ method: 'PATCH', url: `/v1/admin/companies/${co.companyId}`, headers: admin, payload: { is_active: null } });
    expect(res.statusCode, res.body).toBe(400);
    const list = await t.app.inject({ method: 'GET', url: '/v1/bots', headers: t.as(co.apiKey) });
    expect(list.statusCode).toBe(200);
  });

  it('a key is not minted from a name of the wrong type or a scope list given as one string', async () => {
    for (const payload of [{ name: true, scopes: ['calls:read'] }, { name: 'ci', scopes: 'calls:read' }]) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(co.apiKey), payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
  });

  it('the right types still pass, and a query string is still read as numbers', async () => {
    const res = await patchBot({ name: 'Desk', is_active: true });
    expect(res.statusCode, res.body).toBe(200);
    await t.createCompany('Second');
    const list = await t.app.inject({ method: 'GET', url: '/v1/admin/companies?limit=1', headers: admin });
    expect(list.statusCode, list.body).toBe(200);
    expect((list.json() as { data: unknown[] }).data).toHaveLength(1);
    expect((await t.app.inject({ method: 'GET', url: '/v1/admin/companies?limit=abc', headers: admin })).statusCode).toBe(400);
  });

  it.each([
    ['/v1/bots/%ED%A0%80', 400],
    [`/v1/bots/${'a'.repeat(150)}`, 414],
  ])('GET %s is a %i with the error shape', async (url, status) => {
    const res = await t.app.inject({ method: 'GET', url, headers: t.as(co.apiKey) });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ error: { code: 'PARLEY_ERR_VALIDATION', message: expect.any(String) } });
  });

  it('a form-encoded body is a 415; a body to a route that takes none is a 400; none, or {}, is fine', async () => {
    const form = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: { ...t.as(co.apiKey), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=ci&scopes=calls:read' });
    expect(form.statusCode, form.body).toBe(415);
    const rotate = (payload?: object) => t.app.inject({ method: 'POST', url: '/v1/company/webhook/rotate-secret', headers: t.as(co.apiKey), ...(payload ? { payload } : {}) });
    const withBody = await rotate({ a: 1 });
    expect(withBody.statusCode, withBody.body).toBe(400);
    expect((await rotate()).statusCode).toBe(200);
    expect((await rotate({})).statusCode).toBe(200);
  });
});
