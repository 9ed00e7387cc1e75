/** Bookings: list/get/create/cancel/reschedule/transition, the booking history, and a bot's availability. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { RootSql } from '../../db/sql.js';
import { badRequest } from '../../errors.js';
import { defaultRegionFor, normalizePhone, phoneForms } from '../../bookings/phone.js';
import { bookingRegions, listBookings, type Booking } from '../../bookings/repo.js';
import { slotView, type BookingServiceApi } from '../../bookings/service.js';
import { BOOKING_STATUSES, type BookingStatus } from '../../bookings/state-machine.js';
import { requireOwned } from '../owned.js';
import { DateTimeInput, IdParams, Label, Page, PageQuery, Timestamp, Uuid, createdKeysetAfter, encodeCursor, errors, parseInstant, parseRange } from '../schemas.js';

const Status = Type.Union(BOOKING_STATUSES.map((s) => Type.Literal(s)), {
  description: 'held → pending|confirmed → in_progress → completed; any non-final → cancelled; a lapsed hold → expired',
});
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const BookingSchema = Type.Object({
  id: Uuid,
  bot_id: Uuid,
  call_id: Nullable(Uuid),
  service_id: Type.String(),
  service_name: Type.String(),
  resource_id: Type.String(),
  resource_name: Type.String(),
  start: Timestamp,
  end: Timestamp,
  status: Status,
  hold_expires_at: Nullable(Timestamp),
  customer_name: Nullable(Type.String()),
  customer_phone: Nullable(Type.String({ description: 'E.164' })),
  price: Nullable(Type.Number()),
  currency: Nullable(Type.String()),
  notes: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const BookingEventSchema = Type.Object({
  from_status: Nullable(Status),
  to_status: Status,
  actor: Type.Union([Type.Literal('caller'), Type.Literal('api'), Type.Literal('system')]),
  reason: Nullable(Type.String()),
  details: Type.Record(Type.String(), Type.Unknown()),
  created_at: Timestamp,
});

const ListQuery = Type.Object(
  {
    ...PageQuery,
    bot_id: Type.Optional(Uuid),
    status: Type.Optional(Status),
    call_id: Type.Optional(Uuid),
    phone: Type.Optional(Type.String({ maxLength: 40, description: 'Customer phone (normalised to E.164)' })),
    from: Type.Optional(DateTimeInput('start ≥ from')),
    to: Type.Optional(DateTimeInput('start < to')),
  },
  { additionalProperties: false },
);

const CreateBody = Type.Object(
  {
    bot_id: Uuid,
    service_id: Type.String({ minLength: 1, maxLength: 64, description: 'A service id from the bot\'s booking config' }),
    start: DateTimeInput('Start time (ISO 8601 with offset); must be a free slot'),
    customer_name: Label({ minLength: 1, maxLength: 200 }),
    customer_phone: Type.String({ minLength: 3, maxLength: 40, description: 'Normalised to E.164 (default region from the bot)' }),
    notes: Type.Optional(Type.String({ maxLength: 2000 })),
    status: Type.Optional(
      Type.Union([Type.Literal('held'), Type.Literal('pending'), Type.Literal('confirmed')], {
        default: 'confirmed',
        description: '"held" reserves the slot for BOOKING_HOLD_SEC until confirmed by a transition',
      }),
    ),
  },
  { additionalProperties: false },
);

const TransitionBody = Type.Object(
  {
    to: Status,
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
const CancelBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false });
const RescheduleBody = Type.Object(
  { start: DateTimeInput(), reason: Type.Optional(Type.String({ maxLength: 500 })) },
  { additionalProperties: false },
);

/**
 * The most slots one availability answer holds. A week at 5-minute granularity around the clock is 2,016; the
 * largest config laid out over the whole 62-day range took half a second of the event loop (bench:availability).
 */
export const AVAILABILITY_PAGE_SLOTS = 1000;

const AvailabilityQuery = Type.Object(
  {
    service: Type.String({ minLength: 1, maxLength: 64, description: 'Service id' }),
    from: Type.Optional(DateTimeInput('Default: now')),
    to: Type.Optional(DateTimeInput('Default: from + 7 days; at most 62 days after from')),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: AVAILABILITY_PAGE_SLOTS, default: AVAILABILITY_PAGE_SLOTS, description: 'Slots at most (the first ones)' })),
  },
  { additionalProperties: false },
);
const AvailabilityResponse = Type.Object({
  service_id: Type.String(),
  timezone: Type.String(),
  slots: Type.Array(Type.Object({ start: Timestamp, end: Timestamp, capacity: Type.Integer({ description: 'Free resources for this slot' }) })),
  next_from: Type.Union([Timestamp, Type.Null()], { description: 'More free slots follow in the range: ask again with this as from (the same to); null when these are all' }),
});

export function toBookingJson(b: Booking): Static<typeof BookingSchema> {
  return {
    id: b.id,
    bot_id: b.botId,
    call_id: b.callId,
    service_id: b.serviceId,
    service_name: b.serviceName,
    resource_id: b.resourceId,
    resource_name: b.resourceName,
    start: b.start,
    end: b.end,
    status: b.status,
    hold_expires_at: b.holdExpiresAt,
    customer_name: b.customerName,
    customer_phone: b.customerPhone,
    price: b.price,
    currency: b.currency,
    notes: b.notes,
    created_at: b.createdAt,
    updated_at: b.updatedAt,
  };
}

const DAY = 86_400_000;

export function bookingRoutes(deps: { sql: RootSql; bookings: BookingServiceApi }): FastifyPluginAsync {
  const { sql, bookings } = deps;
  return async (app) => {
    app.get('/bookings', {
      config: { scope: 'bookings:read' },
      schema: { tags: ['bookings'], summary: 'List bookings, newest first', querystring: ListQuery, response: { 200: Page(BookingSchema), ...errors(400, 401, 404) } },
    }, async (request) => {
      const q = request.query as Static<typeof ListQuery>;
      await requireOwned(sql, request.auth.companyId, 'bot', q.bot_id);
      await requireOwned(sql, request.auth.companyId, 'call', q.call_id);
      const limit = q.limit ?? 50;
      // A number without a country code is read in each region the company's bots (or the given bot) book in, as
      // bookings were stored: a Russian bot's "8 916 123-45-67" finds what it booked.
      let phones: string[] | undefined;
      if (q.phone) phones = phoneForms(q.phone, await bookingRegions(sql, request.auth.companyId, q.bot_id));
      const rows = await listBookings(sql, request.auth.companyId, {
        limit: limit + 1,
        ...(q.bot_id ? { botId: q.bot_id } : {}),
        ...(q.status ? { status: q.status as BookingStatus } : {}),
        ...(q.call_id ? { callId: q.call_id } : {}),
        ...(phones ? { phones } : {}),
        ...parseRange(q),
        after: createdKeysetAfter('bookings', q.cursor),
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return { data: page.map(toBookingJson), next_cursor: rows.length > limit && last ? encodeCursor('bookings', [last.createdAt, last.id]) : null };
    });

    app.get('/bookings/:id', {
      config: { scope: 'bookings:read' },
      schema: { tags: ['bookings'], summary: 'Get a booking', params: IdParams, response: { 200: BookingSchema, ...errors(400, 401, 404) } },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      return toBookingJson(await bookings.get(sql, request.auth.companyId, id));
    });

    app.get('/bookings/:id/events', {
      config: { scope: 'bookings:read' },
      schema: {
        tags: ['bookings'], summary: 'History of a booking: every status change, who made it and why', params: IdParams,
        response: { 200: Type.Object({ data: Type.Array(BookingEventSchema) }), ...errors(400, 401, 404) },
      },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const events = await bookings.history(sql, request.auth.companyId, id);
      return {
        data: events.map((e) => ({ from_status: e.fromStatus, to_status: e.toStatus, actor: e.actor, reason: e.reason, details: e.details, created_at: e.createdAt })),
      };
    });

    app.post('/bookings', {
      config: { scope: 'bookings:write' },
      schema: {
        tags: ['bookings'],
        summary: 'Book a slot (or hold it with status "held"); 409 PARLEY_ERR_SLOT_TAKEN with details.alternatives when taken',
        body: CreateBody,
        response: { 201: BookingSchema, ...errors(400, 401, 404, 409) },
      },
    }, async (request, reply) => {
      const body = request.body as Static<typeof CreateBody>;
      const bot = await bookings.loadBot(sql, request.auth.companyId, body.bot_id);
      const phone = normalizePhone(body.customer_phone, defaultRegionFor(bot.language, bot.settings.defaultRegion));
      const booking = await bookings.reserve(sql, {
        companyId: request.auth.companyId,
        botId: body.bot_id,
        serviceId: body.service_id,
        start: parseInstant(body.start, 'body.start'),
        status: body.status ?? 'confirmed',
        customerName: body.customer_name,
        customerPhone: phone,
        notes: body.notes ?? null,
        actor: 'api',
        reason: 'created through the API',
      });
      return reply.code(201).send(toBookingJson(booking));
    });

    app.post('/bookings/:id/transitions', {
      config: { scope: 'bookings:write' },
      schema: {
        tags: ['bookings'],
        summary: 'Move a booking to another status; 409 PARLEY_ERR_ILLEGAL_TRANSITION when the lifecycle forbids it',
        params: IdParams,
        body: TransitionBody,
        response: { 200: BookingSchema, ...errors(400, 401, 404, 409) },
      },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const body = request.body as Static<typeof TransitionBody>;
      const b = await bookings.transition(sql, { companyId: request.auth.companyId, bookingId: id, to: body.to as BookingStatus, actor: 'api', reason: body.reason ?? null });
      return toBookingJson(b);
    });

    app.post('/bookings/:id/cancel', {
      config: { scope: 'bookings:write' },
      schema: { tags: ['bookings'], summary: 'Cancel a booking', params: IdParams, body: CancelBody, response: { 200: BookingSchema, ...errors(400, 401, 404, 409) } },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const body = (request.body ?? {}) as Static<typeof CancelBody>;
      const b = await bookings.transition(sql, { companyId: request.auth.companyId, bookingId: id, to: 'cancelled', actor: 'api', reason: body.reason ?? null });
      return toBookingJson(b);
    });

    app.post('/bookings/:id/reschedule', {
      config: { scope: 'bookings:write' },
      schema: {
        tags: ['bookings'], summary: 'Move a booking to a new start time (409 PARLEY_ERR_SLOT_TAKEN with alternatives when taken)',
        params: IdParams, body: RescheduleBody, response: { 200: BookingSchema, ...errors(400, 401, 404, 409) },
      },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const body = request.body as Static<typeof RescheduleBody>;
      const b = await bookings.reschedule(sql, { companyId: request.auth.companyId, bookingId: id, start: parseInstant(body.start, 'body.start'), actor: 'api', reason: body.reason ?? null });
      return toBookingJson(b);
    });

    app.get('/bots/:id/availability', {
      config: { scope: 'bookings:read' },
      schema: {
        tags: ['bookings'], summary: 'Free slots of a service for a bot over a time range', params: IdParams,
        querystring: AvailabilityQuery, response: { 200: AvailabilityResponse, ...errors(400, 401, 404) },
      },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const q = request.query as Static<typeof AvailabilityQuery>;
      const from = q.from ? parseInstant(q.from, 'querystring.from') : new Date(bookings.now().toMillis());
      const to = q.to ? parseInstant(q.to, 'querystring.to') : new Date(from.getTime() + 7 * DAY);
      if (to <= from) throw badRequest('to must be after from', { field: 'querystring.to' });
      if (to.getTime() - from.getTime() > 62 * DAY) throw badRequest('The range is at most 62 days', { field: 'querystring.to' });
      // One more than asked: whether the range holds more is known without laying out the rest of it.
      const limit = q.limit ?? AVAILABILITY_PAGE_SLOTS;
      const { bot, slots } = await bookings.availability(sql, { companyId: request.auth.companyId, botId: id, serviceId: q.service, from, to, limit: limit + 1 });
      const more = slots.length > limit ? slots[limit]! : null;
      return { service_id: q.service, timezone: bot.settings.timezone, slots: slots.slice(0, limit).map(slotView), next_from: more ? more.start.toJSDate() : null };
    });
  };
}
