/**
 * The booking operations the call tools and the REST API share: availability, hold/book, transitions,
 * reschedule. The database's exclusion constraint is the guarantee against double booking; this code only
 * chooses which resource to try next when the constraint says no (SQLSTATE 23P01).
 */
import { DateTime } from 'luxon';
import type postgres from 'postgres';
import type { Db } from '../db/sql.js';
import { ParleyError, badRequest, notFound } from '../errors.js';
import { atomically } from '../db/retry.js';
import { isUuid } from '../util/uuid.js';
import { emitEvent, type WebhookEventType } from '../webhooks/emit.js';
import { bookableWindow, computeSlots, nearestSlotsAround, type Slot } from './availability.js';
import { bookingSettings, resourcesFor, type BookingConfig, type BookingSettings, type BookingService } from './config-schema.js';
import {
  busyIntervals,
  endCallHolds,
  expireHolds,
  getBooking,
  insertBooking,
  listEvents,
  recordEvent,
  toBooking,
  type Booking,
  type BookingEvent,
} from './repo.js';
import { assertTransition, isLive, type Actor, type BookingStatus } from './state-machine.js';

export interface BookingServiceOptions {
  /** How long a hold lasts (BOOKING_HOLD_SEC). */
  holdSec: number;
  /** Injectable clock, epoch ms. */
  now?: () => number;
  /** How many nearest free slots a slot-taken answer offers. */
  alternatives?: number;
}

export interface BookingBot {
  id: string;
  companyId: string;
  language: 'en' | 'ru';
  settings: BookingSettings;
}

/**
 * The booking settings a live call started with (its copy of the bot's config, call-booking.ts): the call's tools
 * book by them — services, prices, lengths, hours, resources — as its prompt and its lines were made from them, so
 * what the caller was told and what is stored agree when the company edits the bot mid-call. Without them (the REST
 * API) the bot's current settings are read.
 */
export interface AsCalled {
  botId: string;
  language: 'en' | 'ru';
  settings: BookingSettings;
}

export interface SlotView {
  start: string;
  end: string;
  capacity: number;
}

export interface ReserveInput {
  companyId: string;
  botId: string;
  serviceId: string;
  start: Date;
  status: 'held' | 'pending' | 'confirmed';
  customerName?: string | null;
  customerPhone?: string | null;
  callId?: string | null;
  notes?: string | null;
  actor: Actor;
  reason?: string;
  asCalled?: AsCalled | undefined;
}

const DAY = 86_400_000;

const isExclusionViolation = (e: unknown): boolean => (e as { code?: string } | null)?.code === '23P01';

/**
 * Booking writes of one bot take turns (a transaction-scoped advisory lock): two racers inserting on two
 * resources in opposite order would otherwise wait on each other's exclusion-constraint rows — a deadlock.
 */
async function lockBotBookings(tx: postgres.TransactionSql, botId: string): Promise<void> {
  await tx`select pg_advisory_xact_lock(hashtextextended(${`bookings:${botId}`}, 0))`;
}

const EVENT_FOR: Partial<Record<BookingStatus, WebhookEventType>> = {
  pending: 'booking.created',
  confirmed: 'booking.created',
};

async function emitBookingEvent(db: Db, type: WebhookEventType, b: Booking): Promise<void> {
  await emitEvent(db, {
    companyId: b.companyId,
    type,
    orderingKey: b.id,
    data: { booking_id: b.id, bot_id: b.botId, call_id: b.callId, start: b.start, end: b.end, status: b.status },
  });
}

export function slotView(s: Slot): SlotView {
  return { start: s.start.toISO()!, end: s.end.toISO()!, capacity: s.freeResourceIds.length };
}

export function createBookingService(options: BookingServiceOptions) {
  const clock = options.now ?? Date.now;
  const alternativesCount = options.alternatives ?? 3;

  async function loadBot(db: Db, companyId: string, botId: string): Promise<BookingBot> {
    if (!isUuid(botId)) throw notFound('Bot');
    const [row] = await db`select id, company_id, language, config from bots where company_id = ${companyId} and id = ${botId}`;
    if (!row) throw notFound('Bot');
    const booking = (row.config as { booking?: BookingConfig } | null)?.booking;
    if (!booking || booking.enabled === false) throw badRequest('Booking is not configured for this bot');
    return { id: row.id as string, companyId, language: row.language as 'en' | 'ru', settings: bookingSettings(booking) };
  }

  /** The call's copy of the bot's booking settings when it is this bot's, else the bot's current ones. */
  function botOf(db: Db, companyId: string, botId: string, asCalled: AsCalled | undefined): Promise<BookingBot> | BookingBot {
    if (asCalled?.botId === botId) return { id: botId, companyId, language: asCalled.language, settings: asCalled.settings };
    return loadBot(db, companyId, botId);
  }

  function serviceOf(bot: BookingBot, serviceId: string): BookingService {
    const service = bot.settings.services.find((s) => s.id === serviceId);
    if (!service) throw badRequest(`Unknown service "${serviceId}"`, { services: bot.settings.services.map((s) => s.id) });
    return service;
  }

  /** The times the service's resources are taken over [from, to) (bookings and holds), and the time now. */
  async function busyFor(db: Db, bot: BookingBot, q: { serviceId: string; from: number; to: number; excludeBookingId?: string | undefined }) {
    const now = clock();
    const resourceIds = resourcesFor(bot.settings, q.serviceId).map((r) => r.id);
    const service = serviceOf(bot, q.serviceId);
    const busy = await busyIntervals(db, {
      companyId: bot.companyId,
      resourceIds,
      // Bookings that started before `from` can still overlap a slot at `from`.
      from: new Date(q.from - service.durationMin * 60_000),
      to: new Date(q.to + service.durationMin * 60_000),
      now: new Date(now),
      ...(q.excludeBookingId ? { excludeBookingId: q.excludeBookingId } : {}),
    });
    return { busy, now };
  }

  async function slots(
    db: Db,
    bot: BookingBot,
    q: { serviceId: string; from: number; to: number; limit?: number; excludeBookingId?: string },
  ): Promise<Slot[]> {
    const { busy, now } = await busyFor(db, bot, q);
    return computeSlots({ settings: bot.settings, serviceId: q.serviceId, from: q.from, to: q.to, busy, now, ...(q.limit ? { limit: q.limit } : {}) });
  }

  /**
   * The nearest free slots around `target`, searching a week before and two after, within the bookable window. A
   * target past the horizon is looked for from the horizon's end: the last bookable times are the nearest.
   */
  async function alternativesAround(
    db: Db, bot: BookingBot, serviceId: string, target: number, excludeBookingId?: string, count = alternativesCount,
  ): Promise<Slot[]> {
    const at = Math.min(target, bookableWindow(bot.settings, clock()).to);
    const { busy, now } = await busyFor(db, bot, { serviceId, from: at - 7 * DAY, to: at + 14 * DAY, excludeBookingId });
    return nearestSlotsAround({ settings: bot.settings, serviceId, busy, now }, at, count);
  }

  /** Throws unless `start` is a slot of the schedule (hours, breaks, granularity, lead time, horizon). */
  function assertBookableTime(bot: BookingBot, serviceId: string, start: Date, alternatives: () => Promise<Slot[]>): Promise<void> | void {
    const onSchedule = computeSlots({
      settings: bot.settings,
      serviceId,
      from: start.getTime(),
      to: start.getTime() + 1,
      busy: [],
      now: clock(),
    });
    if (onSchedule.length === 0) {
      return alternatives().then((alts) => {
        throw badRequest('That time is not bookable (outside working hours, too soon or too far ahead)', {
          reason: 'not_bookable',
          alternatives: alts.map(slotView),
        });
      });
    }
  }

  function slotTaken(alts: Slot[]): ParleyError {
    return new ParleyError('PARLEY_ERR_SLOT_TAKEN', 'That time is already taken', { alternatives: alts.map(slotView) });
  }

  /** Moves a booking through its lifecycle; confirming a lapsed hold marks it expired and answers 409. */
  async function transition(
    db: Db,
    q: { companyId: string; bookingId: string; to: BookingStatus; actor: Actor; reason?: string | null; patch?: { customerName?: string; customerPhone?: string; notes?: string } },
  ): Promise<Booking> {
    const now = new Date(clock());
    const result = await atomically(db, async (tx) => {
      const current = await getBooking(tx, q.companyId, q.bookingId, true);
      if (!current) throw notFound('Booking');
      if (current.status === 'held' && q.to !== 'cancelled' && q.to !== 'expired' && new Date(current.holdExpiresAt!) <= now) {
        await expireHolds(tx, now, q.companyId);
        return { expired: true as const, booking: current };
      }
      assertTransition(current.status, q.to);
      const p = q.patch ?? {};
      const [row] = await tx`
        update bookings set status = ${q.to},
          hold_expires_at = ${q.to === 'expired' ? current.holdExpiresAt : null},
          customer_name = coalesce(${p.customerName ?? null}, customer_name),
          customer_phone = coalesce(${p.customerPhone ?? null}, customer_phone),
          notes = coalesce(${p.notes ?? null}, notes),
          updated_at = ${now}
        where company_id = ${q.companyId} and id = ${q.bookingId}
        returning *`;
      const b = toBooking(row!);
      await recordEvent(tx, { bookingId: b.id, companyId: b.companyId, from: current.status, to: q.to, actor: q.actor, reason: q.reason ?? null });
      const type: WebhookEventType | undefined =
        q.to === 'cancelled'
          ? current.status === 'held' ? undefined : 'booking.cancelled'
          : current.status === 'held'
            ? EVENT_FOR[q.to]
            : q.to === 'expired' ? undefined : 'booking.updated';
      if (type) await emitBookingEvent(tx, type, b);
      return { expired: false as const, booking: b };
    });
    if (result.expired) {
      throw new ParleyError('PARLEY_ERR_ILLEGAL_TRANSITION', 'The hold has expired', { from: 'expired', to: q.to, reason: 'hold_expired' });
    }
    return result.booking;
  }

  return {
    loadBot,

    /** Free slots of a service in [from, to); `excludeBookingId`: a booking being moved, whose own time counts as free. */
    async availability(
      db: Db,
      q: { companyId: string; botId: string; serviceId: string; from: Date; to: Date; limit?: number; excludeBookingId?: string | null; asCalled?: AsCalled | undefined },
    ): Promise<{ bot: BookingBot; slots: Slot[] }> {
      const bot = await botOf(db, q.companyId, q.botId, q.asCalled);
      serviceOf(bot, q.serviceId);
      return {
        bot,
        slots: await slots(db, bot, {
          serviceId: q.serviceId, from: q.from.getTime(), to: q.to.getTime(), ...(q.limit ? { limit: q.limit } : {}),
          ...(q.excludeBookingId ? { excludeBookingId: q.excludeBookingId } : {}),
        }),
      };
    },

    /**
     * The `count` free slots nearest to `target` (alternatives to offer a caller), chronological; `excludeBookingId`
     * as for availability (what reschedule's own alternatives leave out).
     */
    async nearestAvailable(
      db: Db,
      q: { companyId: string; botId: string; serviceId: string; target: number; count: number; excludeBookingId?: string | null; asCalled?: AsCalled | undefined },
    ): Promise<Slot[]> {
      const bot = await botOf(db, q.companyId, q.botId, q.asCalled);
      serviceOf(bot, q.serviceId);
      return alternativesAround(db, bot, q.serviceId, q.target, q.excludeBookingId ?? undefined, q.count);
    },

    /**
     * Creates a hold or a booking on the first resource able to do the service that the database accepts.
     * PARLEY_ERR_SLOT_TAKEN (with details.alternatives) when every such resource is taken.
     */
    async reserve(db: Db, input: ReserveInput): Promise<Booking> {
      const bot = await botOf(db, input.companyId, input.botId, input.asCalled);
      const service = serviceOf(bot, input.serviceId);
      await assertBookableTime(bot, service.id, input.start, () => alternativesAround(db, bot, service.id, input.start.getTime()));
      const now = new Date(clock());
      const end = new Date(input.start.getTime() + service.durationMin * 60_000);
      const booked = await atomically(db, async (tx) => {
        await lockBotBookings(tx, bot.id);
        await expireHolds(tx, now, input.companyId);
        for (const resource of resourcesFor(bot.settings, service.id)) {
          try {
            const b = await tx.savepoint((sp) =>
              insertBooking(sp, {
                companyId: input.companyId,
                botId: bot.id,
                callId: input.callId ?? null,
                serviceId: service.id,
                serviceName: service.name,
                resourceId: resource.id,
                resourceName: resource.name,
                start: input.start,
                end,
                status: input.status,
                holdExpiresAt: input.status === 'held' ? new Date(now.getTime() + options.holdSec * 1000) : null,
                customerName: input.customerName ?? null,
                customerPhone: input.customerPhone ?? null,
                price: service.price ?? null,
                currency: service.currency ?? null,
                notes: input.notes ?? null,
              }),
            );
            await recordEvent(tx, { bookingId: b.id, companyId: b.companyId, from: null, to: b.status, actor: input.actor, reason: input.reason ?? null });
            const type = EVENT_FOR[b.status];
            if (type) await emitBookingEvent(tx, type, b);
            return b;
          } catch (e) {
            if (!isExclusionViolation(e)) throw e;
          }
        }
        return null;
      });
      if (booked) return booked;
      throw slotTaken(await alternativesAround(db, bot, service.id, input.start.getTime()));
    },

    transition,

    /** Moves a live booking to a new start (any resource able to do its service); PARLEY_ERR_SLOT_TAKEN if none is free. */
    async reschedule(db: Db, q: { companyId: string; bookingId: string; start: Date; actor: Actor; reason?: string | null; asCalled?: AsCalled | undefined }): Promise<Booking> {
      const existing = await getBooking(db, q.companyId, q.bookingId);
      if (!existing) throw notFound('Booking');
      if (!isLive(existing.status) || existing.status === 'in_progress') {
        throw new ParleyError('PARLEY_ERR_ILLEGAL_TRANSITION', `A ${existing.status} booking cannot be rescheduled`, { from: existing.status });
      }
      const bot = await botOf(db, q.companyId, existing.botId, q.asCalled);
      const service = serviceOf(bot, existing.serviceId);
      await assertBookableTime(bot, service.id, q.start, () => alternativesAround(db, bot, service.id, q.start.getTime(), existing.id));
      const now = new Date(clock());
      const end = new Date(q.start.getTime() + service.durationMin * 60_000);
      const moved = await atomically(db, async (tx) => {
        await lockBotBookings(tx, bot.id);
        await expireHolds(tx, now, q.companyId);
        const current = await getBooking(tx, q.companyId, q.bookingId, true);
        if (!current || !isLive(current.status) || current.status === 'in_progress') {
          throw new ParleyError('PARLEY_ERR_ILLEGAL_TRANSITION', 'The booking can no longer be rescheduled', { from: current?.status });
        }
        for (const resource of resourcesFor(bot.settings, service.id)) {
          try {
            const rows = await tx.savepoint((sp) => sp`
              update bookings set starts_at = ${q.start}, ends_at = ${end}, resource_id = ${resource.id},
                resource_name = ${resource.name}, updated_at = ${now}
              where company_id = ${q.companyId} and id = ${q.bookingId}
              returning *`);
                const b = toBooking(rows[0]!);
            await recordEvent(tx, {
              bookingId: b.id, companyId: b.companyId, from: current.status, to: current.status, actor: q.actor,
              reason: q.reason ?? 'rescheduled', details: { fromStart: current.start, toStart: b.start },
            });
            if (b.status !== 'held') await emitBookingEvent(tx, 'booking.updated', b);
            return b;
          } catch (e) {
            if (!isExclusionViolation(e)) throw e;
          }
        }
        return null;
      });
      if (moved) return moved;
      throw slotTaken(await alternativesAround(db, bot, service.id, q.start.getTime(), existing.id));
    },

    async get(db: Db, companyId: string, id: string): Promise<Booking> {
      const b = await getBooking(db, companyId, id);
      if (!b) throw notFound('Booking');
      return b;
    },

    async history(db: Db, companyId: string, id: string): Promise<BookingEvent[]> {
      if (!(await getBooking(db, companyId, id))) throw notFound('Booking');
      return listEvents(db, companyId, id);
    },

    /** Upcoming live bookings of a phone number with this bot (find_my_booking). */
    async upcomingForPhone(db: Db, q: { companyId: string; botId: string; phone: string }): Promise<Booking[]> {
      const now = new Date(clock());
      const rows = await db`
        select * from bookings
        where company_id = ${q.companyId} and bot_id = ${q.botId} and customer_phone = ${q.phone}
          and status in ('pending', 'confirmed') and starts_at > ${now}
        order by starts_at limit 10`;
      return rows.map(toBooking);
    },

    /** Holds a call placed earlier, still live (the call's own hold for the same service and time is reused). */
    async liveHoldOfCall(db: Db, q: { companyId: string; callId: string; serviceId: string; start: Date }): Promise<Booking | null> {
      const now = new Date(clock());
      const rows = await db`
        select * from bookings
        where company_id = ${q.companyId} and call_id = ${q.callId} and status = 'held' and service_id = ${q.serviceId}
          and starts_at = ${q.start} and hold_expires_at > ${now}
        limit 1`;
      return rows[0] ? toBooking(rows[0]) : null;
    },

    /** Releases every live hold a call placed (a new hold replaces the old one). */
    async releaseCallHolds(db: Db, q: { companyId: string; callId: string; exceptId?: string }): Promise<void> {
      await endCallHolds(db, q, { to: 'cancelled', reason: 'replaced by a newer hold' });
    },

    /** Periodic cleanup for the lead's timer: marks every lapsed hold expired. */
    expireStaleHolds(db: Db): Promise<number> {
      return expireHolds(db, new Date(clock()));
    },

    now(): DateTime {
      return DateTime.fromMillis(clock());
    },
  };
}

export type BookingServiceApi = ReturnType<typeof createBookingService>;
