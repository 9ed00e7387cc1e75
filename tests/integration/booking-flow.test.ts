import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { createBookingService } from '../../src/bookings/service.js';
import { bookingTools } from '../../src/bookings/tools.js';
import { listBookings } from '../../src/bookings/repo.js';
import { ParleyError } from '../../src/errors.js';
import { ToolRegistry } from '../../src/call/tool-registry.js';
import type { Tool } from '../../src/call/tool-types.js';
import { at, callContext, noControl, seedBot, seedCall, seedCompany } from './booking-fixtures.js';

let db: TestDatabase;
let clock = 0;
const HOLD_SEC = 300;
const bookings = createBookingService({ holdSec: HOLD_SEC, now: () => clock });
let tools: Map<string, Tool>;
let companyA: string;
let companyB: string;
let botA: Awaited<ReturnType<typeof seedBot>>;
let botRu: Awaited<ReturnType<typeof seedBot>>;
let botB: Awaited<ReturnType<typeof seedBot>>;
const signal = new AbortController().signal;

async function expectError(p: Promise<unknown>, code: string): Promise<ParleyError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ParleyError);
    expect((e as ParleyError).code).toBe(code);
    return e as ParleyError;
  }
  throw new Error(`expected ${code}`);
}

const reserveA = (start: string, extra: Partial<Parameters<typeof bookings.reserve>[1]> = {}) =>
  bookings.reserve(db.sql, {
    companyId: companyA, botId: botA.id, serviceId: 'haircut', start: new Date(at(start)), status: 'confirmed',
    customerName: 'Alice', customerPhone: '+12125550100', actor: 'api', ...extra,
  });

beforeAll(async () => {
  db = await createTestDb();
  companyA = await seedCompany(db.sql, 'Salon A', 'https://hooks.example.com/a');
  companyB = await seedCompany(db.sql, 'Salon B');
  botA = await seedBot(db.sql, companyA);
  botRu = await seedBot(db.sql, companyA, 'ru');
  botB = await seedBot(db.sql, companyB);
  tools = new Map(bookingTools({ service: bookings, holdSec: HOLD_SEC, now: () => clock, db: db.sql }).map((t) => [t.spec.name, t]));
});
afterAll(async () => db?.close());
beforeEach(async () => {
  clock = at('2026-03-04T10:00'); // Wednesday
  await db.sql`delete from bookings`;
});

describe('reserve', () => {
  it('books the first free resource, then the next; then SLOT_TAKEN with the nearest free alternatives', async () => {
    const first = await reserveA('2026-03-05T15:00');
    const second = await reserveA('2026-03-05T15:00');
    expect([first.resourceId, second.resourceId]).toEqual(['anna', 'boris']);
    expect(first).toMatchObject({ status: 'confirmed', price: 40, currency: 'USD', serviceName: 'Haircut', customerPhone: '+12125550100' });
    expect(new Date(first.end).getTime() - new Date(first.start).getTime()).toBe(3_600_000);
    const err = await expectError(reserveA('2026-03-05T15:00'), 'PARLEY_ERR_SLOT_TAKEN');
    const alts = err.details!.alternatives as Array<{ start: string; end: string }>;
    expect(alts).toHaveLength(3);
    for (const a of alts) {
      const s = new Date(a.start).getTime();
      const e = new Date(a.end).getTime();
      expect(s >= at('2026-03-05T16:00') || e <= at('2026-03-05T15:00')).toBe(true);
    }
    expect(alts.map((a) => new Date(a.start).getTime())).toContain(at('2026-03-05T16:00'));
    // Availability reflects both bookings.
    const { slots } = await bookings.availability(db.sql, {
      companyId: companyA, botId: botA.id, serviceId: 'haircut', from: new Date(at('2026-03-05T14:00')), to: new Date(at('2026-03-05T17:00')),
    });
    expect(slots.map((s) => s.start.toFormat('HH:mm'))).toEqual(['14:00', '16:00']);
  });

  it('rejects times off the schedule, in the past or inside the lead time', async () => {
    await expectError(reserveA('2026-03-05T12:00'), 'PARLEY_ERR_VALIDATION'); // lunch break
    await expectError(reserveA('2026-03-07T10:00'), 'PARLEY_ERR_VALIDATION'); // Saturday
    await expectError(reserveA('2026-03-04T10:30'), 'PARLEY_ERR_VALIDATION'); // lead time
    await expectError(reserveA('2026-03-03T10:00'), 'PARLEY_ERR_VALIDATION'); // past
    await expectError(reserveA('2026-03-05T15:10'), 'PARLEY_ERR_VALIDATION'); // off the granularity
  });

  it('the database refuses an overlapping live row even when the application does not check', async () => {
    const b = await reserveA('2026-03-05T09:00', { serviceId: 'color' });
    const err = await db.sql`
      insert into bookings (company_id, bot_id, service_id, service_name, resource_id, resource_name, starts_at, ends_at, status)
      values (${companyA}, ${botA.id}, 'haircut', 'Haircut', 'anna', 'Anna', ${new Date(at('2026-03-05T10:00'))}, ${new Date(at('2026-03-05T11:00'))}, 'confirmed')`
      .then(() => null, (e: { code?: string }) => e);
    expect(err?.code).toBe('23P01');
    // A cancelled booking frees its time.
    await bookings.transition(db.sql, { companyId: companyA, bookingId: b.id, to: 'cancelled', actor: 'api' });
    expect((await reserveA('2026-03-05T10:00', { serviceId: 'color' })).resourceId).toBe('anna');
  });
});

describe('state machine', () => {
  it('pending → confirmed → in_progress → completed, recording who and why; illegal moves answer 409', async () => {
    const b = await reserveA('2026-03-05T09:00', { status: 'pending', actor: 'caller', reason: 'asked by phone' });
    await expectError(bookings.transition(db.sql, { companyId: companyA, bookingId: b.id, to: 'completed', actor: 'api' }), 'PARLEY_ERR_ILLEGAL_TRANSITION');
    for (const to of ['confirmed', 'in_progress', 'completed'] as const) {
      const moved = await bookings.transition(db.sql, { companyId: companyA, bookingId: b.id, to, actor: to === 'in_progress' ? 'system' : 'api', reason: `to ${to}` });
      expect(moved.status).toBe(to);
    }
    await expectError(bookings.transition(db.sql, { companyId: companyA, bookingId: b.id, to: 'cancelled', actor: 'api' }), 'PARLEY_ERR_ILLEGAL_TRANSITION');
    const history = await bookings.history(db.sql, companyA, b.id);
    expect(history.map((h) => [h.fromStatus, h.toStatus, h.actor, h.reason])).toEqual([
      [null, 'pending', 'caller', 'asked by phone'],
      ['pending', 'confirmed', 'api', 'to confirmed'],
      ['confirmed', 'in_progress', 'system', 'to in_progress'],
      ['in_progress', 'completed', 'api', 'to completed'],
    ]);
  });

  it('emits booking.created / updated / cancelled in the same transaction', async () => {
    await db.sql`delete from webhook_events`;
    const b = await reserveA('2026-03-05T09:00');
    await bookings.reschedule(db.sql, { companyId: companyA, bookingId: b.id, start: new Date(at('2026-03-05T10:00')), actor: 'api' });
    await bookings.transition(db.sql, { companyId: companyA, bookingId: b.id, to: 'cancelled', actor: 'api' });
    const events = await db.sql`select type, body from webhook_events where company_id = ${companyA} order by seq`;
    expect(events.map((e) => e.type)).toEqual(['booking.created', 'booking.updated', 'booking.cancelled']);
    const body = JSON.parse(events[0]!.body as string) as { data: Record<string, unknown> };
    expect(body.data).toMatchObject({ booking_id: b.id, bot_id: botA.id, call_id: null, status: 'confirmed' });
    // A failed booking leaves no event behind.
    await reserveA('2026-03-05T14:00');
    await reserveA('2026-03-05T14:00');
    await expectError(reserveA('2026-03-05T14:00'), 'PARLEY_ERR_SLOT_TAKEN');
    const [{ n }] = (await db.sql`select count(*)::int as n from webhook_events where type = 'booking.created'`) as unknown as [{ n: number }];
    expect(n).toBe(3);
  });

  it('another company cannot read or move a booking (404)', async () => {
    const b = await reserveA('2026-03-05T09:00');
    await expectError(bookings.get(db.sql, companyB, b.id), 'PARLEY_ERR_NOT_FOUND');
    await expectError(bookings.transition(db.sql, { companyId: companyB, bookingId: b.id, to: 'cancelled', actor: 'api' }), 'PARLEY_ERR_NOT_FOUND');
    await expectError(bookings.reschedule(db.sql, { companyId: companyB, bookingId: b.id, start: new Date(at('2026-03-05T10:00')), actor: 'api' }), 'PARLEY_ERR_NOT_FOUND');
    await expectError(bookings.availability(db.sql, { companyId: companyB, botId: botA.id, serviceId: 'haircut', from: new Date(clock), to: new Date(clock + 86_400_000) }), 'PARLEY_ERR_NOT_FOUND');
    expect(await listBookings(db.sql, companyB, { limit: 50 })).toEqual([]);
    // Company B's own calendar is separate even with the same resource ids.
    const own = await bookings.reserve(db.sql, { companyId: companyB, botId: botB.id, serviceId: 'color', start: new Date(at('2026-03-05T09:00')), status: 'confirmed', actor: 'api' });
    expect(own.resourceId).toBe('anna');
  });
});

describe('holds', () => {
  it('a live hold blocks; a lapsed hold never blocks and is marked expired; cleanup expires the rest', async () => {
    const hold = await reserveA('2026-03-05T09:00', { serviceId: 'color', status: 'held' });
    expect(hold.holdExpiresAt).toBe(new Date(clock + HOLD_SEC * 1000).toISOString());
    await expectError(reserveA('2026-03-05T09:00', { serviceId: 'color' }), 'PARLEY_ERR_SLOT_TAKEN');
    clock += (HOLD_SEC + 1) * 1000;
    const b = await reserveA('2026-03-05T09:00', { serviceId: 'color' });
    expect(b.status).toBe('confirmed');
    expect((await bookings.get(db.sql, companyA, hold.id)).status).toBe('expired');
    await expectError(bookings.transition(db.sql, { companyId: companyA, bookingId: hold.id, to: 'confirmed', actor: 'api' }), 'PARLEY_ERR_ILLEGAL_TRANSITION');

    const other = await reserveA('2026-03-06T09:00', { status: 'held' });
    expect(await bookings.expireStaleHolds(db.sql)).toBe(0);
    clock += (HOLD_SEC + 1) * 1000;
    expect(await bookings.expireStaleHolds(db.sql)).toBe(1);
    expect((await bookings.get(db.sql, companyA, other.id)).status).toBe('expired');
  });

  it('confirming a live hold keeps its row; confirming a lapsed one answers 409 and expires it', async () => {
    const hold = await reserveA('2026-03-05T09:00', { status: 'held' });
    const confirmed = await bookings.transition(db.sql, { companyId: companyA, bookingId: hold.id, to: 'confirmed', actor: 'api' });
    expect(confirmed).toMatchObject({ id: hold.id, status: 'confirmed', holdExpiresAt: null });
    const late = await reserveA('2026-03-05T10:00', { status: 'held' });
    clock += HOLD_SEC * 1000;
    const err = await expectError(bookings.transition(db.sql, { companyId: companyA, bookingId: late.id, to: 'confirmed', actor: 'api' }), 'PARLEY_ERR_ILLEGAL_TRANSITION');
    expect(err.details?.reason).toBe('hold_expired');
    expect((await bookings.get(db.sql, companyA, late.id)).status).toBe('expired');
  });
});

describe('in-call tools', () => {
  const run = (name: string, args: Record<string, unknown>, ctx: ReturnType<typeof callContext>) => tools.get(name)!.run(args, ctx, noControl, signal);

  it('check_availability holds the exact time; book_appointment confirms that hold with the call id', async () => {
    const callId = await seedCall(db.sql, companyA, botA.id, '+12125550100');
    const ctx = callContext(db.sql, companyA, botA, callId, '+12125550100');
    const offer = await run('check_availability', { service: 'a haircut', when: 'tomorrow at 3 pm' }, ctx);
    const content = offer.content as { available: boolean; slots: Array<{ start: string; label: string }>; service: string; timezone: string };
    expect(content).toMatchObject({ available: true, service: 'Haircut', timezone: 'America/New_York' });
    expect(content.slots).toEqual([{ start: '2026-03-05T15:00:00.000-05:00', label: 'tomorrow at 3:00 PM' }]);
    const [held] = await listBookings(db.sql, companyA, { limit: 5, callId });
    expect(held!.status).toBe('held');

    const booked = await run('book_appointment', { service: 'haircut', when: 'tomorrow at 3 pm', customer_name: 'Alice', notes: 'short' }, ctx);
    expect(booked.content).toMatchObject({ booking_id: held!.id, status: 'confirmed', label: 'tomorrow at 3:00 PM' });
    expect(booked.say).toBe("You're booked for Haircut tomorrow at 3:00 PM.");
    const [row] = await listBookings(db.sql, companyA, { limit: 5, callId });
    expect(row).toMatchObject({ id: held!.id, callId, customerName: 'Alice', customerPhone: '+12125550100', notes: 'short', status: 'confirmed' });
  });

  it('a window offers spread-out slots; a new hold replaces the call\'s previous one', async () => {
    const callId = await seedCall(db.sql, companyA, botA.id, '+12125550100');
    const ctx = callContext(db.sql, companyA, botA, callId, '+12125550100');
    const morning = await run('check_availability', { service: 'Haircut', when: 'next Monday morning' }, ctx);
    const slots = (morning.content as { slots: Array<{ start: string; label: string }> }).slots;
    expect(slots.length).toBeGreaterThan(1);
    expect(slots[0]!.label).toBe('on Monday at 9:00 AM');
    expect(slots.every((s) => s.start.startsWith('2026-03-09T') && s.start.endsWith('-04:00'))).toBe(true); // after DST
    await run('check_availability', { service: 'Haircut', when: 'tomorrow at 9' }, ctx);
    await run('check_availability', { service: 'Haircut', when: 'tomorrow at 10' }, ctx);
    const rows = await listBookings(db.sql, companyA, { limit: 10, callId });
    expect(rows.filter((r) => r.status === 'held').map((r) => r.start)).toEqual([new Date(at('2026-03-05T10:00')).toISOString()]);
  });

  it('a hold expiring mid-call lets another caller take the slot; the first caller gets slot_taken with alternatives', async () => {
    const call1 = await seedCall(db.sql, companyA, botA.id, '+12125550100');
    const call2 = await seedCall(db.sql, companyA, botA.id, '+12125550199');
    const ctx1 = callContext(db.sql, companyA, botA, call1, '+12125550100');
    const ctx2 = callContext(db.sql, companyA, botA, call2, '+12125550199');
    const offer = await run('check_availability', { service: 'coloring', when: 'Friday at 10 am' }, ctx1);
    expect((offer.content as { available: boolean }).available).toBe(true);
    // While the hold lives, the only colorist is taken for caller 2.
    const blocked = await run('book_appointment', { service: 'coloring', when: 'Friday at 10 am', customer_name: 'Bob' }, ctx2);
    expect((blocked.content as { error: string }).error).toBe('slot_taken');
    clock += (HOLD_SEC + 30) * 1000; // caller 1 dithers past the hold
    const taken = await run('book_appointment', { service: 'coloring', when: 'Friday at 10 am', customer_name: 'Bob' }, ctx2);
    expect((taken.content as { status: string }).status).toBe('confirmed');
    const late = await run('book_appointment', { service: 'coloring', when: 'Friday at 10 am', customer_name: 'Alice' }, ctx1);
    const content = late.content as { error: string; alternatives: Array<{ start: string; label: string }> };
    expect(content.error).toBe('slot_taken');
    expect(content.alternatives.length).toBeGreaterThan(0);
    expect(content.alternatives.map((a) => a.start)).not.toContain('2026-03-06T10:00:00.000-05:00');
    expect(late.say).toMatch(/^Sorry, that time is taken\. I can offer /);
  });

  it('find_my_booking, reschedule_booking and cancel_booking act on the caller\'s own bookings only', async () => {
    const callId = await seedCall(db.sql, companyA, botA.id, '+12125550100');
    const ctx = callContext(db.sql, companyA, botA, callId, '(212) 555-0100');
    await run('book_appointment', { service: 'haircut', when: 'Thursday at 11', customer_name: 'Alice' }, ctx);
    const stranger = callContext(db.sql, companyA, botA, callId, '+12125550199');
    expect((await run('find_my_booking', {}, stranger)).content).toEqual({ bookings: [] });
    const mine = (await run('find_my_booking', {}, ctx)).content as { bookings: Array<{ booking_id: string; label: string }> };
    expect(mine.bookings).toHaveLength(1);
    expect(mine.bookings[0]!.label).toBe('tomorrow at 11:00 AM');
    expect((await run('cancel_booking', { booking_id: mine.bookings[0]!.booking_id }, stranger)).content).toEqual({ error: 'booking_not_found' });
    expect((await run('cancel_booking', {}, stranger)).content).toEqual({ error: 'no_upcoming_bookings' });

    const moved = await run('reschedule_booking', { when: 'Friday at 2 pm' }, ctx);
    expect(moved.content).toMatchObject({ booking_id: mine.bookings[0]!.booking_id, label: 'on Friday at 2:00 PM' });
    const cancelled = await run('cancel_booking', { reason: 'sick' }, ctx);
    expect(cancelled.content).toMatchObject({ status: 'cancelled' });
    expect(cancelled.say).toBe('Your appointment on Friday at 2:00 PM is cancelled.');
    const history = await bookings.history(db.sql, companyA, mine.bookings[0]!.booking_id);
    expect(history.at(-1)).toMatchObject({ toStatus: 'cancelled', actor: 'caller', reason: 'sick' });
  });

  it('the older tools: a real caller ID is the only identity; without one, the number and the name must both match', async () => {
    const vera = await reserveA('2026-03-06T10:00', { customerName: 'Vera Stone', customerPhone: '+12125550199' });
    const callId = await seedCall(db.sql, companyA, botA.id, '');
    const claim = { customer_phone: '212 555 0199', customer_name: 'Vera Stone' };
    // A caller with a caller ID of their own names Vera's number and name: ignored.
    const stranger = callContext(db.sql, companyA, botA, callId, '+12125550111');
    expect((await run('find_my_booking', claim, stranger)).content).toEqual({ bookings: [] });
    expect((await run('cancel_booking', { ...claim, booking_id: vera.id }, stranger)).content).toEqual({ error: 'booking_not_found' });
    expect((await run('reschedule_booking', { ...claim, when: 'Friday at 2 pm' }, stranger)).content).toEqual({ error: 'no_upcoming_bookings' });
    // No caller ID: a web call, or a withheld number Twilio reports as a made-up one.
    for (const callerNumber of [null, '+86282452253', 'anonymous']) {
      const ctx = callContext(db.sql, companyA, botA, callId, callerNumber);
      expect((await run('find_my_booking', {}, ctx)).content).toMatchObject({ error: 'caller_not_identified', missing: 'customer_phone' });
      expect((await run('cancel_booking', { customer_phone: '212 555 0199' }, ctx)).content).toMatchObject({ error: 'caller_not_identified', missing: 'customer_name' });
      const wrongName = await run('cancel_booking', { customer_phone: '212 555 0199', customer_name: 'Mallory' }, ctx);
      const unknownNumber = await run('cancel_booking', { customer_phone: '212 555 0177', customer_name: 'Vera Stone' }, ctx);
      // The same answer either way: no hint whether the number has bookings.
      expect(wrongName).toEqual(unknownNumber);
      expect(wrongName).toEqual({ content: { error: 'booking_not_found' }, say: "Sorry, I can't find a booking under those details. Is there anything else I can help with?" });
    }
    expect((await bookings.get(db.sql, companyA, vera.id)).status).toBe('confirmed');
    const web = callContext(db.sql, companyA, botA, await seedCall(db.sql, companyA, botA.id, ''), null);
    expect((await run('find_my_booking', claim, web)).content).toMatchObject({ bookings: [{ booking_id: vera.id }] });
    expect((await run('reschedule_booking', { ...claim, when: 'Friday at 2 pm' }, web)).content).toMatchObject({ booking_id: vera.id, label: 'on Friday at 2:00 PM' });
    expect((await run('cancel_booking', { ...claim, reason: 'sick\u0000' }, web)).content).toMatchObject({ status: 'cancelled' });
    expect((await bookings.history(db.sql, companyA, vera.id)).at(-1)).toMatchObject({ toStatus: 'cancelled', reason: 'sick' });
  });

  it('book_appointment refuses a name the database could not hold and strips control characters from names and notes', async () => {
    const ctx = callContext(db.sql, companyA, botA, await seedCall(db.sql, companyA, botA.id, ''), '+12125550100');
    expect((await run('book_appointment', { service: 'haircut', when: 'Thursday at 11', customer_name: 'A'.repeat(201) }, ctx)).content)
      .toEqual({ error: 'customer_name_too_long', max: 200 });
    expect(await listBookings(db.sql, companyA, { limit: 5, botId: botA.id })).toHaveLength(0);
    const booked = await run('book_appointment', { service: 'haircut', when: 'Thursday at 11', customer_name: 'Ann\u0000Lee', notes: 'gate 12\u000034' }, ctx);
    const [b] = await listBookings(db.sql, companyA, { limit: 5, botId: botA.id });
    expect(b).toMatchObject({ id: (booked.content as { booking_id: string }).booking_id, customerName: 'Ann Lee', notes: 'gate 1234' });
  });

  it('every string argument of the booking tools is bounded: what is stored as given as the database bounds it, what is read first as a sentence', () => {
    for (const tool of tools.values()) {
      const props = tool.spec.parameters.properties as Record<string, { type?: string; maxLength?: number; minLength?: number }>;
      for (const [key, p] of Object.entries(props)) {
        if (p.type !== 'string' || 'enum' in p) continue;
        expect(p.maxLength, `${tool.spec.name}.${key}`).toBeGreaterThan(0);
        if (key === 'customer_name') expect([p.minLength, p.maxLength], `${tool.spec.name}.${key}`).toEqual([1, 200]);
        if (key === 'notes') expect(p.maxLength).toBe(2000);
        // Said, then read: a number in words (stored as E.164), a time, a reason cut to fit.
        if (key === 'phone' || key === 'customer_phone' || key === 'when' || key === 'service') expect(p.maxLength, `${tool.spec.name}.${key}`).toBe(200);
        if (key === 'reason') expect(p.maxLength).toBe(2000);
      }
    }
  });

  it('a web caller\'s number said in words reaches the tools through their schemas and is stored as E.164; a long reason is cut, not refused', async () => {
    const registry = new ToolRegistry([...tools.values()]);
    const call = async (name: string, args: Record<string, unknown>, ctx: ReturnType<typeof callContext>) =>
      (await registry.call(name, args, ctx, noControl, signal)).content as Record<string, unknown>;
    const web = callContext(db.sql, companyA, botA, await seedCall(db.sql, companyA, botA.id, ''), null);
    const said = 'two one two, five five five, zero one four seven'; // 48 characters: more than the 40 of digits
    const booked = await call('book_appointment', { service: 'haircut', when: 'Thursday at 11', customer_name: 'Ann Lee', customer_phone: said }, web);
    expect(booked).toMatchObject({ status: 'confirmed', label: 'tomorrow at 11:00 AM' });
    expect(await bookings.get(db.sql, companyA, booked.booking_id as string)).toMatchObject({ customerPhone: '+12125550147', customerName: 'Ann Lee' });
    const later = callContext(db.sql, companyA, botA, await seedCall(db.sql, companyA, botA.id, ''), null);
    expect(await call('find_my_booking', { customer_phone: said, customer_name: 'Ann Lee' }, later)).toMatchObject({ bookings: [{ booking_id: booked.booking_id }] });
    const reason = 'my daughter is ill and I have to stay home with her, '.repeat(12).trim(); // ~640 characters
    expect(await call('cancel_booking', { customer_phone: said, customer_name: 'Ann Lee', reason }, later)).toMatchObject({ status: 'cancelled' });
    expect((await bookings.history(db.sql, companyA, booked.booking_id as string)).at(-1)!.reason).toBe(reason.slice(0, 500));
    // A Russian number in words (72 characters), read with the bot's region.
    const ru = callContext(db.sql, companyA, botRu, await seedCall(db.sql, companyA, botRu.id, ''), null);
    const bookedRu = await call('book_appointment', {
      service: 'стрижка', when: 'в четверг в 11', customer_name: 'Иван', customer_phone: 'восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь',
    }, ru);
    expect(await bookings.get(db.sql, companyA, bookedRu.booking_id as string)).toMatchObject({ customerPhone: '+79161234567' });
  });

  describe('check_availability before a move', () => {
    type Check = { available?: boolean; slots?: Array<{ start: string; label: string }>; service?: string; error?: string };
    /** As the agent calls it: the arguments checked against the tool's schema first. */
    const check = async (args: Record<string, unknown>, ctx: ReturnType<typeof callContext>) =>
      (await new ToolRegistry([...tools.values()]).call('check_availability', args, ctx, noControl, signal)).content as Check;
    const heldBy = async (callId: string) => (await listBookings(db.sql, companyA, { limit: 10, callId })).filter((b) => b.status === 'held');
    /** Alice's coloring tomorrow 10:00–11:30 with the only colorist (Anna). */
    const aliceColoring = () => reserveA('2026-03-05T10:00', { serviceId: 'color' });

    it('the caller\'s own booking is free to its move (by less than its length), nothing is held, and the move goes through', async () => {
      const mine = await aliceColoring();
      const callId = await seedCall(db.sql, companyA, botA.id, '+12125550100');
      const ctx = callContext(db.sql, companyA, botA, callId, '+12125550100');
      // Without the booking: its own time makes half an hour later look taken.
      expect(await check({ service: 'coloring', when: 'tomorrow at 10:30' }, ctx)).toMatchObject({ available: false });
      // With it (the service may be left out: the booking's own).
      const free = await check({ booking_id: mine.id, when: 'tomorrow at 10:30' }, ctx);
      expect(free).toEqual({ service: 'Coloring', timezone: 'America/New_York', available: true, slots: [{ start: '2026-03-05T10:30:00.000-05:00', label: 'tomorrow at 10:30 AM' }] });
      expect(await heldBy(callId)).toHaveLength(0);
      expect(await check({ booking_id: 'x'.repeat(37), when: 'tomorrow at 10:30' }, ctx)).toMatchObject({ error: 'invalid_arguments' });
      const morning = await check({ service: 'coloring', booking_id: mine.id, when: 'tomorrow morning' }, ctx);
      expect(morning.slots!.map((x) => x.label)).toContain('tomorrow at 10:00 AM');
      const moved = await run('reschedule_booking', { booking_id: mine.id, when: 'tomorrow at 10:30' }, ctx);
      expect(moved.content).toMatchObject({ booking_id: mine.id, label: 'tomorrow at 10:30 AM' });
      // Another service is no move of this booking: its time stays taken there.
      expect(await check({ service: 'haircut', booking_id: mine.id, when: 'tomorrow at 11:00' }, ctx)).toMatchObject({ available: true });
      expect((await heldBy(callId)).map((b) => b.resourceId)).toEqual(['boris']);
    });

    it('someone else\'s booking id, or one the caller has not proven theirs, changes nothing in the answer', async () => {
      const vera = await reserveA('2026-03-05T10:00', { serviceId: 'color', customerName: 'Vera Stone', customerPhone: '+12125550199' });
      const asked = { service: 'coloring', when: 'tomorrow at 10:30' };
      const claims: Array<[string | null, Record<string, unknown>]> = [
        ['+12125550111', {}], // another caller ID
        ['+12125550111', { customer_phone: '212 555 0199', customer_name: 'Vera Stone' }], // a caller ID is not replaced
        [null, {}], // a web call that proves nothing
        [null, { customer_phone: '212 555 0199', customer_name: 'Mallory' }], // the wrong name
      ];
      for (const [callerNumber, claim] of claims) {
        const callId = await seedCall(db.sql, companyA, botA.id, callerNumber ?? '');
        const ctx = callContext(db.sql, companyA, botA, callId, callerNumber);
        const plain = await check(asked, ctx);
        expect(plain, JSON.stringify(claim)).toMatchObject({ available: false });
        expect(await check({ ...asked, ...claim, booking_id: vera.id }, ctx), JSON.stringify(claim)).toEqual(plain);
        expect(await check({ when: 'tomorrow at 10:30', ...claim, booking_id: vera.id }, ctx)).toEqual(await check({ when: 'tomorrow at 10:30' }, ctx));
      }
      // Vera herself on a web call, with her number and name: free to her move.
      const web = callContext(db.sql, companyA, botA, await seedCall(db.sql, companyA, botA.id, ''), null);
      expect(await check({ ...asked, customer_phone: '212 555 0199', customer_name: 'Vera Stone', booking_id: vera.id }, web)).toMatchObject({ available: true });
    });

    it('a time check_availability held for the call does not block reschedule_booking moving there', async () => {
      const mine = await aliceColoring();
      const callId = await seedCall(db.sql, companyA, botA.id, '+12125550100');
      const ctx = callContext(db.sql, companyA, botA, callId, '+12125550100');
      expect(await check({ service: 'coloring', when: 'Friday at 2 pm' }, ctx)).toMatchObject({ available: true });
      const moved = await run('reschedule_booking', { when: 'Friday at 2 pm' }, ctx);
      expect(moved.content).toMatchObject({ booking_id: mine.id, label: 'on Friday at 2:00 PM' });
      expect(await heldBy(callId)).toHaveLength(0);
    });
  });

  it('speaks Russian for a Russian bot and matches Russian service names', async () => {
    const callId = await seedCall(db.sql, companyA, botRu.id, '+79161234567');
    const ctx = callContext(db.sql, companyA, botRu, callId, '+79161234567');
    const offer = await run('check_availability', { service: 'стрижку', when: 'завтра в три часа дня' }, ctx);
    expect((offer.content as { slots: Array<{ label: string }> }).slots[0]!.label).toBe('завтра в 15:00');
    const booked = await run('book_appointment', { service: 'стрижку', when: 'завтра в три часа дня', customer_name: 'Иван' }, ctx);
    expect(booked.say).toBe('Готово, вы записаны: Haircut, завтра в 15:00.');
    const unknown = await run('check_availability', { service: 'массаж' }, ctx);
    expect((unknown.content as { error: string }).error).toBe('unknown_service');
  });
});
