/**
 * The offline "LLM": a deterministic conversation engine for demos, tests and the simulator. It answers
 * goodbyes with end_call, "operator" with transfer_call, hands bookings, cancellations and reschedules to the
 * guided flow (`booking_flow`, src/bookings/flow/) with the caller's words, answers questions from
 * search_knowledge in a short spoken sentence, and when it cannot answer takes the caller's details (name,
 * number, need) for a callback, through `callback_details` when listed (it tells the recognizer a name or a number
 * comes next) — using only the tools the request lists. Without `booking_flow` it walks a
 * booking with check_availability / book_appointment itself. It keeps no state: everything is derived from the
 * message history (the flow's own state travels in its tool results), like a real LLM.
 */
import type { ChatMessage, Language, LlmEvent, LlmProvider, LlmRequest, ToolCall } from '../providers/types.js';
import { bookingState, slotsIn } from './booking-state.js';
import { classify, extractWhen } from './intents.js';
import { detectLanguage } from './language.js';
import { REPLIES, type Replies } from './replies.js';
import { spokenAnswer } from '../knowledge/spoken-answer.js';
import { extractName, extractPhoneDigits, isNo, isQuestion, speakDigits, taskOf } from '../bookings/flow/understand.js';
import { isGreeting } from './intents.js';
import { CALLBACK_DETAILS_TOOL } from '../outcomes/callback-details-tool.js';

export interface ScenarioEngineOptions {
  language: Language;
  /** Service names from the bot's booking config, to recognise them in the caller's words. */
  services?: string[];
  /** Simulated time to first token (ms); 0 = answer at once. */
  firstTokenMs?: number;
}

type Reply = { text?: string; call?: { name: string; arguments: Record<string, unknown> } };

export class ScenarioEngine implements LlmProvider {
  readonly name = 'scenario';
  /** Tool calls made so far: their ids stay unique when the history window has dropped older messages. */
  private toolCalls = 0;

  constructor(private readonly options: ScenarioEngineOptions) {}

  async *stream(request: LlmRequest): AsyncIterable<LlmEvent> {
    const reply = this.decide(request);
    if (this.options.firstTokenMs) await sleep(this.options.firstTokenMs, request.signal);
    if (request.signal.aborted) return;
    if (reply.text) {
      // Word by word, like a streaming model, so the chunker and TTS path are the same as with a real LLM.
      for (const piece of reply.text.split(/(?<=\s)/)) {
        if (request.signal.aborted) return;
        yield { type: 'text', text: piece };
      }
    }
    if (reply.call) {
      const call: ToolCall = { id: `scn_${++this.toolCalls}_${reply.call.name}`, name: reply.call.name, arguments: reply.call.arguments };
      yield { type: 'tool_call_start' };
      yield { type: 'tool_call', call };
      yield { type: 'done', finishReason: 'tool_calls' };
      return;
    }
    yield { type: 'done', finishReason: 'stop' };
  }

  decide(request: LlmRequest): Reply {
    const reply = withUntold(request.messages, this.decideRaw(request));
    // No line twice in a row: a repeat of the previous answer gets a short lead-in.
    if (reply.text) {
      const prev = [...request.messages].reverse().find((m) => m.role === 'assistant' && m.content.trim())?.content.trim();
      const lang = this.langOf(request.messages);
      if (prev && prev === reply.text.trim()) reply.text = `${REPLIES[lang].again} ${reply.text}`;
    }
    return reply;
  }

  private langOf(messages: ChatMessage[]): Language {
    // Markers ("[keypad] 5", "[speech: …]") say nothing about the caller's language.
    const lastUser = [...messages].reverse().find((m): m is Extract<ChatMessage, { role: 'user' }> => m.role === 'user' && !/^\[/.test(m.content));
    return detectLanguage(lastUser?.content ?? '', this.options.language);
  }

  private decideRaw(request: LlmRequest): Reply {
    const { messages } = request;
    const has = (name: string): boolean => request.tools.some((t) => t.name === name);
    const lang = this.langOf(messages);
    const r = REPLIES[lang];
    const last = messages[messages.length - 1];
    if (!last) return { text: r.didNotCatch };
    if (last.role === 'tool') return this.afterTool(last, messages, r, has);
    if (last.role !== 'user') return { text: r.anythingElse };

    const text = last.content;
    if (/^\[speech: no recognizer/.test(text)) return { text: REPLIES[this.options.language].noRecognizer };
    const prevAssistant = [...messages.slice(0, -1)].reverse().find((m) => m.role === 'assistant')?.content ?? '';
    const flow = has('booking_flow') ? lastFlow(messages) : null;
    const flowActive = flow !== null && (flow.stage === 'collect' || flow.stage === 'confirm') && flow.task !== null && flow.next !== 'task';
    const intent = classify(text);
    // "No" to a read-back is a correction, not a goodbye.
    const goodbye = intent === 'goodbye' && !(flowActive && isNo(text) && !/\b(bye|goodbye)\b|до свидания/.test(text.toLowerCase()));
    // A screening assistant asks who is calling and why: the campaign's answer gives the bot's name and purpose.
    if (intent === 'screening' && has('answer_call_screening')) return { call: { name: 'answer_call_screening', arguments: {} } };
    // "Stop calling me": the campaigns' do_not_call tool records the number and ends the call politely.
    if (intent === 'stop_calling' && has('do_not_call')) return { call: { name: 'do_not_call', arguments: { reason: text.slice(0, 200) } } };
    if (goodbye) return has('end_call') ? { call: { name: 'end_call', arguments: { reason: 'caller said goodbye' } } } : { text: r.goodbye };
    if (intent === 'human') return has('transfer_call') ? { call: { name: 'transfer_call', arguments: { reason: 'caller asked for a human' } } } : { text: r.cannotTransfer };

    // Taking the caller's details for a callback (the fallback's promise).
    const lead = this.leadStep(text, prevAssistant, messages, r, has);
    if (lead) return lead;

    if (has('booking_flow')) {
      const keypad = /^\[keypad\]/.test(text);
      if (flowActive || (flow?.next === 'task' && !isQuestion(text))) return { call: { name: 'booking_flow', arguments: { caller_words: text } } };
      if (keypad) return { text: r.anythingElse };
      const task = taskOf(text);
      if (task) return { call: { name: 'booking_flow', arguments: { task, caller_words: text } } };
      if (isGreeting(text)) return { text: r.hello };
      // A statement may name a service ("I'd like my TV mounted"): the flow decides; a question goes to the documents.
      if (!isQuestion(text)) return { call: { name: 'booking_flow', arguments: { caller_words: text } } };
      if (has('search_knowledge')) return { call: { name: 'search_knowledge', arguments: { query: text } } };
      return offerCallback(text, r, has);
    }

    if (intent === 'cancel' && has('cancel_booking')) return { call: { name: 'cancel_booking', arguments: { reason: text } } };
    const rescheduleAsked = Object.values(REPLIES).some((x) => prevAssistant.includes(x.askRescheduleTime));
    if ((intent === 'reschedule' || rescheduleAsked) && has('reschedule_booking')) {
      const when = extractWhen(text) ?? (rescheduleAsked ? text.trim() : null);
      return when ? { call: { name: 'reschedule_booking', arguments: { when } } } : { text: r.askRescheduleTime };
    }
    if (intent === 'my_booking' && has('find_my_booking')) return { call: { name: 'find_my_booking', arguments: {} } };

    const booking = bookingState(messages, Object.values(REPLIES), this.options.services ?? []);
    if (booking.active) return this.bookingStep(booking, has, r);

    if (isGreeting(text)) return { text: r.hello };
    if (has('search_knowledge')) return { call: { name: 'search_knowledge', arguments: { query: text } } };
    return offerCallback(text, r, has);
  }

  /**
   * The callback details: name, then number; the need is what the caller asked that we could not answer. With the
   * callback_details tool each answer goes through it (it keeps the fields and tells the recognizer what the next
   * answer is), and the line is said after its result; without it the same lines are said at once.
   */
  private leadStep(text: string, prevAssistant: string, messages: ChatMessage[], r: Replies, has: (n: string) => boolean): Reply | null {
    const all = Object.values(REPLIES);
    const tool = has(CALLBACK_DETAILS_TOOL);
    // A question or a task instead of the detail asked leaves the callback: the caller is answered, not taken for
    // a name ("are you open on sunday") or asked again and again for a number. Two words may be a name ("Will Smith").
    if ((isQuestion(text) && text.trim().split(/\s+/).length > 2) || taskOf(text)) return null;
    if (all.some((x) => prevAssistant.includes(x.leadAskName))) {
      if (isNo(text) && text.trim().split(/\s+/).length <= 3) {
        return tool ? { call: { name: CALLBACK_DETAILS_TOOL, arguments: { stop: true } } } : { text: r.anythingElse };
      }
      const name = extractName(text, true);
      return tool ? { call: { name: CALLBACK_DETAILS_TOOL, arguments: { name: name ?? '' } } } : { text: r.leadAskPhone(name) };
    }
    if (all.some((x) => prevAssistant.includes(x.leadAskPhone(null).replace(/^[^.]*\.\s*/, '')))) {
      const digits = extractPhoneDigits(text.replace(/^\[keypad\]\s*/, ''));
      // Not a number: ask again (the recognizer still expects one).
      if (!digits) return { text: r.leadPhoneAgain };
      if (tool) return { call: { name: CALLBACK_DETAILS_TOOL, arguments: { phone: digits } } };
      return { text: r.leadDone(leadName(messages) ?? '', speakDigits(digits), leadNeed(messages)) };
    }
    return null;
  }

  /** The line after callback_details answered: the question it says is next, or the summary once done. */
  private afterCallbackDetails(content: Record<string, unknown>, messages: ChatMessage[], r: Replies): Reply {
    const name = typeof content.name === 'string' && content.name ? content.name : null;
    switch (content.next) {
      case 'name': return { text: `${r.leadStart} ${r.leadAskName}` };
      case 'phone': return { text: content.error ? r.leadPhoneAgain : r.leadAskPhone(name) };
      case 'done': {
        const phone = typeof content.phone === 'string' ? content.phone : '';
        return { text: r.leadDone(name ?? leadName(messages) ?? '', speakDigits(phone), leadNeed(messages)) };
      }
      default: return { text: r.anythingElse };
    }
  }

  private bookingStep(b: ReturnType<typeof bookingState>, has: (n: string) => boolean, r: Replies): Reply {
    if (!has('book_appointment')) {
      if (!b.service) return { text: r.askService };
      if (!b.when) return { text: r.askTime };
      if (!b.name) return { text: r.askName };
      return { text: r.cannotBook(`${b.service}, ${b.when}, ${b.name}`) };
    }
    if (!b.service) return { text: r.askService };
    if (!b.when && !b.chosen) return { text: r.askTime };
    if (!b.chosen) {
      if (has('check_availability') && !b.checkedCurrent) {
        return { text: `${r.checking} `, call: { name: 'check_availability', arguments: { service: b.service, when: b.when } } };
      }
      if (b.noSlotsForCurrent) return { text: r.noSlots };
      if (b.offered) return { text: r.offer(b.offered.map((s) => s.label)) };
      // No availability tool: book what the caller asked for; the booking tool answers slot_taken if needed.
      if (!b.name) return { text: r.askName };
      return { call: { name: 'book_appointment', arguments: { service: b.service, when: b.when, customer_name: b.name } } };
    }
    if (!b.name) return { text: r.askName };
    return { call: { name: 'book_appointment', arguments: { service: b.service, when: b.chosen.start, customer_name: b.name } } };
  }

  private afterTool(last: Extract<ChatMessage, { role: 'tool' }>, messages: ChatMessage[], r: Replies, has: (n: string) => boolean): Reply {
    let content: Record<string, unknown> = {};
    try {
      const v = JSON.parse(last.content) as unknown;
      if (typeof v === 'object' && v !== null) content = v as Record<string, unknown>;
    } catch {
      // Not JSON: treat as an empty result.
    }
    const error = typeof content.error === 'string' ? content.error : null;
    const label = (c: Record<string, unknown>): string | null =>
      typeof c.label === 'string' ? c.label : typeof c.start === 'string' ? c.start : null;
    switch (last.name) {
      case CALLBACK_DETAILS_TOOL:
        return this.afterCallbackDetails(content, messages, r);
      case 'check_availability': {
        if (error === 'unknown_service') {
          const known = Array.isArray(content.services) ? content.services.filter((x): x is string => typeof x === 'string') : [];
          return { text: r.unknownService(known) };
        }
        const slots = slotsIn(content).slice(0, 3);
        return { text: slots.length ? r.offer(slots.map((s) => s.label)) : r.noSlots };
      }
      case 'book_appointment': {
        if (typeof content.booking_id === 'string') {
          const name = bookingNameFromCall(messages);
          return { text: r.confirmed(label(content) ?? '', name) };
        }
        if (error === 'slot_taken') return { text: r.slotTaken(slotsIn(content).slice(0, 3).map((s) => s.label)) };
        if (error === 'time_not_understood' || error === 'exact_time_required') return { text: r.askTime };
        if (error === 'customer_name_required') return { text: r.askName };
        return { text: r.toolError };
      }
      case 'booking_flow': {
        // The flow answered without a line to say: the caller asked a question mid-flow, or named no task.
        const query = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
        if (content.collecting_digits !== undefined) return { text: '' };
        if (has('search_knowledge')) return { call: { name: 'search_knowledge', arguments: { query } } };
        const question = typeof content.question === 'string' ? content.question : null;
        return question ? { text: `${r.dontKnow.split('. ')[0]}. ${question}` } : offerCallback(query, r, has);
      }
      case 'search_knowledge': {
        const results = Array.isArray(content.results) ? (content.results as Record<string, unknown>[]) : [];
        const best = results[0];
        const query = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
        const flow = lastFlow(messages);
        const pending = flow && (flow.stage === 'collect' || flow.stage === 'confirm') && flow.question ? flow.question : null;
        // `answer` is the tool's spoken answer (null: nothing relevant); without it, shape the best chunk here.
        const answer = 'answer' in content
          ? (typeof content.answer === 'string' && content.answer.trim() ? content.answer.trim() : null)
          : best && typeof best.text === 'string' ? spokenAnswer(best.text, query, undefined, typeof best.section === 'string' ? best.section : null) : null;
        if (!answer) {
          // Mid-flow, say so briefly and go back to the pending question; otherwise take details for a callback.
          if (pending) return { text: `${r.dontKnow.split('. ')[0]}. ${r.backToFlow} ${pending}` };
          return offerCallback(query, r, has);
        }
        return { text: pending ? `${answer} ${r.backToFlow} ${pending}` : answer };
      }
      case 'find_my_booking': {
        const list = Array.isArray(content.bookings) ? (content.bookings as Record<string, unknown>[]) : [];
        const found = (content.booking as Record<string, unknown> | undefined) ?? list[0] ?? (label(content) ? content : undefined);
        const l = found ? label(found) : null;
        return { text: l ? r.bookingFound(l) : r.noBooking };
      }
      case 'cancel_booking':
        return { text: error ? r.noBooking : r.cancelled };
      case 'reschedule_booking': {
        if (error === 'slot_taken') return { text: r.slotTaken(slotsIn(content).slice(0, 3).map((s) => s.label)) };
        const l = label(content) ?? label((content.booking as Record<string, unknown> | undefined) ?? {});
        return { text: error || !l ? r.noBooking : r.rescheduled(l) };
      }
      default:
        return { text: error ? r.toolError : r.done };
    }
  }
}

/** Replies that go on with what the caller asked after the untold say: a goodbye, a hand-over, a task's next step. */
const GOES_ON_AFTER_UNTOLD = new Set(['end_call', 'transfer_call', 'do_not_call', 'booking_flow']);

/**
 * What the caller's last turn cut off before they heard it: the says of tools that ran in the answer they spoke over
 * (`not_yet_told_to_caller`, tool-rounds.ts) — a booking made, a cancellation done. Said first on their next turn,
 * before a goodbye or the next step of a task and instead of anything else, so "wait, what time was that?" is not
 * answered "I don't have that information" while the caller does not know they are booked.
 */
function withUntold(messages: ChatMessage[], reply: Reply): Reply {
  if (messages.at(-1)?.role !== 'user') return reply;
  const untold: string[] = [];
  for (let i = messages.length - 2; i >= 0 && messages[i]!.role !== 'user'; i--) {
    const m = messages[i]!;
    if (m.role !== 'tool') continue;
    try {
      const said = (JSON.parse(m.content) as { not_yet_told_to_caller?: unknown }).not_yet_told_to_caller;
      if (typeof said === 'string' && said.trim()) untold.unshift(said.trim());
    } catch {
      continue;
    }
  }
  if (!untold.length) return reply;
  const text = untold.join(' ');
  return reply.call && GOES_ON_AFTER_UNTOLD.has(reply.call.name) ? { ...reply, text: [text, reply.text].filter(Boolean).join(' ') } : { text };
}

interface FlowSnapshot {
  task: string | null;
  stage: string;
  next: string | null;
  question: string | null;
}

/** The guided flow's state as its latest answer in the history reports it. */
function lastFlow(messages: ChatMessage[]): FlowSnapshot | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== 'tool' || m.name !== 'booking_flow') continue;
    try {
      const c = JSON.parse(m.content) as Record<string, unknown>;
      if (typeof c.stage !== 'string') continue;
      return {
        task: typeof c.task === 'string' ? c.task : null,
        stage: c.stage,
        next: typeof c.next === 'string' ? c.next : null,
        question: typeof c.question === 'string' ? c.question : null,
      };
    } catch {
      continue;
    }
  }
  return null;
}

/** The name the caller gave when the callback details were taken. */
function leadName(messages: ChatMessage[]): string | null {
  const all = Object.values(REPLIES);
  for (let i = 1; i < messages.length; i++) {
    const m = messages[i]!;
    const prev = messages[i - 1]!;
    if (m.role === 'user' && prev.role === 'assistant' && all.some((x) => prev.content.includes(x.leadAskName))) return extractName(m.content, true);
  }
  return null;
}

/** What the caller needed: their words that the bot could not answer (the turn before the callback offer). */
function leadNeed(messages: ChatMessage[]): string | null {
  const all = Object.values(REPLIES);
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role === 'assistant' && all.some((x) => m.content.includes(x.leadStart))) {
      for (let j = i - 1; j >= 0; j--) {
        const u = messages[j]!;
        if (u.role === 'user') return u.content.trim().replace(/[.?!]+$/, '').slice(0, 160) || null;
      }
    }
  }
  return null;
}

function bookingNameFromCall(messages: ChatMessage[]): string | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    const call = m?.role === 'assistant' ? m.toolCalls?.find((c) => c.name === 'book_appointment') : undefined;
    if (call) return typeof call.arguments.customer_name === 'string' ? call.arguments.customer_name : null;
  }
  return null;
}

/** Offering to take the caller's details: through callback_details when the call has it, else said at once. */
function offerCallback(need: string, r: Replies, has: (n: string) => boolean): Reply {
  if (!has(CALLBACK_DETAILS_TOOL)) return { text: `${r.leadStart} ${r.leadAskName}` };
  const words = need.trim().replace(/[.?!]+$/, '').slice(0, 160);
  return { call: { name: CALLBACK_DETAILS_TOOL, arguments: words && !/^\[/.test(words) ? { need: words } : {} } };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}

/** Service names from a bot's booking config (`booking.services[].name`), whatever else that section holds. */
export function scenarioServices(booking: unknown): string[] {
  const services = (booking as { services?: unknown } | undefined)?.services;
  if (!Array.isArray(services)) return [];
  return services
    .map((s) => (typeof s === 'string' ? s : typeof (s as { name?: unknown })?.name === 'string' ? (s as { name: string }).name : null))
    .filter((s): s is string => Boolean(s));
}
