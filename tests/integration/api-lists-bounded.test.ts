/**
 * No answer of the API grows without bound with what a tenant stores: lists of bots and API keys are paged like
 * every other list (keyset, no duplicate and no gap), a bot's config has a size, a company a number of bots. And
 * ids, cursors and dates are checked at the boundary, each refusal naming its field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookingRoutes } from '../../src/api/routes/bookings.js';
import { encodeCursor } from '../../src/api/schemas.js';
import { createBookingService } from '../../src/bookings/service.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

const MAX_BOTS = 8;

describe('lists and stored configs stay bounded', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      env: { RATE_LIMIT_PER_MIN: '100000', BOTS_MAX_PER_COMPANY: String(MAX_BOTS) },
      tenantRoutes: (db) => [bookingRoutes({ sql: db.sql, bookings: createBookingService({ holdSec: 300 }) })],
    });
  });
  afterAll(async () => t.close());

  const req = (apiKey: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: t.as(apiKey), ...(payload !== undefined ? { payload: payload as object } : {}) });
  /** Every item of a list, page by page, and the number of pages read. */
  async function allPages(apiKey: string, path: string, limit: number): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res = await req(apiKey, 'GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as { data: { id: string }[]; next_cursor: string | null };
      expect(body.data.length).toBeLessThanOrEqual(limit);
      ids.push(...body.data.map((x) => x.id));
      cursor = body.next_cursor;
      pages++;
    } while (cursor);
    return { ids, pages };
  }

  it('pages bots newest first, each exactly once, active ones by default', async () => {
    const { apiKey } = await t.createCompany('Many Bots');
    const created: string[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await req(apiKey, 'POST', '/v1/bots', botBody({ name: `Bot ${i}` }));
      expect(res.statusCode, res.body).toBe(201);
      created.push(res.json().id as string);
    }
    for (const id of created.slice(1, 3)) expect((await req(apiKey, 'DELETE', `/v1/bots/${id}`)).statusCode).toBe(200);

    const all = await allPages(apiKey, '/v1/bots?include_inactive=true', 3);
    expect(all.pages).toBe(3);
    expect(all.ids).toEqual([...created].reverse());
    const active = await allPages(apiKey, '/v1/bots', 2);
    expect(active.ids).toEqual([...created].reverse().filter((id) => !created.slice(1, 3).includes(id)));
    expect((await req(apiKey, 'GET', '/v1/bots?limit=101')).statusCode).toBe(400);
  });

  it('pages API keys newest first, each exactly once', async () => {
    const { apiKey } = await t.createCompany('Many Keys');
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await req(apiKey, 'POST', '/v1/api-keys', { name: `k${i}` })).json().id as string);
    const listed = await allPages(apiKey, '/v1/api-keys', 2);
    expect(listed.ids).toHaveLength(6); // the company's first key too
    expect(listed.ids.slice(0, 5)).toEqual([...created].reverse());
  });

  it('refuses a bot config heavier than 262,144 characters, on create and update', async () => {
    const { apiKey } = await t.createCompany('Heavy Config');
    const properties = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`p${i}`, { type: 'string', examples: ['x'.repeat(14_000)] }]));
    const heavy = botBody({ name: 'Heavy' });
    heavy.config = { ...(heavy.config as Record<string, unknown>), outcomes: { extractionSchema: { type: 'object', properties } } };
    const res = await req(apiKey, 'POST', '/v1/bots', heavy);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.field).toBe('body.config');

    const ok = await req(apiKey, 'POST', '/v1/bots', botBody({ name: 'Light' }));
    expect(ok.statusCode).toBe(201);
    const patched = await req(apiKey, 'PATCH', `/v1/bots/${ok.json().id}`, { config: heavy.config });
    expect(patched.statusCode).toBe(400);
    expect(patched.json().error.details.field).toBe('body.config');
  });

  it(`holds a company to BOTS_MAX_PER_COMPANY bots (${MAX_BOTS} here), deactivated ones counted; others unaffected`, async () => {
    const full = await t.createCompany('Full');
    const first = await req(full.apiKey, 'POST', '/v1/bots', botBody({ name: 'First' }));
    await req(full.apiKey, 'DELETE', `/v1/bots/${first.json().id}`);
    // At once: the company's lock lets exactly the room left through.
    const racing = await Promise.all(Array.from({ length: MAX_BOTS + 2 }, (_, i) => req(full.apiKey, 'POST', '/v1/bots', botBody({ name: `B${i}` }))));
    expect(racing.filter((r) => r.statusCode === 201)).toHaveLength(MAX_BOTS - 1);
    const refused = racing.filter((r) => r.statusCode !== 201);
    expect(refused.map((r) => r.statusCode)).toEqual([409, 409, 409]);
    expect(refused[0]!.json().error.message).toMatch(/BOTS_MAX_PER_COMPANY/);

    const other = await t.createCompany('Other');
    expect((await req(other.apiKey, 'POST', '/v1/bots', botBody({ name: 'Fine' }))).statusCode).toBe(201);
  });

  it('refuses ids, cursors and dates the database would refuse, naming the field', async () => {
    const { apiKey } = await t.createCompany('Boundary');
    const bot = (await req(apiKey, 'POST', '/v1/bots', botBody({ name: 'B' }))).json().id as string;

    const urn = await req(apiKey, 'GET', `/v1/bots/urn:uuid:${bot}`);
    expect(urn.statusCode).toBe(400);
    expect(urn.json().error.details.field).toBe('params.id');
    const urnQuery = await req(apiKey, 'GET', `/v1/calls?bot_id=urn:uuid:${bot}`);
    expect(urnQuery.statusCode).toBe(400);
    expect(urnQuery.json().error.details.field).toBe('querystring.bot_id');
    // A cursor not made by the list it is given to (an id alone, another tenant's booking) is refused.
    const forged = await req(apiKey, 'GET', `/v1/bookings?cursor=${encodeCursor('bookings', ['00000000-0000-4000-8000-000000000000'])}`);
    expect(forged.statusCode).toBe(400);
    expect(forged.json().error.details.field).toBe('querystring.cursor');
    const leap = await req(apiKey, 'POST', '/v1/api-keys', { name: 'leap', expires_at: '2030-06-30T23:59:60Z' });
    expect(leap.statusCode).toBe(400);
    expect(leap.json().error.details.field).toBe('body.expires_at');
  });

  it('reads a number in a query only as a decimal number, on every route: Infinity (1e400 too), hex, binary and padded values are 400 naming it', async () => {
    const { apiKey } = await t.createCompany('Numbers');
    const spec = (await t.app.inject({ url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { parameters?: { in: string; name: string; schema?: { type?: string } }[] }>>;
    };
    const checked: string[] = [];
    for (const [path, methods] of Object.entries(spec.paths)) {
      const params = methods.get?.parameters ?? [];
      if (!path.startsWith('/v1/') || path.startsWith('/v1/admin') || params.some((p) => p.in === 'path')) continue;
      for (const p of params.filter((p) => p.in === 'query' && ['integer', 'number'].includes(p.schema?.type ?? ''))) {
        // `+` in a query string is a space: "+5" arrives as " 5".
        for (const value of ['Infinity', '-Infinity', '0x10', '0b11', '+5', '5%20', '1e400', '-1e400']) {
          const res = await req(apiKey, 'GET', `${path}?${p.name}=${value}`);
          expect(res.statusCode, `${path}?${p.name}=${value}: ${res.body}`).toBe(400);
          expect(res.json().error.details?.field, `${path}?${p.name}=${value}: ${res.body}`).toBe(`querystring.${p.name}`);
        }
        checked.push(`${path} ${p.name}`);
      }
    }
    expect(checked).toContain('/v1/calls limit');
    expect(checked).toContain('/v1/bookings limit');
    expect(checked.length).toBeGreaterThan(5);
    // Decimal notation is read as before: 1e1 is 10, and the bounds apply.
    expect((await req(apiKey, 'GET', '/v1/calls?limit=1e1')).statusCode).toBe(200);
    const over = await req(apiKey, 'GET', '/v1/calls?limit=1e3');
    expect(over.statusCode).toBe(400);
    expect(over.json().error.details.field).toBe('querystring.limit');
  });

  it('refuses a cursor made by another list, though its parts have the same kinds, and one from before cursors named their list', async () => {
    const { apiKey } = await t.createCompany('Cursors');
    for (const name of ['One', 'Two']) await req(apiKey, 'POST', '/v1/bots', botBody({ name }));
    await req(apiKey, 'POST', '/v1/api-keys', { name: 'second' });
    const botsCursor = (await req(apiKey, 'GET', '/v1/bots?limit=1')).json().next_cursor as string;
    const keysCursor = (await req(apiKey, 'GET', '/v1/api-keys?limit=1')).json().next_cursor as string;
    expect(botsCursor).toBeTruthy();
    expect(keysCursor).toBeTruthy();
    // Each list's cursor (created_at, id) pages its own list…
    expect((await req(apiKey, 'GET', `/v1/bots?limit=1&cursor=${botsCursor}`)).json().data).toHaveLength(1);
    expect((await req(apiKey, 'GET', `/v1/api-keys?limit=1&cursor=${keysCursor}`)).json().data).toHaveLength(1);
    // …and no other, whose rows it would have cut at a time and an id that mean nothing there.
    for (const url of [`/v1/api-keys?cursor=${botsCursor}`, `/v1/bookings?cursor=${botsCursor}`, `/v1/calls?cursor=${botsCursor}`, `/v1/bots?cursor=${keysCursor}`]) {
      const res = await req(apiKey, 'GET', url);
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.details.field).toBe('querystring.cursor');
    }
    // A cursor as they were made before they named their list: [created_at, id].
    const [, ...parts] = JSON.parse(Buffer.from(botsCursor, 'base64url').toString()) as unknown[];
    const old = await req(apiKey, 'GET', `/v1/bots?cursor=${Buffer.from(JSON.stringify(parts)).toString('base64url')}`);
    expect(old.statusCode).toBe(400);
    expect(old.json().error.details.field).toBe('querystring.cursor');
  });
});
