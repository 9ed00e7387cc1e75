/**
 * In-call booking tools. check_availability for one exact time also holds that slot for this call (one
 * hold per call), so the time the bot offers is still there when the caller says "book it";
 * book_appointment confirms that hold, or books afresh when there is none or it lapsed.
 * A caller can only see and change bookings made from their own number with this bot.
 */
import { DateTime } from 'luxon';
import type { CallContext, Tool, ToolResult } from '../call/tool-types.js';
import type { Db } from '../db/sql.js';
import { ParleyError } from '../errors.js';
import { callBooking, type CallBooking } from './call-booking.js';
import type { BookingService } from './config-schema.js';
import { defaultRegionFor, normalizePhone } from './phone.js';
import type { Booking } from './repo.js';
import { matchService } from './service-match.js';
import { createBookingService, type BookingServiceApi, type BookingServiceOptions } from './service.js';
import type { Slot } from './availability.js';
import { parseWhen, type WhenResult } from './when-parser.js';
import { flowSettings } from './flow/config.js';
import { bookingFlowTool } from './flow/tool.js';
import { extractPhoneDigits } from './flow/understand.js';

export interface BookingToolsOptions extends BookingServiceOptions {
  /** The database the tools book in (the tools get their services, never the call's connection). */
  db: Db;
  /** Share one service with the REST API; built from the options when absent. */
  service?: BookingServiceApi;
  /** Most slots read out for a window ("tomorrow morning"). */
  maxSlotsOffered?: number;
}

interface SlotOut {
  start: string;
  label: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

/** The JSON Schema of a tool's arguments: an object of these properties and no others. */
const argsSchema = (properties: Record<string, unknown>, required?: string[]): Record<string, unknown> => ({
  type: 'object', properties, ...(required ? { required } : {}), additionalProperties: false,
});

/** Up to n slots spread evenly over the list, so "tomorrow" offers morning and afternoon, not 9:00, 9:30, 10:00. */
function spread<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(items[Math.floor((i * (items.length - 1)) / (n - 1))]!);
  return out;
}

export function bookingTools(options: BookingToolsOptions): Tool[] {
  const bookings = options.service ?? createBookingService(options);
  const db = options.db;
  const clock = options.now ?? Date.now;
  const maxSlots = options.maxSlotsOffered ?? 4;

  type Env = CallBooking;
  const env = (ctx: CallContext): Env | null => callBooking(ctx, clock);

  const notAvailable: ToolResult = { content: { error: 'booking_not_available' } };
  // Times go out in the business's zone (its offset), as the caller would say them.
  const localIso = (e: Env, start: DateTime | string): string => e.local(start);
  const slotOut = (e: Env, s: Slot | { start: string }): SlotOut => {
    const start = localIso(e, s.start);
    return { start, label: e.label(start) };
  };

  function pickService(e: Env, raw: unknown): BookingService | null {
    const name = str(raw);
    if (!name) return e.settings.services.length === 1 ? e.settings.services[0]! : null;
    return matchService(name, e.settings.services);
  }

  const unknownService = (e: Env): ToolResult => ({
    content: { error: 'unknown_service', services: e.settings.services.map((s) => s.name) },
  });

  /** How the service tools start: the bot's booking settings, then the service the agent named (or a refusal to return). */
  function serviceCall(ctx: CallContext, rawService: unknown): { e: Env; service: BookingService } | ToolResult {
    const e = env(ctx);
    if (!e) return notAvailable;
    const service = pickService(e, rawService);
    return service ? { e, service } : unknownService(e);
  }

  function callerPhone(ctx: CallContext, e: Env): string | null {
    if (!ctx.callerNumber) return null;
    try {
      return normalizePhone(ctx.callerNumber, defaultRegionFor(ctx.bot.language, e.settings.defaultRegion));
    } catch {
      return null;
    }
  }

  /** Turns a ParleyError from the service into an answer the agent can act on; rethrows anything else. */
  function slotProblem(e: Env, err: unknown): ToolResult {
    if (err instanceof ParleyError && (err.code === 'PARLEY_ERR_SLOT_TAKEN' || err.details?.reason === 'not_bookable')) {
      const alternatives = ((err.details?.alternatives ?? []) as Array<{ start: string }>).map((a) => slotOut(e, a));
      const error = err.code === 'PARLEY_ERR_SLOT_TAKEN' ? 'slot_taken' : 'not_bookable';
      const offer = alternatives.map((a) => a.label);
      const say =
        e.language === 'ru'
          ? `К сожалению, это время ${error === 'slot_taken' ? 'занято' : 'недоступно'}.${offer.length ? ` Могу предложить: ${offer.join(', или ')}.` : ''}`
          : `Sorry, that time is ${error === 'slot_taken' ? 'taken' : 'not available'}.${offer.length ? ` I can offer ${offer.join(', or ')}.` : ''}`;
      return { content: { error, alternatives }, say };
    }
    throw err;
  }

  function parse(e: Env, when: unknown): WhenResult | null {
    const text = str(when);
    return text ? parseWhen(text, { now: e.now.toMillis(), zone: e.settings.timezone }) : null;
  }

  /** The caller's own booking: by id (must be theirs) or their only upcoming one, with the bot's booking settings. */
  async function callersBooking(ctx: CallContext, rawId: unknown): Promise<{ e: Env; found: Booking } | ToolResult> {
    const e = env(ctx);
    if (!e) return notAvailable;
    const phone = callerPhone(ctx, e);
    if (!phone) return { content: { error: 'no_caller_number' } };
    const upcoming = await bookings.upcomingForPhone(db, { companyId: ctx.companyId, botId: ctx.botId, phone });
    const id = str(rawId);
    if (id) {
      const found = upcoming.find((b) => b.id === id);
      return found ? { e, found } : { content: { error: 'booking_not_found' } };
    }
    if (upcoming.length === 1) return { e, found: upcoming[0]! };
    if (upcoming.length === 0) return { content: { error: 'no_upcoming_bookings' } };
    return { content: { error: 'which_booking', bookings: upcoming.map((b) => describe(e, b)) } };
  }

  const describe = (e: Env, b: Booking) => ({
    booking_id: b.id,
    service: b.serviceName,
    start: localIso(e, b.start),
    label: e.label(b.start),
    status: b.status,
  });

  const checkAvailability: Tool = {
    spec: {
      name: 'check_availability',
      description:
        'Find free appointment times. Give the service and the caller\'s own words for when (e.g. "tomorrow afternoon", "в пятницу в 15:30") or an ISO time. An exact free time is held for this call for a few minutes.',
      parameters: argsSchema({
        service: { type: 'string', description: 'Service name as the caller said it' },
        when: { type: 'string', description: "The caller's words for the date/time, or ISO 8601" },
      }),
    },
    async run(args, ctx) {
      const call = serviceCall(ctx, args.service);
      if (!('service' in call)) return call;
      const { e, service } = call;
      const base = { service: service.name, timezone: e.settings.timezone };
      const when = parse(e, args.when);
      const nowMs = e.now.toMillis();

      if (when?.kind === 'exact') {
        const start = when.start.toMillis();
        const { slots } = await bookings.availability(db, {
          companyId: ctx.companyId, botId: ctx.botId, serviceId: service.id, from: new Date(start), to: new Date(start + 1),
        });
        if (slots.length > 0) {
          try {
            const phone = callerPhone(ctx, e);
            const hold = await bookings.reserve(db, {
              companyId: ctx.companyId, botId: ctx.botId, serviceId: service.id, start: new Date(start), status: 'held',
              callId: ctx.callId, customerPhone: phone, actor: 'caller', reason: 'offered during call',
            });
            await bookings.releaseCallHolds(db, { companyId: ctx.companyId, callId: ctx.callId, exceptId: hold.id });
            return { content: { ...base, available: true, slots: [slotOut(e, hold)], held_until: hold.holdExpiresAt } };
          } catch (err) {
            const problem = slotProblem(e, err);
            return { content: { ...base, available: false, slots: (problem.content as { alternatives: SlotOut[] }).alternatives } };
          }
        }
        const around = await bookings.nearestAvailable(db, { companyId: ctx.companyId, botId: ctx.botId, serviceId: service.id, target: start, count: 3 });
        return { content: { ...base, available: false, slots: around.map((s) => slotOut(e, s)) } };
      }

      const from = when ? when.from.toMillis() : nowMs;
      const to = when ? when.to.toMillis() : nowMs + 7 * 86_400_000;
      const { slots } = await bookings.availability(db, {
        companyId: ctx.companyId, botId: ctx.botId, serviceId: service.id, from: new Date(from), to: new Date(to),
      });
      if (slots.length > 0 || !when) return { content: { ...base, slots: spread(slots, maxSlots).map((s) => slotOut(e, s)) } };
      // Nothing in the asked window: offer the first times after it.
      const later = await bookings.availability(db, {
        companyId: ctx.companyId, botId: ctx.botId, serviceId: service.id, from: new Date(to), to: new Date(to + 14 * 86_400_000), limit: maxSlots,
      });
      return { content: { ...base, available: false, slots: later.slots.map((s) => slotOut(e, s)) } };
    },
  };

  const bookAppointment: Tool = {
    spec: {
      name: 'book_appointment',
      description: 'Book an appointment at an exact time the caller agreed to, for the calling number.',
      parameters: argsSchema({
        service: { type: 'string', description: 'Service name' },
        when: { type: 'string', description: "The agreed time: the caller's words or ISO 8601" },
        customer_name: { type: 'string', description: "The caller's name" },
        customer_phone: { type: 'string', description: 'Callback number the caller gave (needed on web calls, which have no caller ID)' },
        notes: { type: 'string', description: 'Anything the business should know' },
      }, ['service', 'when', 'customer_name']),
    },
    async run(args, ctx) {
      const call = serviceCall(ctx, args.service);
      if (!('service' in call)) return call;
      const { e, service } = call;
      const customerName = str(args.customer_name);
      if (!customerName) return { content: { error: 'customer_name_required' } };
      const notes = str(args.notes)?.slice(0, 2000);
      const when = parse(e, args.when);
      if (!when) return { content: { error: 'time_not_understood' } };
      if (when.kind === 'window') return { content: { error: 'exact_time_required', from: when.from.toISO(), to: when.to.toISO() } };
      const start = new Date(when.start.toMillis());
      let phone = callerPhone(ctx, e);
      const spoken = str(args.customer_phone);
      if (!phone && spoken) {
        try {
          phone = normalizePhone(extractPhoneDigits(spoken) ?? spoken, defaultRegionFor(ctx.bot.language, e.settings.defaultRegion));
        } catch {
          return { content: { error: 'phone_not_understood' } };
        }
      }
      // The same required slots as the guided flow: no callback number, no booking (when the bot requires one).
      if (!phone && flowSettings(ctx.bot.config.bookingFlow).requirePhone) return { content: { error: 'phone_required' } };

      let booking: Booking | null = null;
      const hold = await bookings.liveHoldOfCall(db, { companyId: ctx.companyId, callId: ctx.callId, serviceId: service.id, start });
      if (hold) {
        try {
          booking = await bookings.transition(db, {
            companyId: ctx.companyId, bookingId: hold.id, to: 'confirmed', actor: 'caller', reason: 'booked during call',
            patch: { customerName, ...(phone ? { customerPhone: phone } : {}), ...(notes ? { notes } : {}) },
          });
        } catch (err) {
          // The hold lapsed between the lookup and now: book afresh below.
          if (!(err instanceof ParleyError && err.code === 'PARLEY_ERR_ILLEGAL_TRANSITION')) throw err;
        }
      }
      if (!booking) {
        try {
          await bookings.releaseCallHolds(db, { companyId: ctx.companyId, callId: ctx.callId });
          booking = await bookings.reserve(db, {
            companyId: ctx.companyId, botId: ctx.botId, serviceId: service.id, start, status: 'confirmed', callId: ctx.callId,
            customerName, customerPhone: phone, notes: notes ?? null, actor: 'caller', reason: 'booked during call',
          });
        } catch (err) {
          return slotProblem(e, err);
        }
      }
      const label = e.label(booking.start);
      const say =
        e.language === 'ru'
          ? `Готово, вы записаны: ${booking.serviceName}, ${label}.`
          : `You're booked for ${booking.serviceName} ${label}.`;
      return { content: { booking_id: booking.id, start: localIso(e, booking.start), label, status: booking.status, service: booking.serviceName }, say };
    },
  };

  const findMyBooking: Tool = {
    spec: {
      name: 'find_my_booking',
      description: "List the caller's upcoming appointments (found by the calling number).",
      parameters: argsSchema({}),
    },
    async run(_args, ctx) {
      const e = env(ctx);
      if (!e) return notAvailable;
      const phone = callerPhone(ctx, e);
      if (!phone) return { content: { error: 'no_caller_number' } };
      const upcoming = await bookings.upcomingForPhone(db, { companyId: ctx.companyId, botId: ctx.botId, phone });
      return { content: { bookings: upcoming.map((b) => describe(e, b)) } };
    },
  };

  /** A tool that acts on one of the caller's own bookings (`booking_id`, or their only upcoming one). */
  const onCallersBooking = (
    name: string, description: string, properties: Record<string, unknown>, required: string[] | undefined,
    act: (args: Record<string, unknown>, ctx: CallContext, e: Env, found: Booking) => Promise<ToolResult>,
  ): Tool => ({
    spec: { name, description, parameters: argsSchema({ booking_id: { type: 'string' }, ...properties }, required) },
    async run(args, ctx) {
      const mine = await callersBooking(ctx, args.booking_id);
      return 'found' in mine ? act(args, ctx, mine.e, mine.found) : mine;
    },
  });

  const cancelBooking = onCallersBooking(
    'cancel_booking', "Cancel the caller's upcoming appointment (the only one, or the booking_id from find_my_booking).",
    { reason: { type: 'string', description: 'Why, in the caller\'s words' } }, undefined,
    async (args, ctx, e, found) => {
      const b = await bookings.transition(db, {
        companyId: ctx.companyId, bookingId: found.id, to: 'cancelled', actor: 'caller', reason: str(args.reason) ?? 'cancelled by caller',
      });
      const label = e.label(b.start);
      return {
        content: { booking_id: b.id, status: b.status, start: localIso(e, b.start), label },
        say: e.language === 'ru' ? `Запись ${label} отменена.` : `Your appointment ${label} is cancelled.`,
      };
    },
  );

  const rescheduleBooking = onCallersBooking(
    'reschedule_booking', "Move the caller's upcoming appointment to a new exact time.",
    { when: { type: 'string', description: "The new time: the caller's words or ISO 8601" } }, ['when'],
    async (args, ctx, e, found) => {
      const when = parse(e, args.when);
      if (!when) return { content: { error: 'time_not_understood' } };
      if (when.kind === 'window') return { content: { error: 'exact_time_required', from: when.from.toISO(), to: when.to.toISO() } };
      try {
        const b = await bookings.reschedule(db, {
          companyId: ctx.companyId, bookingId: found.id, start: new Date(when.start.toMillis()), actor: 'caller', reason: 'rescheduled by caller',
        });
        const label = e.label(b.start);
        return {
          content: { booking_id: b.id, start: localIso(e, b.start), label, status: b.status },
          say: e.language === 'ru' ? `Готово, запись перенесена на ${label.replace(/^во? /, '')}.` : `Done, your appointment is moved to ${label}.`,
        };
      } catch (err) {
        return slotProblem(e, err);
      }
    },
  );

  return [bookingFlowTool(bookings, db, clock), checkAvailability, bookAppointment, findMyBooking, cancelBooking, rescheduleBooking];
}
