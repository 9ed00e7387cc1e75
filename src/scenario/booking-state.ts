/**
 * What the caller has told us about the booking they want, derived from the message history alone: the
 * scenario engine keeps no state between calls of stream().
 */
import type { ChatMessage } from '../providers/types.js';
import { classify, extractName, extractService, extractWhen, nameFromAnswer, pickedOption, serviceFromAnswer, wantsService } from './intents.js';
import type { Replies } from './replies.js';

export interface Slot {
  start: string;
  label: string;
}

export interface BookingState {
  active: boolean;
  service: string | null;
  when: string | null;
  name: string | null;
  /** Slots from the latest availability answer (or a slot_taken alternatives list). */
  offered: Slot[] | null;
  /** The offered slot the caller picked. */
  chosen: Slot | null;
  /** A check for the current service+when already ran and returned nothing. */
  noSlotsForCurrent: boolean;
  /** An availability check already ran for the current service+when. */
  checkedCurrent: boolean;
  booked: boolean;
}

const parse = (content: string): Record<string, unknown> => {
  try {
    const v = JSON.parse(content) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
};

export function slotsIn(content: Record<string, unknown>): Slot[] {
  const list = (content.slots ?? content.alternatives) as unknown;
  if (!Array.isArray(list)) return [];
  return list
    .filter((s): s is Slot => typeof s === 'object' && s !== null && typeof (s as Slot).start === 'string')
    .map((s) => ({ start: s.start, label: typeof s.label === 'string' ? s.label : s.start }));
}

export function bookingState(messages: ChatMessage[], replies: Replies[], configuredServices: string[]): BookingState {
  const services = [...configuredServices];
  const state: BookingState = {
    active: false, service: null, when: null, name: null, offered: null, chosen: null,
    noSlotsForCurrent: false, checkedCurrent: false, booked: false,
  };
  const asked = (content: string, pick: (r: Replies) => string): boolean => replies.some((r) => content.includes(pick(r)));
  let lastAssistant = '';
  // Slots arrived since the caller last spoke (possibly read out by a tool's own `say`): a pick refers to them.
  let offerFresh = false;
  for (const m of messages) {
    if (m.role === 'assistant') {
      lastAssistant = m.content;
      continue;
    }
    if (m.role === 'tool') {
      const content = parse(m.content);
      if (m.name === 'check_availability' && content.error === 'unknown_service') {
        state.service = null;
        state.checkedCurrent = false;
        // The tool told us what the business offers: recognise those names from now on.
        if (Array.isArray(content.services)) for (const x of content.services) if (typeof x === 'string') services.push(x);
      } else if (m.name === 'check_availability') {
        const slots = slotsIn(content);
        state.offered = slots.length ? slots.slice(0, 3) : null;
        offerFresh = slots.length > 0;
        state.checkedCurrent = true;
        state.noSlotsForCurrent = slots.length === 0;
        state.chosen = null;
      } else if (m.name === 'book_appointment') {
        if (typeof content.booking_id === 'string') {
          // Done: a later booking request starts afresh.
          Object.assign(state, { active: false, service: null, when: null, name: null, offered: null, chosen: null, checkedCurrent: false, noSlotsForCurrent: false, booked: true });
        } else if (content.error === 'time_not_understood' || content.error === 'exact_time_required') {
          state.when = null;
          state.chosen = null;
          state.offered = null;
        } else {
          const alts = slotsIn(content);
          state.offered = alts.length ? alts.slice(0, 3) : null;
          offerFresh = alts.length > 0;
          state.chosen = null;
        }
      }
      continue;
    }
    const text = m.content;
    const fresh = offerFresh;
    offerFresh = false;
    const intent = classify(text);
    if ((intent === 'book' || (intent === 'other' && wantsService(text, services))) && !state.active) {
      state.active = true;
      state.booked = false;
    }
    if (intent === 'goodbye' || intent === 'human' || intent === 'cancel' || intent === 'reschedule') state.active = false;
    if (!state.active) continue;

    const name = asked(lastAssistant, (r) => r.askName) ? nameFromAnswer(text) : extractName(text);
    if (name) state.name = name;
    const service = asked(lastAssistant, (r) => r.askService) ? serviceFromAnswer(text, services) : extractService(text, services);
    if (service && service !== state.service) {
      state.service = service;
      state.checkedCurrent = false;
    }
    if (state.offered && (fresh || asked(lastAssistant, (r) => r.offerTail))) {
      const pick = pickedOption(text, state.offered.length);
      if (pick !== null) state.chosen = state.offered[pick] ?? null;
    }
    const when = extractWhen(text) ?? (asked(lastAssistant, (r) => r.askTime) || asked(lastAssistant, (r) => r.noSlots) ? text.trim() : null);
    if (when && !state.chosen) {
      state.when = when;
      state.checkedCurrent = false;
      state.noSlotsForCurrent = false;
    }
  }
  return state;
}
