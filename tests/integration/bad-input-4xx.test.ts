/**
 * Values that once reached the database driver and came back as 500s: NUL characters in text, dates outside
 * what PostgreSQL stores. Each is a 400 with a message, and nothing is written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookingRoutes } from '../../src/api/routes/bookings.js';
import { knowledgeRoutes } from '../../src/api/routes/knowledge.js';
import { createBookingService } from '../../src/bookings/service.js';
import { ADMIN_TOKEN, botBody, createTestApp, type TestApp } from '../helpers/app.js';
import { knowledgeHarness } from '../fixtures/knowledge/kb.js';
import { at, salon } from './booking-fixtures.js';

describe('bad input is a 400, never a 500', () => {
  let t: TestApp;
  let key: string;
  let botId: string;
  let bookingId: string;
  const clock = at('2026-03-04T10:00');

  beforeAll(async () => {
    t = await createTestApp({
      tenantRoutes: (db, config) => {
        const kb = knowledgeHarness(db.sql, { maxUploadBytes: config.UPLOAD_MAX_BYTES });
        return [
          bookingRoutes({ sql: db.sql, bookings: createBookingService({ holdSec: 300, now: () => clock }) }),
          knowledgeRoutes({ sql: db.sql, store: kb.store, retriever: kb.retriever, maxUploadBytes: config.UPLOAD_MAX_BYTES, onEnqueued: () => {} }),
        ];
      },
    });
    key = (await t.createCompany('Alpha')).apiKey;
    const bot = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(key), payload: botBody({ config: { greeting: 'Hi', systemPrompt: '', booking: salon } }) });
    botId = bot.json().id;
    const booking = await t.app.inject({
      method: 'POST', url: '/v1/bookings', headers: t.as(key),
      payload: { bot_id: botId, service_id: 'haircut', start: '2026-03-05T09:00:00-05:00', customer_name: 'Alice', customer_phone: '+12125550100' },
    });
    expect(booking.statusCode).toBe(201);
    bookingId = booking.json().id;
  });
  afterAll(async () => t.close());

  const cases: [string, 'GET' | 'POST' | 'PATCH', () => string, () => Record<string, unknown> | undefined, boolean?][] = [
    ['NUL in a bot name', 'POST', () => '/v1/bots', () => botBody({ name: 'Front\u0000desk' })],
    ['NUL in a greeting', 'PATCH', () => `/v1/bots/${botId}`, () => ({ config: { greeting: 'Hi\u0000', systemPrompt: '' } })],
    ['NUL in an API key name', 'POST', () => '/v1/api-keys', () => ({ name: 'ci\u0000' })],
    ['NUL in a search query', 'POST', () => `/v1/bots/${botId}/knowledge/search`, () => ({ query: 'opening\u0000hours' })],
    ['NUL in a cancel reason', 'POST', () => `/v1/bookings/${bookingId}/cancel`, () => ({ reason: 'moved\u0000away' })],
    ['NUL in a company name', 'POST', () => '/v1/admin/companies', () => ({ name: 'Acme\u0000' }), true],
    ['NUL in a query string', 'GET', () => '/v1/bookings?phone=555%000100', () => undefined],
    ['an unpaired surrogate in a bot name (a text column)', 'POST', () => '/v1/bots', () => botBody({ name: 'Front\ud800desk' })],
    ['an unpaired surrogate in a greeting (jsonb)', 'PATCH', () => `/v1/bots/${botId}`, () => ({ config: { greeting: 'Hi\udc00', systemPrompt: '' } })],
    ['an unpaired surrogate in a key of the body', 'PATCH', () => `/v1/bots/${botId}`, () => ({ config: { greeting: 'Hi', systemPrompt: '', ['x\ud800']: 1 } })],
    ['an ESC sequence in a bot name', 'POST', () => '/v1/bots', () => botBody({ name: 'Front\u001b[2Jdesk' })],
    ['a newline in a renamed bot', 'PATCH', () => `/v1/bots/${botId}`, () => ({ name: 'Front\ndesk' })],
    ['a right-to-left override in an API key name', 'POST', () => '/v1/api-keys', () => ({ name: 'report\u202egnp.exe' })],
    ['a C1 control in a company name', 'POST', () => '/v1/admin/companies', () => ({ name: 'Acme\u009b31m' }), true],
    ['year 0000 in a calls filter', 'GET', () => '/v1/calls?from=0000-01-01T00:00:00Z', () => undefined],
    ['year 0000 in a bookings filter', 'GET', () => '/v1/bookings?to=0000-01-01T00:00:00Z', () => undefined],
    ['booking start in year 1', 'POST', () => '/v1/bookings', () => ({ bot_id: botId, service_id: 'haircut', start: '0001-01-01T00:00:00Z', customer_name: 'Bob' })],
    ['booking start at the end of year 9999', 'POST', () => '/v1/bookings', () => ({ bot_id: botId, service_id: 'haircut', start: '9999-12-31T23:30:00Z', customer_name: 'Bob' })],
    ['reschedule to year 9999', 'POST', () => `/v1/bookings/${bookingId}/reschedule`, () => ({ start: '9999-12-31T23:30:00Z' })],
    ['availability from year 1', 'GET', () => `/v1/bots/${botId}/availability?service=haircut&from=0001-01-01T00:00:00Z`, () => undefined],
  ];

  it.each(cases)('%s → 400 with a message', async (_name, method, url, payload, admin) => {
    const body = payload();
    const res = await t.app.inject({
      method, url: url(),
      headers: admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : t.as(key),
      ...(body ? { payload: body } : {}),
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error.code).toBe('PARLEY_ERR_VALIDATION');
    expect(res.json().error.message.length).toBeGreaterThan(5);
  });

  it('names the field holding an unpaired surrogate, and takes a real pair (an emoji) as text', async () => {
    const refused = await t.app.inject({ method: 'PATCH', url: `/v1/bots/${botId}`, headers: t.as(key), payload: { config: { greeting: 'Hi\udc00', systemPrompt: '' } } });
    expect(refused.json().error.details.field).toBe('body.config.greeting');
    expect(refused.json().error.message).toMatch(/unpaired UTF-16 surrogate/);
    const emoji = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(key), payload: { name: 'ci \ud83d\ude00' } });
    expect(emoji.statusCode, emoji.body).toBe(201);
    expect(emoji.json().name).toBe('ci \u{1f600}');
    await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${emoji.json().id}`, headers: t.as(key) });
  });

  it('says what a name may not hold, and takes names in any script', async () => {
    const refused = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(key), payload: { name: 'report\u202egnp.exe' } });
    expect(refused.json().error).toMatchObject({ message: 'body.name must be a name without control characters or direction overrides (U+202A–U+202E, U+2066–U+2069)', details: { field: 'body.name' } });
    const booking = await t.app.inject({
      method: 'POST', url: '/v1/bookings', headers: t.as(key),
      payload: { bot_id: botId, service_id: 'haircut', start: '2026-03-05T10:00:00-05:00', customer_name: 'Bob\u2067', customer_phone: '+12125550100' },
    });
    expect(booking.json().error.details, booking.body).toEqual({ field: 'body.customer_name' });
    const named = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(key), payload: { name: 'Отчёты — تقارير 日報 \u{1f4ca}' } });
    expect(named.statusCode, named.body).toBe(201);
    await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${named.json().id}`, headers: t.as(key) });
  });

  it('wrote nothing for the refused requests', async () => {
    const bots = await t.app.inject({ method: 'GET', url: '/v1/bots', headers: t.as(key) });
    expect((bots.json().data as unknown[]).length).toBe(1);
    const booking = await t.app.inject({ method: 'GET', url: `/v1/bookings/${bookingId}`, headers: t.as(key) });
    expect(booking.json().status).toBe('confirmed');
  });
});
