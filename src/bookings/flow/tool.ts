/**
 * The guided booking flow as one in-call tool, `booking_flow`: booking, cancelling, rescheduling and finding an
 * appointment, with slots (service, time, name, callback number; which booking, new time) filled in any order.
 * Both engines use it: the scenario engine hands over the caller's words (`caller_words`), an LLM the values it
 * understood (`service`, `when`, …) — or both. The flow keeps its state per call, checks every value against the
 * calendar (a taken time gets the nearest free ones), asks for what is missing one question at a time, reads the
 * result back in the bot's language and time zone and acts only after a yes. Each answer carries `say`, spoken
 * verbatim, plus the state (`filled`, `missing`, `next`) so an LLM knows where the conversation stands.
 */
import { getCountryCallingCode, parsePhoneNumberFromString } from 'libphonenumber-js';
import { DateTime } from 'luxon';
import type { CallContext, Tool, ToolResult } from '../../call/tool-types.js';
import type { Db } from '../../db/sql.js';
import { ParleyError } from '../../errors.js';
import { bookableWindow, computeSlots } from '../availability.js';
import type { BookingService } from '../config-schema.js';
import { callBooking, foreignOffsetRefusal, WHEN_ISO_RULE, type CallBooking } from '../call-booking.js';
import { callerIdOf, callersBookings, IdentityChecks } from '../caller-identity.js';
import { BOOKING_ID_MAX, cleanName, NAME_MAX, nameTooLong, SAID_PHONE_MAX, SERVICE_MAX, textProperty, WHEN_MAX, WORDS_MAX } from '../customer-text.js';
import { defaultRegionFor, normalizePhone } from '../phone.js';
import type { Booking } from '../repo.js';
import { matchService } from '../service-match.js';
import type { BookingServiceApi } from '../service.js';
import { isPeriod, parseWhen, type DayPart, type WhenResult } from '../when-parser.js';
import { speakablePeriod } from '../labels.js';
import { flowSettings, type FlowSettings } from './config.js';
import { findServiceInUtterance, normalizeText } from './fuzzy.js';
import { FLOW_PHRASES, type FlowPhrases } from './phrases.js';
import {
  extractName, extractPhoneDigits, isNo, isQuestion, isStop, isYes, keepsBooking, pickedOption, readBackAnswer, speakDigits, spelledName, taskOf, type Task,
} from './understand.js';
import { isCommonName } from '../../providers/stt/local-names.js';
import { installedPronunciations, soundMatchName } from '../name-sound.js';
import type { Pronunciations } from '../../providers/stt/local-names.js';
import type { ExpectedInput } from '../../providers/types.js';

export type Asked = 'task' | 'service' | 'time' | 'name' | 'name_check' | 'phone' | 'which' | 'pick' | 'confirm' | 'change' | null;

interface Offer {
  start: string;
  label: string;
}

interface Candidate {
  id: string;
  serviceName: string;
  start: string;
  label: string;
}

export interface FlowState {
  task: Task | null;
  stage: 'collect' | 'confirm' | 'done';
  asked: Asked;
  serviceId: string | null;
  /** The exact time asked for; `verified` once the calendar said it is free (and it is held for the call). */
  start: string | null;
  verified: boolean;
  /** The local day of the last date heard, so "no, eleven" keeps it. */
  day: string | null;
  offered: Offer[];
  name: string | null;
  /**
   * A name heard from the recognizer that is not made of common names is read back once ('pending' → 'asked');
   * 'done' when confirmed, corrected, or the caller went on without saying.
   */
  nameCheck: 'pending' | 'asked' | 'done' | null;
  /** Answers to the name question that held no name; after one retry what was heard is kept. */
  nameTries: number;
  /** The words of the first answer to the name question that held no name (kept if the caller then moves on). */
  nameHeard: string | null;
  /** Said on the booking when the name is kept as heard, unconfirmed. */
  nameNote: string | null;
  phone: string | null;
  phoneFrom: 'caller_id' | 'caller' | null;
  /** The caller's own bookings, once caller-identity.ts found them; `candidatesFor` says by what (caller ID, or number and name). */
  candidates: Candidate[] | null;
  candidatesFor: string | null;
  /**
   * Without caller ID, whether this task's number-and-name lookup already failed once and the name was asked again:
   * a misheard name gets one more try (still counted by IdentityChecks), the second failure ends the task.
   */
  lookupRetried: boolean;
  bookingId: string | null;
  /**
   * A window ("tomorrow morning") said before the service was known (local ISO times): for a move, before the
   * booking was — offered with the booking's service, its own time counted free, once it is; for a booking, offered
   * once the caller names the service.
   */
  window: { from: string; to: string; part: DayPart } | null;
  lastSay: string | null;
  question: string | null;
  outcome: Record<string, unknown> | null;
}

const fresh = (keep?: Partial<FlowState>): FlowState => ({
  task: null, stage: 'collect', asked: null, serviceId: null, start: null, verified: false, day: null, offered: [],
  name: keep?.name ?? null, nameCheck: keep?.nameCheck ?? null, nameTries: 0, nameHeard: null, nameNote: keep?.nameNote ?? null, phone: keep?.phone ?? null, phoneFrom: keep?.phoneFrom ?? null,
  candidates: null, candidatesFor: null, lookupRetried: false, bookingId: null, window: null, lastSay: keep?.lastSay ?? null, question: null, outcome: null,
});

const TASKS = new Set(['book', 'cancel', 'reschedule', 'find']);
const UNCONFIRMED_NAME = "caller's name as the recognizer heard it, not confirmed";

/** Words no name is made of alone: "i don't", "it is", "я не знаю" are kept as no one's name. */
const FUNCTION_WORDS = new Set([
  'i', "i'm", 'im', 'me', 'my', 'you', 'it', "it's", 'is', 'a', 'an', 'the', 'and', 'or', 'but', 'so', 'do', "don't", 'dont', 'not', 'no',
  'yes', 'ok', 'okay', 'well', 'um', 'uh', 'know', 'what', 'that', 'this', 'to', 'of', 'in', 'on', 'at', 'just', 'sorry', 'hello', 'hi',
  'я', 'не', 'знаю', 'да', 'нет', 'это', 'ну', 'а', 'и', 'что', 'так', 'вот', 'алло',
]);
const isOnlyFunctionWords = (text: string): boolean => {
  const ws = text.toLowerCase().replace(/[^\p{L}\s'-]/gu, ' ').split(/\s+/).filter(Boolean);
  return ws.length > 0 && ws.every((w) => FUNCTION_WORDS.has(w));
};
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

/** Per-call flow state. A call lives on one instance; entries idle for two hours are dropped. */
class FlowStore {
  private readonly states = new Map<string, { state: FlowState; at: number }>();
  get(callId: string, now: number): FlowState {
    if (this.states.size > 1000) for (const [k, v] of this.states) if (now - v.at > 7_200_000) this.states.delete(k);
    return this.states.get(callId)?.state ?? fresh();
  }
  set(callId: string, state: FlowState, now: number): void {
    this.states.set(callId, { state, at: now });
  }
}

interface Env extends CallBooking {
  ctx: CallContext;
  flow: FlowSettings;
  p: FlowPhrases;
}

/**
 * What the recognizer should expect after the flow's question (recognition-context.ts): a name (spelt after a
 * failed try), a number, a time, a yes or no; nothing in particular for an open question (which service, what to
 * change) or when the flow is done.
 */
export function expectedAnswer(st: Pick<FlowState, 'stage' | 'asked' | 'nameTries'>): ExpectedInput | null {
  if (st.stage === 'done') return null;
  switch (st.asked) {
    case 'name': return st.nameTries > 0 ? 'spelling' : 'name';
    case 'name_check': case 'confirm': return 'yesno';
    case 'phone': return 'phone';
    case 'time': case 'pick': return 'datetime';
    default: return null;
  }
}

export function bookingFlowTool(
  bookings: BookingServiceApi, db: Db, clock: () => number = Date.now, checks: IdentityChecks = new IdentityChecks(),
): Tool {
  const store = new FlowStore();

  function env(ctx: CallContext): Env | null {
    const booking = callBooking(ctx, clock);
    if (!booking) return null;
    return {
      ...booking, ctx, p: FLOW_PHRASES[booking.language],
      flow: flowSettings((ctx.bot.config as { bookingFlow?: Parameters<typeof flowSettings>[0] }).bookingFlow),
    };
  }

  const serviceById = (e: Env, id: string | null): BookingService | null => (id ? e.settings.services.find((s) => s.id === id) ?? null : null);
  const serviceNames = (e: Env): string[] => e.settings.services.map((s) => s.name);

  const callerIdPhone = (e: Env): string | null => callerIdOf(e.ctx, e);
  /** The booking a reschedule moves: its own time counts as free when the new one is checked or offered. */
  const moving = (st: FlowState): string | null => (st.task === 'reschedule' ? st.bookingId : null);

  /** A number read back as the caller would say it: without the country code when it is the bot's own region. */
  function spokenPhone(e: Env, phone: string): string {
    const parsed = parsePhoneNumberFromString(phone);
    const region = defaultRegionFor(e.language, e.settings.defaultRegion);
    return speakDigits(parsed && parsed.countryCallingCode === getCountryCallingCode(region) ? parsed.nationalNumber : phone);
  }

  function phoneFromDigits(e: Env, digits: string): string | null {
    try {
      return normalizePhone(digits, defaultRegionFor(e.language, e.settings.defaultRegion));
    } catch {
      return null;
    }
  }

  function parse(e: Env, text: string, st: FlowState, bareHour: boolean): WhenResult | null {
    return parseWhen(text, { now: e.now.toMillis(), zone: e.settings.timezone, defaultDay: st.day ?? undefined, bareHour });
  }

  /** Free slots for a service in [from, to), spread over the window, at most n. */
  async function freeSlots(e: Env, st: FlowState, serviceId: string, from: number, to: number, n: number): Promise<Offer[]> {
    const { slots } = await bookings.availability(db, {
      asCalled: e.asCalled, companyId: e.ctx.companyId, botId: e.ctx.botId, serviceId, from: new Date(from), to: new Date(to), excludeBookingId: moving(st),
    });
    const picked = slots.length <= n ? slots : Array.from({ length: n }, (_, i) => slots[Math.floor((i * (slots.length - 1)) / (n - 1))]!);
    return picked.map((s) => ({ start: e.local(s.start), label: e.label(s.start) }));
  }

  async function nearest(e: Env, st: FlowState, serviceId: string, target: number): Promise<Offer[]> {
    const slots = await bookings.nearestAvailable(db, {
      asCalled: e.asCalled, companyId: e.ctx.companyId, botId: e.ctx.botId, serviceId, target, count: 3, excludeBookingId: moving(st),
    });
    return slots.map((s) => ({ start: e.local(s.start), label: e.label(s.start) }));
  }

  /**
   * Whether the time can be booked (and, with `hold`, holds it). Refused, `taken` says why: booked up (true), or a
   * time the business does not book at all — closed, outside its hours for the service's length, too soon (false).
   */
  async function verify(e: Env, st: FlowState, serviceId: string, start: string, hold: boolean): Promise<{ ok: true } | { ok: false; offers: Offer[]; taken: boolean }> {
    const at = DateTime.fromISO(start).toMillis();
    // The call's own hold (another service or time it is changing from) must not make the new time look taken.
    if (hold) await bookings.releaseCallHolds(db, { companyId: e.ctx.companyId, callId: e.ctx.callId });
    const { slots } = await bookings.availability(db, {
      asCalled: e.asCalled, companyId: e.ctx.companyId, botId: e.ctx.botId, serviceId, from: new Date(at), to: new Date(at + 1), excludeBookingId: moving(st),
    });
    if (slots.length === 0) return { ok: false, offers: await nearest(e, st, serviceId, at), taken: bookableWhenFree(e, serviceId, at) };
    if (!hold) return { ok: true };
    try {
      await bookings.reserve(db, {
        asCalled: e.asCalled, companyId: e.ctx.companyId, botId: e.ctx.botId, serviceId, start: new Date(at), status: 'held', callId: e.ctx.callId,
        customerPhone: st.phone, actor: 'caller', reason: 'held during a guided booking',
      });
      return { ok: true };
    } catch (err) {
      if (err instanceof ParleyError && (err.code === 'PARLEY_ERR_SLOT_TAKEN' || err.details?.reason === 'not_bookable')) {
        return { ok: false, offers: await nearest(e, st, serviceId, at), taken: err.code === 'PARLEY_ERR_SLOT_TAKEN' };
      }
      throw err;
    }
  }

  /** Offers free times in a window the caller named (the nearest ones when it has none); the sentence that offers them. */
  async function offerWindow(e: Env, st: FlowState, serviceId: string, from: DateTime, to: DateTime, part: DayPart): Promise<string> {
    const offers = await freeSlots(e, st, serviceId, Math.max(from.toMillis(), e.now.toMillis()), to.toMillis(), 3);
    const later = offers.length ? offers : await nearest(e, st, serviceId, from.toMillis());
    st.offered = later;
    st.start = null;
    st.verified = false;
    st.window = null;
    st.asked = 'pick';
    // "next month" is said as the month ("in April"), not as its first day.
    const day = isPeriod(part) ? speakablePeriod(from, to, part, e.now, e.language) : e.label(from).replace(/,? (at|в) [^,]*$/, '');
    if (beyondHorizon(e, from.toMillis())) return e.p.beyondHorizon(day, e.settings.horizonDays, later.map((o) => o.label));
    if (!later.length) return e.p.nothingFree;
    return offers.length ? e.p.offer(later.map((o) => o.label)) : e.p.closedThen(day, later.map((o) => o.label));
  }

  /** Whether `at` is past how far ahead the business takes bookings (`horizonDays`). */
  const beyondHorizon = (e: Env, at: number): boolean => at >= bookableWindow(e.settings, e.now.toMillis()).to;

  /** Whether `at` would be a slot of the service if nothing were booked (its hours, length, lead time). */
  const bookableWhenFree = (e: Env, serviceId: string, at: number): boolean =>
    computeSlots({ settings: e.settings, serviceId, from: at, to: at + 1, busy: [], now: e.now.toMillis(), limit: 1 }).length > 0;

  const candidateOf = (e: Env, b: Booking): Candidate => ({ id: b.id, serviceName: b.serviceName, start: e.local(b.start), label: e.label(b.start) });
  const what = (e: Env, c: Candidate): string => (e.language === 'ru' ? `${c.serviceName}, ${c.label}` : `${c.serviceName} ${c.label}`);

  /** Applies what the caller said; returns a sentence to say before the next question (a problem), if any. */
  async function absorb(e: Env, st: FlowState, args: Record<string, unknown>, words: string | undefined): Promise<string | null> {
    const expecting = st.asked;
    let note: string | null = null;

    // Phone first: its digits must not be read as a time.
    let phoneDigits: string | null = null;
    const phoneArg = str(args.phone);
    if (phoneArg) phoneDigits = extractPhoneDigits(phoneArg) ?? phoneArg.replace(/[^\d+]/g, '');
    else if (words) {
      const d = extractPhoneDigits(words);
      if (d && (expecting === 'phone' || d.replace(/\D/g, '').length >= 10)) phoneDigits = d;
    }
    let consumedByPhone = false;
    if (phoneDigits) {
      const phone = phoneFromDigits(e, phoneDigits);
      if (phone) {
        st.phone = phone;
        st.phoneFrom = 'caller';
        st.candidates = null;
        consumedByPhone = true;
      } else if (expecting === 'phone' || phoneArg) note = e.p.badPhone;
    } else if (expecting === 'phone' && words && !isYes(words) && !isQuestion(words)) note = e.p.badPhone;

    // Service.
    const serviceArg = str(args.service);
    let service: BookingService | null = null;
    if (serviceArg) service = matchService(serviceArg, e.settings.services) ?? findServiceInUtterance(serviceArg, e.settings.services, 0.5)?.service ?? null;
    else if (words && !consumedByPhone) service = findServiceInUtterance(words, e.settings.services, expecting === 'service' || (expecting === 'task' && !st.serviceId) ? 0.6 : 0.75)?.service ?? null;
    if (serviceArg && !service) note = e.p.unknownService(serviceArg, serviceNames(e));
    else if (!service && expecting === 'service' && words && !isQuestion(words)) note = e.p.unknownService(words.replace(/[.!?]+$/, ''), serviceNames(e));
    if (service && service.id !== st.serviceId && st.task === 'book') {
      st.serviceId = service.id;
      st.verified = false;
    }

    // A pick among the times just offered.
    let picked: Offer | null = null;
    if (st.offered.length && words && (expecting === 'pick' || expecting === 'time')) {
      const i = pickedOption(words, st.offered.length);
      if (i !== null) picked = st.offered[i] ?? null;
    }

    // Time (for booking, or the new time of a reschedule).
    if (st.task === 'book' || st.task === 'reschedule') {
      const whenArg = str(args.when);
      const timeContext = expecting === 'time' || expecting === 'pick' || expecting === 'confirm' || expecting === 'change';
      const when = picked
        ? ({ kind: 'exact', start: DateTime.fromISO(picked.start) } as WhenResult)
        : whenArg
          ? parse(e, whenArg, st, true)
          : words && !consumedByPhone
            ? parse(e, words, st, timeContext && !extractName(words, false))
            : null;
      if (when?.kind === 'exact') {
        const local = when.start.setZone(e.settings.timezone);
        if (local.toISO() !== st.start) {
          st.start = local.toISO();
          st.verified = false;
        }
        st.day = local.toISODate();
        st.window = null;
      } else if (when?.kind === 'window') {
        st.day = isPeriod(when.part) ? st.day : when.from.toISODate();
        const serviceId = st.task === 'book' ? st.serviceId : (await bookingServiceId(e, st));
        if (serviceId) return offerWindow(e, st, serviceId, when.from, when.to, when.part);
        if (st.task === 'reschedule' || st.task === 'book') {
          // Which booking moves, or which service is booked, is not known yet: offered once it is (step).
          st.window = { from: when.from.toISO()!, to: when.to.toISO()!, part: when.part };
          st.start = null;
          st.verified = false;
        }
      } else if (expecting === 'time' && words && !service && !consumedByPhone && !isQuestion(words)) {
        note ??= e.p.sorryAgain;
      }
    }

    if (expecting === 'name_check' && consumedByPhone && st.nameCheck === 'asked') {
      // The caller went on to the number without saying whether the name was right: keep it, noted.
      st.nameCheck = 'done';
      st.nameNote = UNCONFIRMED_NAME;
    } else if (expecting === 'name' && consumedByPhone && st.nameTries > 0 && st.nameHeard && !st.name) {
      // Asked to spell the name, the caller went on to the number: keep what was heard first, noted.
      keepAsHeard(st, st.nameHeard);
    } else if (expecting === 'name' && consumedByPhone && st.nameTries > 0 && !st.name) {
      // …and what was heard first was no name ("i don't"): the number is taken, the name asked for plainly again.
      st.nameTries = 0;
    } else {
      // Names heard by a recognizer are matched by sound against the common names (English: the recognizer's dictionary).
      const sounds = e.language === 'en' && words && !consumedByPhone ? await installedPronunciations() : null;
      absorbName(e, st, str(args.customer_name), consumedByPhone ? undefined : words, expecting, sounds);
    }
    // A "name" longer than a booking can hold is no name (runFlow refuses one passed as customer_name).
    if (st.name && nameTooLong(st.name)) [st.name, st.nameCheck] = [null, null];

    // Which booking.
    const id = str(args.booking_id);
    if (st.candidates && (id || (words && expecting === 'which'))) {
      let chosen: Candidate | undefined;
      if (id) chosen = st.candidates.find((c) => c.id === id);
      else if (words) {
        const i = pickedOption(words, st.candidates.length);
        if (i !== null) chosen = st.candidates[i];
        const svc = findServiceInUtterance(words, e.settings.services, 0.6)?.service;
        if (!chosen && svc) chosen = st.candidates.find((c) => c.serviceName === svc.name);
        const w = parse(e, words, fresh(), false);
        if (!chosen && w) {
          const day = (w.kind === 'exact' ? w.start : w.from).toISODate();
          chosen = st.candidates.find((c) => DateTime.fromISO(c.start).toISODate() === day);
        }
      }
      if (chosen) st.bookingId = chosen.id;
    }
    return note;
  }

  /**
   * The caller's name. One the LLM passes is taken as given. One read from recognized words is checked: a name
   * made of uncommon words ("Came Down") is read back once; a "no" asks for it spelt; an answer with no name in it
   * is asked again once, then what was heard is kept with a note on the booking, so a name never blocks a booking.
   */
  function absorbName(e: Env, st: FlowState, nameArg: string | undefined, words: string | undefined, expecting: Asked, sounds: Pronunciations | null): void {
    if (nameArg) {
      st.name = nameArg;
      st.nameCheck = 'done';
      return;
    }
    if (!words) return;
    const asked = expecting === 'name' || expecting === 'name_check';
    const name = extractName(words, asked);
    if (expecting === 'name_check') {
      if (name && !isYes(words)) heardName(e, st, name, words, sounds, 'done');
      else if (isNo(words)) {
        st.name = null;
        st.nameTries = 1;
      } else st.nameCheck = 'done';
      if (st.nameCheck === 'done' && !isYes(words) && !name) st.nameNote = UNCONFIRMED_NAME;
      return;
    }
    if (name) {
      heardName(e, st, name, words, sounds, st.nameTries > 0 ? 'done' : undefined);
      return;
    }
    if (expecting === 'name' && !isQuestion(words) && !isYes(words) && !isNo(words)) {
      st.nameTries++;
      const heard = words.replace(/[^\p{L}\s'-]/gu, ' ').split(/\s+/).filter(Boolean).slice(0, 3).join(' ');
      // Kept for a caller who goes on to the number instead of spelling: not when it is plainly no name ("i don't").
      if (st.nameTries === 1) st.nameHeard = (!isOnlyFunctionWords(words) && heard) || null;
      // One retry was enough: keep the words as heard rather than block the booking on them.
      else if (heard) keepAsHeard(st, heard);
    }
  }

  function keepAsHeard(st: FlowState, heard: string): void {
    // Capitals at word starts only ("I Don't", not "I Don'T").
    st.name = heard.replace(/(^|[\s-])\p{L}/gu, (c) => c.toUpperCase());
    st.nameCheck = 'done';
    st.nameNote = UNCONFIRMED_NAME;
  }

  /**
   * A name read from the caller's words. One made of words callers say anyway ("came brown") is taken for the
   * listed name it sounds like ("Kate Brown"), and read back all the same (name-sound.ts).
   */
  function heardName(e: Env, st: FlowState, name: string, words: string, sounds: Pronunciations | null, check?: 'done'): void {
    const spelt = spelledName(words) !== null;
    const likely = !spelt && sounds ? soundMatchName(name, sounds) : null;
    st.name = likely ?? name;
    const sure = spelt || (e.language === 'en' ? !likely && name.split(/\s+/).every(isCommonName) : true);
    st.nameCheck = check ?? (sure ? 'done' : 'pending');
    st.nameNote = check === 'done' && !sure ? UNCONFIRMED_NAME : null;
  }

  async function bookingServiceId(e: Env, st: FlowState): Promise<string | null> {
    if (!st.bookingId) return null;
    const b = await bookings.get(db, e.ctx.companyId, st.bookingId);
    return b.serviceId;
  }

  /**
   * The caller's upcoming bookings into st.candidates, found by who the caller is (caller-identity.ts: the caller
   * ID only; without one, the number and the name given, both matching). Null when found (possibly none), else
   * what to ask for first, or a refusal.
   */
  async function loadCandidates(e: Env, st: FlowState): Promise<{ missing: 'phone' | 'name' } | { refused: true } | null> {
    const callerId = callerIdPhone(e);
    const key = callerId ?? `${st.phone ?? ''} ${st.name ?? ''}`;
    if (st.candidates && st.candidatesFor === key) return null;
    st.candidates = null;
    const mine = await callersBookings(bookings, db, checks, { ctx: e.ctx, callerId, phone: st.phone, name: st.name, now: clock() });
    if (!('found' in mine)) return mine;
    st.candidates = mine.found.filter((b) => b.status !== 'held').map((b) => candidateOf(e, b));
    st.candidatesFor = key;
    if (st.candidates.length === 1) st.bookingId = st.candidates[0]!.id;
    return null;
  }

  /**
   * After a first failed number-and-name lookup, whether to ask for the name once more (a recognizer often mishears
   * it: "Maria" as "mary"), keeping the task and what came with it (the new time or window of a move). Not once the
   * call's failures are used up (caller-identity.ts). The question is the same whether or not the number has
   * bookings; a number said in the answer replaces the one given.
   */
  function retryLookup(e: Env, st: FlowState): boolean {
    if (st.lookupRetried || checks.exhausted(e.ctx.callId)) return false;
    st.lookupRetried = true;
    [st.name, st.nameCheck, st.nameNote, st.nameTries, st.nameHeard] = [null, null, null, 0, null];
    return true;
  }

  /** The answer when the bookings of the caller cannot be found: it finishes the task. */
  function notFound(e: Env, st: FlowState, refused: boolean): string {
    st.stage = 'done';
    st.asked = null;
    if (refused) {
      // Whatever was wrong, the number or the name, both are asked afresh if the caller tries again.
      [st.phone, st.phoneFrom, st.name, st.nameCheck] = [null, null, null, null];
      return e.p.notFoundByDetails;
    }
    const otherNumber = st.phoneFrom === 'caller' && st.phone !== callerIdPhone(e);
    return otherNumber ? `${e.p.onlyCallerNumber} ${e.p.noBookings}` : e.p.noBookings;
  }

  const ask = (st: FlowState, asked: Asked, say: string, note: string | null = null): string => {
    st.asked = asked;
    st.question = say;
    return note ? `${note} ${say}` : say;
  };

  /** Decides the next step of the current task; may act (book, cancel, move) after a yes. */
  async function step(e: Env, st: FlowState, note: string | null, yes: boolean, no: boolean, changed: boolean): Promise<string> {
    const p = e.p;
    if (st.stage === 'confirm' && !changed) {
      if (yes) return act(e, st);
      if (no && st.task === 'reschedule') {
        // Not that time: the new time is asked again (keeping the booking where it is was a stop).
        const chosen = st.candidates?.find((c) => c.id === st.bookingId);
        [st.stage, st.start, st.verified] = ['collect', null, false];
        if (chosen) return ask(st, 'time', p.askNewTime(what(e, chosen)));
      }
      if (no) {
        st.stage = 'collect';
        return ask(st, 'change', p.whatToChange);
      }
    }
    if (st.stage === 'confirm' && changed) st.stage = 'collect';
    if (note && (st.asked === 'pick')) return note;

    if (st.task === 'book') {
      const service = serviceById(e, st.serviceId);
      if (!service) return ask(st, 'service', p.askService(serviceNames(e)), note);
      if (!st.start && !st.offered.length && st.window) {
        return ask(st, 'pick', await offerWindow(e, st, service.id, DateTime.fromISO(st.window.from, { setZone: true }), DateTime.fromISO(st.window.to, { setZone: true }), st.window.part), note);
      }
      if (!st.start && st.offered.length) return ask(st, 'pick', p.offer(st.offered.map((o) => o.label)), note);
      if (!st.start) return ask(st, 'time', p.askTime(service.name), note);
      const taken = await checkChosenTime(e, st, service.id, true);
      if (taken !== null) return taken;
      if (e.flow.requireName && !st.name) return ask(st, 'name', st.nameTries ? p.spellName : p.askName, note);
      if (st.name && st.nameCheck === 'pending') {
        st.nameCheck = 'asked';
        return ask(st, 'name_check', p.checkName(st.name), note);
      }
      if (e.flow.requirePhone && !st.phone) return ask(st, 'phone', p.askPhone, note);
      if (!e.flow.confirm) return act(e, st);
      st.stage = 'confirm';
      return ask(st, 'confirm', p.readBack({
        service: service.name, when: e.dated(st.start), name: st.name,
        phone: e.flow.readBackPhone && st.phone ? spokenPhone(e, st.phone) : null,
      }), note);
    }

    // cancel / reschedule / find: first the caller's own bookings — nothing is read out before they are found.
    const lookup = await loadCandidates(e, st);
    if (lookup && 'missing' in lookup) {
      return lookup.missing === 'phone'
        ? ask(st, 'phone', p.askPhoneToFind, note)
        : ask(st, 'name', st.nameTries ? p.spellName : p.askNameToFind, note);
    }
    if (lookup && retryLookup(e, st)) return ask(st, 'name', p.notFoundAskNameAgain, note);
    const list = st.candidates ?? [];
    if (lookup || list.length === 0) return notFound(e, st, lookup !== null);
    if (st.task === 'find') {
      st.stage = 'done';
      st.asked = null;
      st.outcome = { bookings: list };
      return p.found(list.map((c) => what(e, c)));
    }
    const chosen = list.find((c) => c.id === st.bookingId);
    if (!chosen) return ask(st, 'which', p.whichBooking(list.map((c) => what(e, c))), note);
    if (st.task === 'cancel') {
      if (!e.flow.confirm) return act(e, st);
      st.stage = 'confirm';
      return ask(st, 'confirm', p.confirmCancel(what(e, chosen)), note);
    }
    // reschedule
    if (!st.start && !st.offered.length && st.window) {
      const b = await bookings.get(db, e.ctx.companyId, chosen.id);
      return ask(st, 'pick', await offerWindow(e, st, b.serviceId, DateTime.fromISO(st.window.from, { setZone: true }), DateTime.fromISO(st.window.to, { setZone: true }), st.window.part), note);
    }
    if (!st.start && st.offered.length) return ask(st, 'pick', p.offer(st.offered.map((o) => o.label)), note);
    if (!st.start) return ask(st, 'time', p.askNewTime(what(e, chosen)), note);
    if (!st.verified) {
      const b = await bookings.get(db, e.ctx.companyId, chosen.id);
      const taken = await checkChosenTime(e, st, b.serviceId, false);
      if (taken !== null) return taken;
    }
    if (!e.flow.confirm) return act(e, st);
    st.stage = 'confirm';
    return ask(st, 'confirm', p.confirmMove(what(e, chosen), e.dated(st.start)), note);
  }

  /** Checks the chosen time once against the calendar; a taken one is replaced by offers of the nearest free times. */
  async function checkChosenTime(e: Env, st: FlowState, serviceId: string, hold: boolean): Promise<string | null> {
    if (st.verified || !st.start) return null;
    const v = await verify(e, st, serviceId, st.start, hold);
    if (!v.ok) {
      const [label, at] = [e.label(st.start), DateTime.fromISO(st.start).toMillis()];
      st.offered = v.offers;
      st.start = null;
      return askTaken(e, st, label, v.offers, v.taken, at);
    }
    st.verified = true;
    st.offered = [];
    return null;
  }

  /**
   * A refused time: booked up (`taken`), or one the business does not book at all — past its horizon (said, with the
   * last free times before it), closed, too soon; the nearest free times offered.
   */
  function askTaken(e: Env, st: FlowState, label: string, offers: Offer[], taken: boolean, at: number): string {
    const labels = offers.map((o) => o.label);
    const say = taken ? e.p.taken(label, labels) : beyondHorizon(e, at) ? e.p.beyondHorizon(label, e.settings.horizonDays, labels) : e.p.closedThen(label, labels);
    return ask(st, offers.length ? 'pick' : 'time', say);
  }

  async function act(e: Env, st: FlowState): Promise<string> {
    const { ctx } = e;
    const p = e.p;
    try {
      if (st.task === 'book') {
        const service = serviceById(e, st.serviceId)!;
        const start = new Date(DateTime.fromISO(st.start!).toMillis());
        let booking: Booking | null = null;
        const hold = await bookings.liveHoldOfCall(db, { companyId: ctx.companyId, callId: ctx.callId, serviceId: service.id, start });
        const patch = { ...(st.name ? { customerName: st.name } : {}), ...(st.phone ? { customerPhone: st.phone } : {}), ...(st.nameNote ? { notes: st.nameNote } : {}) };
        if (hold) {
          try {
            booking = await bookings.transition(db, { companyId: ctx.companyId, bookingId: hold.id, to: 'confirmed', actor: 'caller', reason: 'booked during call', patch });
          } catch (err) {
            if (!(err instanceof ParleyError && err.code === 'PARLEY_ERR_ILLEGAL_TRANSITION')) throw err;
          }
        }
        if (!booking) {
          await bookings.releaseCallHolds(db, { companyId: ctx.companyId, callId: ctx.callId });
          booking = await bookings.reserve(db, {
            asCalled: e.asCalled, companyId: ctx.companyId, botId: ctx.botId, serviceId: service.id, start, status: 'confirmed', callId: ctx.callId,
            customerName: st.name, customerPhone: st.phone, notes: st.nameNote, actor: 'caller', reason: 'booked during call',
          });
        }
        st.outcome = { booking_id: booking.id, service: booking.serviceName, start: e.local(booking.start), label: e.label(booking.start), customer_name: st.name, customer_phone: st.phone };
        st.stage = 'done';
        st.asked = null;
        return p.booked(booking.serviceName, e.dated(booking.start), st.name);
      }
      const chosen = st.candidates?.find((c) => c.id === st.bookingId);
      if (!chosen) return step(e, st, null, false, false, true);
      if (st.task === 'cancel') {
        const b = await bookings.transition(db, { companyId: ctx.companyId, bookingId: chosen.id, to: 'cancelled', actor: 'caller', reason: 'cancelled by caller' });
        st.outcome = { booking_id: b.id, status: b.status, start: e.local(b.start), cancelled: true };
        st.stage = 'done';
        st.asked = null;
        return p.cancelled(what(e, chosen));
      }
      const b = await bookings.reschedule(db, {
        asCalled: e.asCalled, companyId: ctx.companyId, bookingId: chosen.id, start: new Date(DateTime.fromISO(st.start!).toMillis()), actor: 'caller', reason: 'rescheduled by caller',
      });
      st.outcome = { booking_id: b.id, status: b.status, start: e.local(b.start), label: e.label(b.start), rescheduled: true };
      st.stage = 'done';
      st.asked = null;
      return p.moved(what(e, chosen), e.dated(b.start));
    } catch (err) {
      if (err instanceof ParleyError && (err.code === 'PARLEY_ERR_SLOT_TAKEN' || err.details?.reason === 'not_bookable')) {
        const [label, at] = st.start ? [e.label(st.start), DateTime.fromISO(st.start).toMillis()] : ['', 0];
        const offers = ((err.details?.alternatives ?? []) as Array<{ start: string }>).map((a) => ({ start: e.local(a.start), label: e.label(a.start) }));
        st.stage = 'collect';
        st.start = null;
        st.verified = false;
        st.offered = offers;
        return askTaken(e, st, label, offers, err.code === 'PARLEY_ERR_SLOT_TAKEN', at);
      }
      throw err;
    }
  }

  /** Never the same sentence twice in a row: a repeat gets a short lead-in. */
  function unrepeated(e: Env, st: FlowState, say: string): string {
    let out = say;
    const last = st.lastSay ?? '';
    if (last === say || last.endsWith(` ${say}`)) out = last.startsWith(e.p.sorryAgain) ? `${e.p.letMeAskAgain} ${say}` : `${e.p.sorryAgain} ${say}`;
    st.lastSay = out;
    return out;
  }

  function answer(e: Env, st: FlowState, say: string, extra: Record<string, unknown> = {}): ToolResult {
    const s = unrepeated(e, st, say);
    const service = serviceById(e, st.serviceId);
    const filled: Record<string, unknown> = {};
    const missing: string[] = [];
    const slot = (ok: boolean, key: string, value: unknown, name = key): void => {
      if (ok) filled[key] = value;
      else missing.push(name);
    };
    if (st.task === 'book') {
      slot(service !== null, 'service', service?.name);
      slot(Boolean(st.start && st.verified), 'time', st.start);
      if (e.flow.requireName) slot(st.name !== null, 'customer_name', st.name);
      if (e.flow.requirePhone) slot(st.phone !== null, 'phone', st.phone);
    } else if (st.task) {
      // Whose bookings: the caller ID, else the number and name the caller gave (caller-identity.ts).
      const callerId = callerIdPhone(e);
      slot(Boolean(callerId ?? st.phone), 'phone', callerId ?? st.phone);
      if (!callerId) slot(st.name !== null, 'customer_name', st.name);
      slot(st.bookingId !== null, 'booking_id', st.bookingId, 'booking');
      if (st.task === 'reschedule') slot(Boolean(st.start && st.verified), 'new_time', st.start);
    }
    return {
      content: {
        task: st.task, stage: st.stage, next: st.asked, filled, missing,
        ...(st.offered.length ? { offered: st.offered } : {}),
        ...(st.stage === 'confirm' ? { awaiting: 'the caller\'s yes to the read-back (call again with confirm: true)' } : {}),
        ...(st.outcome && st.stage === 'done' ? { result: st.outcome } : {}),
        question: st.question,
        timezone: e.settings.timezone,
        say: s,
        ...extra,
      },
      say: s,
    };
  }

  async function runFlow(raw: Record<string, unknown>, ctx: CallContext): Promise<ToolResult> {
    const e = env(ctx);
    if (!e) return { content: { error: 'booking_not_available' }, say: FLOW_PHRASES[ctx.bot.language].notAvailable };
    // A name as it may be read back and stored (customer-text.ts); one the database could not hold is refused now,
    // not after the caller's yes.
    const nameArg = cleanName(raw.customer_name);
    if (nameArg && nameTooLong(nameArg)) return { content: { error: 'invalid_arguments', message: `customer_name: at most ${NAME_MAX} characters` } };
    const wrongZone = foreignOffsetRefusal(e, raw.when);
    if (wrongZone) return wrongZone;
    const args: Record<string, unknown> = { ...raw, customer_name: nameArg ?? undefined };
    const now = clock();
    const st = store.get(ctx.callId, now);
    const words = str(args.caller_words)?.replace(/^\[keypad\]\s*/, '');
    const taskArg = str(args.task);
    const stop = async (): Promise<ToolResult> => {
      const next = fresh(st);
      await bookings.releaseCallHolds(db, { companyId: ctx.companyId, callId: ctx.callId }).catch(() => {});
      store.set(ctx.callId, next, now);
      return answer(e, next, e.p.stopped);
    };
    if (taskArg === 'stop') return stop();
    let task = (taskArg && TASKS.has(taskArg) ? taskArg : null) as Task | null;
    if (!task && words && (st.stage === 'done' || !st.task || st.asked === null)) task = taskOf(words);
    let state = st;
    if (task && (task !== st.task || st.stage === 'done')) {
      state = fresh(st);
      state.task = task;
    } else if (!st.task || st.stage === 'done') {
      // No task yet: a named service is a booking wish; anything else gets the one question.
      const svc = words ? findServiceInUtterance(words, e.settings.services, 0.65) : null;
      const serviceArg = str(args.service);
      if (!svc && !serviceArg) {
        const next = fresh(st);
        store.set(ctx.callId, next, now);
        return answer(e, next, ask(next, 'task', e.p.whatTask));
      }
      state = fresh(st);
      state.task = 'book';
    }
    if (!state.phone) {
      const fromId = callerIdPhone(e);
      if (fromId) [state.phone, state.phoneFrom] = [fromId, 'caller_id'];
    }
    const before = JSON.stringify([state.serviceId, state.start, state.name, state.phone, state.bookingId]);
    // "Never mind", "cancel that" while a task is under way drop it, as task: 'stop' does — unless the same words
    // change what it holds ("cancel that, make it 11" is a correction). A name is not looked for in them: "never
    // mind" is no one's name.
    if (words && !taskArg && state === st && st.task && st.stage !== 'done' && isStop(words, st.task)) {
      const probe = JSON.parse(JSON.stringify(state)) as FlowState;
      const slots = (f: FlowState): string => JSON.stringify([f.serviceId, f.start, f.phone, f.bookingId, f.offered, f.window]);
      await absorb(e, probe, args, words);
      if (slots(probe) === slots(state)) return stop();
    }
    // At a read-back the task's own verb is a yes ("cancel it", "отменяйте") and keeping the booking a no ("no, keep it").
    const heard = words === undefined ? null : state.stage === 'confirm' ? readBackAnswer(words, state.task) : isYes(words) ? 'yes' : isNo(words) ? 'no' : null;
    const yes = args.confirm === true || heard === 'yes';
    const no = args.confirm === false || heard === 'no';
    // A question in the middle of a flow ("what does it cost?") is not an answer: let the agent look it up.
    if (words && isQuestion(words) && !yes) {
      const probe = JSON.parse(JSON.stringify(state)) as FlowState;
      await absorb(e, probe, args, words);
      const after = JSON.stringify([probe.serviceId, probe.start, probe.name, probe.phone, probe.bookingId]);
      if (after === before && state.task === st.task && st.task !== null) {
        store.set(ctx.callId, state, now);
        return { content: { error: 'not_an_answer', hint: 'the caller asked a question; answer it, then repeat the pending question', task: state.task, question: state.question } };
      }
    }
    const note = await absorb(e, state, args, words);
    const changed = before !== JSON.stringify([state.serviceId, state.start, state.name, state.phone, state.bookingId]);
    // A no to "cancel your …?", or "keep it" to "move your …?": the booking stays as it is.
    const keep = state.task === 'cancel' || (state.task === 'reschedule' && words !== undefined && keepsBooking(words));
    if (state.stage === 'confirm' && !changed && no && keep) return stop();
    const say = await step(e, state, note, yes, no, changed);
    store.set(ctx.callId, state, now);
    return answer(e, state, say);
  }

  return {
    spec: {
      name: 'booking_flow',
      description:
        'Guided booking, cancelling, rescheduling and finding the caller\'s appointment. Call it whenever the caller wants one of these or answers ' +
        'one of its questions: pass the task and every value the caller gave (their own words for the time are fine), or caller_words verbatim. ' +
        'It checks the calendar, asks for what is missing one question at a time, reads the result back and acts only when called with ' +
        'confirm: true after the caller said yes to that read-back. Its `say` is spoken to the caller as is. Existing bookings are ' +
        'those of the calling number; without caller ID the flow asks for the number and the name the booking is under.',
      parameters: {
        type: 'object',
        properties: {
          task: { type: 'string', enum: ['book', 'cancel', 'reschedule', 'find', 'stop'], description: 'What the caller wants; stop = abandon the current task' },
          service: textProperty(SERVICE_MAX, 'Service as the caller named it'),
          when: textProperty(WHEN_MAX, `The caller's words for the (new) date and time, ${WHEN_ISO_RULE}`),
          customer_name: textProperty(NAME_MAX, "The caller's name (for a new booking; without caller ID also the name an existing booking is under)", 1),
          phone: textProperty(SAID_PHONE_MAX, 'Number as the caller said it (digits or words): the callback number of a new booking; without caller ID also the number an existing booking was made with'),
          booking_id: textProperty(BOOKING_ID_MAX, 'Which booking (from an earlier answer of this tool)'),
          confirm: { type: 'boolean', description: 'true = the caller said yes to the read-back; false = they said no' },
          caller_words: textProperty(WORDS_MAX, "The caller's latest words verbatim; the flow reads slots from them"),
        },
        additionalProperties: false,
      },
    },
    async run(args, ctx) {
      const result = await runFlow(args, ctx);
      // The caller's next words are decoded expecting the answer to the question just asked (or nothing).
      ctx.recognition?.expect(expectedAnswer(store.get(ctx.callId, clock())));
      return result;
    },
  };
}

/** A normalised form for comparing spoken sentences (used to avoid saying the same line twice in a row). */
export const sameLine = (a: string, b: string): boolean => normalizeText(a) === normalizeText(b);
