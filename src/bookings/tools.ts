/**
 * In-call booking tools. check_availability for one exact time also holds that slot for this call (one
 * hold per call), so the time the bot offers is still there when the caller says "book it";
 * book_appointment confirms that hold, or books afresh when there is none or it lapsed.
 *
 * A caller can only see and change their own bookings with this bot (caller-identity.ts, for these tools and the
 * guided flow alike): on a phone call with a real caller ID, those made with the calling number — a number the
 * caller says never replaces it; without one (a web call, a withheld number), those made with the number the
 * caller gives AND under the name they give, both matching, before anything is read out. A caller who fails is
 * told no booking is found under those details, whether or not the number has any.
 *
 * Names, notes and reasons are cleaned and bounded as the database stores them (customer-text.ts); the argument
 * schemas carry the same limits for what is stored as given (a name), and a spoken sentence's for what is read
 * first (a phone number in words, a time, a reason cut to fit).
 */
import { DateTime } from 'luxon';
import type { CallContext, Tool, ToolResult } from '../call/tool-types.js';
import type { Db } from '../db/sql.js';
import { ParleyError } from '../errors.js';
import { callBooking, foreignOffsetRefusal, WHEN_ISO_RULE, type CallBooking } from './call-booking.js';
import { speakableTimes } from './labels.js';
import { callerIdOf, callersBookings, IdentityChecks, type CallersBookings } from './caller-identity.js';
import { BOOKING_ID_MAX, cleanName, cleanText, NAME_MAX, nameTooLong, NOTES_MAX, REASON_MAX, SAID_PHONE_MAX, SERVICE_MAX, textProperty, WHEN_MAX, WORDS_MAX } from './customer-text.js';
import type { BookingService } from './config-schema.js';
import { defaultRegionFor, normalizePhone } from './phone.js';
import type { Booking } from './repo.js';
import { matchService } from './service-match.js';
import { createBookingService, type BookingServiceApi, type BookingServiceOptions } from './service.js';
import { bookableWindow, type Slot } from './availability.js';
import { parseWhen, type WhenResult } from './when-parser.js';
import { flowSettings } from './flow/config.js';
import { FLOW_PHRASES } from './flow/phrases.js';
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

/** How the tools that read existing bookings tell the model who the caller must prove to be without caller ID. */
const IDENTIFY_HINT =
  'Without caller ID (web calls, withheld numbers) pass customer_phone and customer_name: the number and the name the booking was made with.';
const IDENTITY_PROPERTIES = {
  customer_phone: textProperty(SAID_PHONE_MAX, 'Without caller ID: the number the booking was made with, as the caller said it, digits or words (ignored when there is caller ID)'),
  customer_name: textProperty(NAME_MAX, 'Without caller ID: the name the booking is under (ignored when there is caller ID)', 1),
};

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
  const checks = new IdentityChecks();

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

  const callerPhone = (ctx: CallContext, e: Env): string | null => callerIdOf(ctx, e);

  /** A number the caller said (digits or words), E.164; null when none was said or it is no phone number. */
  function saidPhone(e: Env, raw: unknown): string | null {
    const spoken = str(raw);
    if (!spoken) return null;
    try {
      return normalizePhone(extractPhoneDigits(spoken) ?? spoken, defaultRegionFor(e.language, e.settings.defaultRegion));
    } catch {
      return null;
    }
  }

  /**
   * A time past how far ahead the business books (`horizonDays`): said to the model, with the last bookable moment,
   * so it can tell the caller rather than guess; nothing when `at` is within it.
   */
  function horizonNote(e: Env, at: number): { reason: 'beyond_horizon'; horizon_days: number; bookable_until: string } | null {
    const until = bookableWindow(e.settings, e.now.toMillis()).to;
    return at >= until ? { reason: 'beyond_horizon', horizon_days: e.settings.horizonDays, bookable_until: localIso(e, DateTime.fromMillis(until)) } : null;
  }

  /** Turns a ParleyError from the service into an answer the agent can act on (`at`: the time asked); rethrows anything else. */
  function slotProblem(e: Env, err: unknown, at: number): ToolResult {
    if (err instanceof ParleyError && (err.code === 'PARLEY_ERR_SLOT_TAKEN' || err.details?.reason === 'not_bookable')) {
      const alternatives = ((err.details?.alternatives ?? []) as Array<{ start: string }>).map((a) => slotOut(e, a));
      const error = err.code === 'PARLEY_ERR_SLOT_TAKEN' ? 'slot_taken' : 'not_bookable';
      const offer = alternatives.map((a) => a.label);
      const horizon = error === 'not_bookable' ? horizonNote(e, at) : null;
      if (horizon) return { content: { error, ...horizon, alternatives }, say: FLOW_PHRASES[e.language].beyondHorizon(e.label(DateTime.fromMillis(at)), horizon.horizon_days, offer) };
      const say =
        e.language === 'ru'
          ? `К сожалению, это время ${error === 'slot_taken' ? 'занято' : 'недоступно'}.${offer.length ? ` Могу предложить ${speakableTimes(offer, 'ru')}.` : ''}`
          : `Sorry, that time is ${error === 'slot_taken' ? 'taken' : 'not available'}.${offer.length ? ` I can offer ${speakableTimes(offer, 'en')}.` : ''}`;
      return { content: { error, alternatives }, say };
    }
    throw err;
  }

  function parse(e: Env, when: unknown): WhenResult | null {
    const text = str(when);
    return text ? parseWhen(text, { now: e.now.toMillis(), zone: e.settings.timezone }) : null;
  }

  /** Who the caller is (caller-identity.ts: by caller ID, else by the number and name they gave) and their bookings. */
  const lookUpCaller = (ctx: CallContext, e: Env, args: Record<string, unknown>): Promise<CallersBookings> =>
    callersBookings(bookings, db, checks, {
      ctx, callerId: callerPhone(ctx, e), phone: saidPhone(e, args.customer_phone), name: cleanName(args.customer_name), now: clock(),
    });

  /**
   * The caller's own upcoming bookings (caller-identity.ts: by caller ID, else by the number and name the caller
   * gave), with the bot's booking settings; else what to ask for, or a refusal that says no more than "not found".
   */
  async function callersUpcoming(ctx: CallContext, args: Record<string, unknown>): Promise<{ e: Env; upcoming: Booking[] } | ToolResult> {
    const e = env(ctx);
    if (!e) return notAvailable;
    const mine = await lookUpCaller(ctx, e, args);
    if ('found' in mine) return { e, upcoming: mine.found };
    if ('missing' in mine) {
      return { content: { error: 'caller_not_identified', missing: mine.missing === 'phone' ? 'customer_phone' : 'customer_name', hint: IDENTIFY_HINT } };
    }
    return { content: { error: 'booking_not_found' }, say: FLOW_PHRASES[e.language].notFoundByDetails };
  }

  /** The caller's own booking: by id (must be theirs) or their only upcoming one, with the bot's booking settings. */
  async function callersBooking(ctx: CallContext, args: Record<string, unknown>): Promise<{ e: Env; found: Booking } | ToolResult> {
    const mine = await callersUpcoming(ctx, args);
    if (!('upcoming' in mine)) return mine;
    const { e, upcoming } = mine;
    const id = str(args.booking_id);
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

  /**
   * The booking a move is checked for (check_availability's `booking_id`): one of the caller's own upcoming bookings
   * (caller-identity.ts), else null — an id of someone else's booking, an unknown one, or one the caller has not
   * proven is theirs changes nothing in the answer.
   */
  async function bookingBeingMoved(ctx: CallContext, e: Env, args: Record<string, unknown>): Promise<Booking | null> {
    const id = str(args.booking_id);
    if (!id) return null;
    const mine = await lookUpCaller(ctx, e, args);
    return 'found' in mine ? mine.found.find((b) => b.id === id) ?? null : null;
  }

  /** The service check_availability looks at: the one named, else the moved booking's, else the bot's only one. */
  function serviceToCheck(e: Env, rawService: unknown, moving: Booking | null): BookingService | null {
    if (moving && !str(rawService)) return e.settings.services.find((s) => s.id === moving.serviceId) ?? null;
    return pickService(e, rawService);
  }

  const checkAvailability: Tool = {
    spec: {
      name: 'check_availability',
      description:
        'Find free appointment times. Give the service and the caller\'s own words for when (e.g. "tomorrow afternoon", "в пятницу в 15:30") or an ISO time. An exact free time is held for this call for a few minutes. ' +
        `Before moving one of the caller's appointments, pass its booking_id (from find_my_booking): its own time then counts as free, and nothing is held (reschedule_booking moves it). ${IDENTIFY_HINT}`,
      parameters: argsSchema({
        service: textProperty(SERVICE_MAX, 'Service name as the caller said it (when moving a booking: may be left out)'),
        when: textProperty(WHEN_MAX, `The caller's words for the date/time (e.g. "tomorrow afternoon"), ${WHEN_ISO_RULE}`),
        booking_id: textProperty(BOOKING_ID_MAX, 'The booking the caller wants to move (from find_my_booking); leave out for a new booking'),
        ...IDENTITY_PROPERTIES,
      }),
    },
    async run(args, ctx) {
      const e = env(ctx);
      if (!e) return notAvailable;
      const moving = await bookingBeingMoved(ctx, e, args);
      const service = serviceToCheck(e, args.service, moving);
      if (!service) return unknownService(e);
      // A move of this service: the booking's own time is free to it, and no hold is placed (it would collide with
      // the booking itself; reschedule_booking moves it in one step).
      const excludeBookingId = moving?.serviceId === service.id ? moving.id : null;
      const base = { service: service.name, timezone: e.settings.timezone };
      const wrongZone = foreignOffsetRefusal(e, args.when);
      if (wrongZone) return wrongZone;
      const when = parse(e, args.when);
      const nowMs = e.now.toMillis();

      if (when?.kind === 'exact') {
        const start = when.start.toMillis();
        const { slots } = await bookings.availability(db, {
          asCalled: e.asCalled, companyId: ctx.companyId, botId: ctx.botId, serviceId: service.id, from: new Date(start), to: new Date(start + 1), excludeBookingId,
        });
        if (slots.length > 0 && excludeBookingId) return { content: { ...base, available: true, slots: [slotOut(e, slots[0]!)] } };
        if (slots.length > 0) {
          try {
            const phone = callerPhone(ctx, e);
            const hold = await bookings.reserve(db, {
              asCalled: e.asCalled, companyId: ctx.companyId, botId: ctx.botId, serviceId: service.id, start: new Date(start), status: 'held',
              callId: ctx.callId, customerPhone: phone, actor: 'caller', reason: 'offered during call',
            });
            await bookings.releaseCallHolds(db, { companyId: ctx.companyId, callId: ctx.callId, exceptId: hold.id });
            return { content: { ...base, available: true, slots: [slotOut(e, hold)], held_until: hold.holdExpiresAt } };
          } catch (err) {
            const problem = slotProblem(e, err, start);
            return { content: { ...base, available: false, slots: (problem.content as { alternatives: SlotOut[] }).alternatives } };
          }
        }
        const around = await bookings.nearestAvailable(db, {
          asCalled: e.asCalled, companyId: ctx.companyId, botId: ctx.botId, serviceId: service.id, target: start, count: 3, excludeBookingId,
        });
        return { content: { ...base, available: false, ...horizonNote(e, start), slots: around.map((s) => slotOut(e, s)) } };
      }

      const from = when ? when.from.toMillis() : nowMs;
      const to = when ? when.to.toMillis() : nowMs + 7 * 86_400_000;
      const { slots } = await bookings.availability(db, {
        asCalled: e.asCalled, companyId: ctx.companyId, botId: ctx.botId, serviceId: service.id, from: new Date(from), to: new Date(to), excludeBookingId,
      });
      if (slots.length > 0 || !when) return { content: { ...base, slots: spread(slots, maxSlots).map((s) => slotOut(e, s)) } };
      const horizon = horizonNote(e, from);
      if (horizon) {
        // Past the horizon: the last bookable times, not the (empty) fortnight after the window.
        const last = await bookings.nearestAvailable(db, { asCalled: e.asCalled, companyId: ctx.companyId, botId: ctx.botId, serviceId: service.id, target: from, count: 3, excludeBookingId });
        return { content: { ...base, available: false, ...horizon, slots: last.map((s) => slotOut(e, s)) } };
      }
      // Nothing in the asked window: offer the first times after it.
      const later = await bookings.availability(db, {
        asCalled: e.asCalled, companyId: ctx.companyId, botId: ctx.botId, serviceId: service.id, from: new Date(to), to: new Date(to + 14 * 86_400_000), limit: maxSlots, excludeBookingId,
      });
      return { content: { ...base, available: false, slots: later.slots.map((s) => slotOut(e, s)) } };
    },
  };

  const bookAppointment: Tool = {
    spec: {
      name: 'book_appointment',
      description: 'Book an appointment at an exact time the caller agreed to, for the calling number.',
      parameters: argsSchema({
        service: textProperty(SERVICE_MAX, 'Service name'),
        when: textProperty(WHEN_MAX, `The agreed time: the caller's words, ${WHEN_ISO_RULE}`),
        customer_name: textProperty(NAME_MAX, "The caller's name", 1),
        customer_phone: textProperty(SAID_PHONE_MAX, 'Callback number the caller gave, digits or words (needed without caller ID: web calls, withheld numbers)'),
        notes: textProperty(NOTES_MAX, 'Anything the business should know'),
      }, ['service', 'when', 'customer_name']),
    },
    async run(args, ctx) {
      const call = serviceCall(ctx, args.service);
      if (!('service' in call)) return call;
      const { e, service } = call;
      const customerName = cleanName(args.customer_name);
      if (!customerName) return { content: { error: 'customer_name_required' } };
      if (nameTooLong(customerName)) return { content: { error: 'customer_name_too_long', max: NAME_MAX } };
      const notes = cleanText(args.notes, NOTES_MAX);
      const wrongZone = foreignOffsetRefusal(e, args.when);
      if (wrongZone) return wrongZone;
      const when = parse(e, args.when);
      if (!when) return { content: { error: 'time_not_understood' } };
      if (when.kind === 'window') return { content: { error: 'exact_time_required', from: when.from.toISO(), to: when.to.toISO() } };
      const start = new Date(when.start.toMillis());
      let phone = callerPhone(ctx, e);
      if (!phone && str(args.customer_phone)) {
        phone = saidPhone(e, args.customer_phone);
        if (!phone) return { content: { error: 'phone_not_understood' } };
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
            asCalled: e.asCalled, companyId: ctx.companyId, botId: ctx.botId, serviceId: service.id, start, status: 'confirmed', callId: ctx.callId,
            customerName, customerPhone: phone, notes, actor: 'caller', reason: 'booked during call',
          });
        } catch (err) {
          return slotProblem(e, err, start.getTime());
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
      description: `List the caller's upcoming appointments (found by the calling number). ${IDENTIFY_HINT}`,
      parameters: argsSchema(IDENTITY_PROPERTIES),
    },
    async run(args, ctx) {
      const mine = await callersUpcoming(ctx, args);
      if (!('upcoming' in mine)) return mine;
      return { content: { bookings: mine.upcoming.map((b) => describe(mine.e, b)) } };
    },
  };

  /** A tool that acts on one of the caller's own bookings (`booking_id`, or their only upcoming one). */
  const onCallersBooking = (
    name: string, description: string, properties: Record<string, unknown>, required: string[] | undefined,
    act: (args: Record<string, unknown>, ctx: CallContext, e: Env, found: Booking) => Promise<ToolResult>,
  ): Tool => ({
    spec: {
      name, description: `${description} ${IDENTIFY_HINT}`,
      parameters: argsSchema({ booking_id: textProperty(BOOKING_ID_MAX, 'Which booking (from find_my_booking)'), ...IDENTITY_PROPERTIES, ...properties }, required),
    },
    async run(args, ctx) {
      const mine = await callersBooking(ctx, args);
      return 'found' in mine ? act(args, ctx, mine.e, mine.found) : mine;
    },
  });

  const cancelBooking = onCallersBooking(
    'cancel_booking', "Cancel the caller's upcoming appointment (the only one, or the booking_id from find_my_booking).",
    { reason: textProperty(WORDS_MAX, 'Why, in the caller\'s words') }, undefined,
    async (args, ctx, e, found) => {
      const b = await bookings.transition(db, {
        companyId: ctx.companyId, bookingId: found.id, to: 'cancelled', actor: 'caller', reason: cleanText(args.reason, REASON_MAX) ?? 'cancelled by caller',
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
    { when: textProperty(WHEN_MAX, `The new time: the caller's words, ${WHEN_ISO_RULE}`) }, ['when'],
    async (args, ctx, e, found) => {
      const wrongZone = foreignOffsetRefusal(e, args.when);
      if (wrongZone) return wrongZone;
      const when = parse(e, args.when);
      if (!when) return { content: { error: 'time_not_understood' } };
      if (when.kind === 'window') return { content: { error: 'exact_time_required', from: when.from.toISO(), to: when.to.toISO() } };
      try {
        // A time check_availability held for this call (asked without the booking_id) must not block the move itself.
        await bookings.releaseCallHolds(db, { companyId: ctx.companyId, callId: ctx.callId });
        const b = await bookings.reschedule(db, {
          asCalled: e.asCalled, companyId: ctx.companyId, bookingId: found.id, start: new Date(when.start.toMillis()), actor: 'caller', reason: 'rescheduled by caller',
        });
        const label = e.label(b.start);
        return {
          content: { booking_id: b.id, start: localIso(e, b.start), label, status: b.status },
          say: e.language === 'ru' ? `Готово, запись перенесена на ${label.replace(/^во? /, '')}.` : `Done, your appointment is moved to ${label}.`,
        };
      } catch (err) {
        return slotProblem(e, err, when.start.toMillis());
      }
    },
  );

  return [bookingFlowTool(bookings, db, clock, checks), checkAvailability, bookAppointment, findMyBooking, cancelBooking, rescheduleBooking];
}
