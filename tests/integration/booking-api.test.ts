import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';
import { bookingRoutes } from '../../src/api/routes/bookings.js';
import { createBookingService } from '../../src/bookings/service.js';
import { bookingTools } from '../../src/bookings/tools.js';
import { at, callContext, noControl, salon, seedCall } from './booking-fixtures.js';

let t: TestApp;
const clock = at('2026-03-04T10:00');
const bookings = createBookingService({ holdSec: 300, now: () => clock });
let a: { companyId: string; apiKey: string };
let b: { companyId: string; apiKey: string };
let botId: string;

beforeAll(async () => {
  t = await createTestApp({ tenantRoutes: (db) => [bookingRoutes({ sql: db.sql, bookings })] });
  a = await t.createCompany('A');
  b = await t.createCompany('B');
  const res = await t.app.inject({
    method: 'POST', url: '/v1/bots', headers: t.as(a.apiKey),
    payload: botBody({ config: { greeting: 'Hi', systemPrompt: '', booking: salon } }),
  });
  expect(res.statusCode).toBe(201);
  botId = (res.json() as { id: string }).id;
});
afterAll(async () => t?.close());

const req = (key: string, method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) =>
  t.app.inject({ method, url, headers: t.as(key), ...(payload ? { payload } : {}) });

describe('bookings REST', () => {
  it('a number without a country code finds bookings as the bot stored them: a Russian bot\'s "8 916…" too', async () => {
    const ru = await t.createCompany('RU');
    const made = await req(ru.apiKey, 'POST', '/v1/bots', botBody({ language: 'ru', config: { greeting: 'Здравствуйте', systemPrompt: '', booking: salon } }));
    expect(made.statusCode).toBe(201);
    const ruBot = (made.json() as { id: string }).id;
    const booked = await req(ru.apiKey, 'POST', '/v1/bookings', { bot_id: ruBot, service_id: 'haircut', start: '2026-03-05T11:00:00-05:00', customer_name: 'Анна', customer_phone: '8 916 123-45-67' });
    expect(booked.statusCode, booked.body).toBe(201);
    expect((booked.json() as { customer_phone: string }).customer_phone).toBe('+79161234567');
    for (const query of ['8 916 123-45-67', '+7 916 123 45 67', `8 916 123-45-67&bot_id=${ruBot}`]) {
      const found = await req(ru.apiKey, 'GET', `/v1/bookings?phone=${query.replace(/ /g, '%20').replace('+', '%2B')}`);
      expect(found.statusCode, `${query}: ${found.body}`).toBe(200);
      expect((found.json() as { data: unknown[] }).data, query).toHaveLength(1);
    }
    expect((await req(ru.apiKey, 'GET', '/v1/bookings?phone=abc')).statusCode).toBe(400);
  });

  it('the bot config validates the booking section (bad shapes are 400)', async () => {
    const res = await req(a.apiKey, 'POST', '/v1/bots', botBody({ config: { greeting: 'Hi', booking: { ...salon, slotGranularityMin: 1 } } }));
    expect(res.statusCode).toBe(400);
  });

  it('creates, lists with filters and a cursor, gets, transitions, reschedules and cancels', async () => {
    const create = (start: string, extra: Record<string, unknown> = {}) =>
      req(a.apiKey, 'POST', '/v1/bookings', { bot_id: botId, service_id: 'haircut', start, customer_name: 'Alice', customer_phone: '(212) 555-0100', ...extra });
    const r1 = await create('2026-03-05T09:00:00-05:00');
    expect(r1.statusCode).toBe(201);
    const one = r1.json() as { id: string; customer_phone: string; status: string; price: number };
    expect(one).toMatchObject({ customer_phone: '+12125550100', status: 'confirmed', price: 40, call_id: null });
    const two = (await create('2026-03-05T09:00:00-05:00')).json() as { id: string; resource_id: string };
    expect(two.resource_id).toBe('boris');
    const taken = await create('2026-03-05T09:00:00-05:00');
    expect(taken.statusCode).toBe(409);
    const err = taken.json() as { error: { code: string; details: { alternatives: Array<{ start: string }> } } };
    expect(err.error.code).toBe('PARLEY_ERR_SLOT_TAKEN');
    expect(err.error.details.alternatives.length).toBe(3);
    expect((await create('2026-03-05T09:00:00-05:00', { customer_phone: 'nope' })).statusCode).toBe(400);
    await create('2026-03-06T09:00:00-05:00', { status: 'pending', customer_phone: '+12125550199' });

    const page1 = (await req(a.apiKey, 'GET', '/v1/bookings?limit=2')).json() as { data: Array<{ id: string }>; next_cursor: string };
    expect(page1.data).toHaveLength(2);
    const page2 = (await req(a.apiKey, 'GET', `/v1/bookings?limit=2&cursor=${page1.next_cursor}`)).json() as { data: Array<{ id: string }>; next_cursor: null };
    expect(page2.data).toHaveLength(1);
    expect(page2.next_cursor).toBeNull();
    expect(new Set([...page1.data, ...page2.data].map((x) => x.id)).size).toBe(3);
    const pending = (await req(a.apiKey, 'GET', '/v1/bookings?status=pending')).json() as { data: unknown[] };
    expect(pending.data).toHaveLength(1);
    const byPhone = (await req(a.apiKey, 'GET', `/v1/bookings?phone=${encodeURIComponent('+12125550199')}`)).json() as { data: unknown[] };
    expect(byPhone.data).toHaveLength(1);
    const byRange = (await req(a.apiKey, 'GET', `/v1/bookings?bot_id=${botId}&from=2026-03-06T00:00:00Z&to=2026-03-07T00:00:00Z`)).json() as { data: unknown[] };
    expect(byRange.data).toHaveLength(1);

    expect((await req(a.apiKey, 'GET', `/v1/bookings/${one.id}`)).statusCode).toBe(200);
    const illegal = await req(a.apiKey, 'POST', `/v1/bookings/${one.id}/transitions`, { to: 'completed' });
    expect(illegal.statusCode).toBe(409);
    expect((illegal.json() as { error: { code: string } }).error.code).toBe('PARLEY_ERR_ILLEGAL_TRANSITION');
    const started = await req(a.apiKey, 'POST', `/v1/bookings/${one.id}/transitions`, { to: 'in_progress', reason: 'arrived' });
    expect((started.json() as { status: string }).status).toBe('in_progress');

    const other = two;
    const moved = await req(a.apiKey, 'POST', `/v1/bookings/${other.id}/reschedule`, { start: '2026-03-05T14:00:00-05:00' });
    expect(moved.statusCode).toBe(200);
    expect((moved.json() as { start: string }).start).toBe('2026-03-05T19:00:00.000Z');
    const cancelled = await req(a.apiKey, 'POST', `/v1/bookings/${other.id}/cancel`, { reason: 'client called' });
    expect((cancelled.json() as { status: string }).status).toBe('cancelled');
    const history = (await req(a.apiKey, 'GET', `/v1/bookings/${other.id}/events`)).json() as { data: Array<{ to_status: string; actor: string }> };
    expect(history.data.map((h) => h.to_status)).toEqual(['confirmed', 'confirmed', 'cancelled']);
    expect(history.data.every((h) => h.actor === 'api')).toBe(true);
    // Its body is all optional: none at all is a cancel without a reason (not "body must be object").
    const bare = await req(a.apiKey, 'POST', '/v1/bookings', { bot_id: botId, service_id: 'haircut', start: '2026-03-06T10:00:00-05:00', customer_name: 'Bare', customer_phone: '+12125550199' });
    const noBody = await req(a.apiKey, 'POST', `/v1/bookings/${(bare.json() as { id: string }).id}/cancel`);
    expect(noBody.statusCode, noBody.body).toBe(200);
    expect((noBody.json() as { status: string }).status).toBe('cancelled');
  });

  it('availability per bot and service', async () => {
    const res = await req(a.apiKey, 'GET', `/v1/bots/${botId}/availability?service=color&from=2026-03-09T00:00:00Z&to=2026-03-10T00:00:00Z`);
    expect(res.statusCode).toBe(200);
    const body = res.json() as { timezone: string; slots: Array<{ start: string; capacity: number }> };
    expect(body.timezone).toBe('America/New_York');
    expect(body.slots[0]).toMatchObject({ start: '2026-03-09T09:00:00.000-04:00', capacity: 1 });
    expect((await req(a.apiKey, 'GET', `/v1/bots/${botId}/availability?service=nails`)).statusCode).toBe(400);
  });

  it('availability comes a page at a time: next_from continues where the page stopped', async () => {
    const range = 'from=2026-03-09T00:00:00Z&to=2026-03-11T00:00:00Z';
    const whole = (await req(a.apiKey, 'GET', `/v1/bots/${botId}/availability?service=color&${range}`)).json() as { slots: Array<{ start: string }>; next_from: string | null };
    expect(whole.next_from).toBeNull();
    expect(whole.slots.length).toBeGreaterThan(5);
    const starts: string[] = [];
    let from = '2026-03-09T00:00:00Z';
    for (let pages = 0; pages < 20; pages++) {
      const page = (await req(a.apiKey, 'GET', `/v1/bots/${botId}/availability?service=color&from=${encodeURIComponent(from)}&to=2026-03-11T00:00:00Z&limit=4`)).json() as { slots: Array<{ start: string }>; next_from: string | null };
      expect(page.slots.length).toBeLessThanOrEqual(4);
      starts.push(...page.slots.map((x) => x.start));
      if (!page.next_from) break;
      expect(page.slots).toHaveLength(4);
      from = page.next_from;
    }
    expect(starts).toEqual(whole.slots.map((x) => x.start));
    expect((await req(a.apiKey, 'GET', `/v1/bots/${botId}/availability?service=color&${range}&limit=1001`)).statusCode).toBe(400);
  });

  it('another company gets 404 for the bookings and the bot', async () => {
    const list = (await req(a.apiKey, 'GET', '/v1/bookings')).json() as { data: Array<{ id: string }> };
    const id = list.data[0]!.id;
    expect((await req(b.apiKey, 'GET', `/v1/bookings/${id}`)).statusCode).toBe(404);
    expect((await req(b.apiKey, 'POST', `/v1/bookings/${id}/cancel`, {})).statusCode).toBe(404);
    expect((await req(b.apiKey, 'POST', `/v1/bookings/${id}/transitions`, { to: 'cancelled' })).statusCode).toBe(404);
    expect((await req(b.apiKey, 'GET', `/v1/bots/${botId}/availability?service=haircut`)).statusCode).toBe(404);
    expect((await req(b.apiKey, 'POST', '/v1/bookings', { bot_id: botId, service_id: 'haircut', start: '2026-03-05T10:00:00-05:00', customer_name: 'X', customer_phone: '+12125550100' })).statusCode).toBe(404);
    expect(((await req(b.apiKey, 'GET', '/v1/bookings')).json() as { data: unknown[] }).data).toEqual([]);
  });

  it('a booking made by a tool during a call appears in the REST list with its call id', async () => {
    const bot = (await req(a.apiKey, 'GET', `/v1/bots/${botId}`)).json() as { id: string; name: string; language: 'en'; config: never };
    const callId = await seedCall(t.db.sql, a.companyId, botId, '+12125550142');
    const book = bookingTools({ service: bookings, holdSec: 300, now: () => clock, db: t.db.sql }).find((x) => x.spec.name === 'book_appointment')!;
    const out = await book.run(
      { service: 'haircut', when: 'Monday at 10 am', customer_name: 'Carol' },
      callContext(t.db.sql, a.companyId, bot, callId, '+12125550142'),
      noControl,
      new AbortController().signal,
    );
    const id = (out.content as { booking_id: string }).booking_id;
    const list = (await req(a.apiKey, 'GET', `/v1/bookings?call_id=${callId}`)).json() as { data: Array<{ id: string; call_id: string; customer_name: string }> };
    expect(list.data).toEqual([expect.objectContaining({ id, call_id: callId, customer_name: 'Carol', customer_phone: '+12125550142' })]);
  });
});
