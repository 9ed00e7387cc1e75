/**
 * The in-call tool `callback_details`: taking the caller's details for a callback (a lead) when the bot cannot
 * help — their name, the number to call back and what they need — one question at a time. It keeps what was
 * given for the call, answers what to ask next (`next`: name, phone, or done), and tells the call's recognizer
 * what the next answer will be (a name, a phone number), as the guided booking flow does for its questions, so
 * the caller's answer is decoded with a model for that kind of answer. The scenario engine and real LLMs use it
 * the same way. The lead itself is still read from the transcript by the outcome analysis; this tool only
 * carries the fields and the expectation.
 */
import type { Tool } from '../call/tool-types.js';
import type { ExpectedInput } from '../providers/types.js';
import { extractPhoneDigits } from '../bookings/flow/understand.js';

export const CALLBACK_DETAILS_TOOL = 'callback_details';

export type CallbackNext = 'name' | 'phone' | 'done';

interface LeadState {
  need: string | null;
  /** The name question was answered (the answer may have held no usable name). */
  nameGiven: boolean;
  name: string | null;
  phone: string | null;
}

const fresh = (): LeadState => ({ need: null, nameGiven: false, name: null, phone: null });
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim().slice(0, 200) : null);

/** What to ask for next, given what the call has so far. */
export function nextDetail(st: Pick<LeadState, 'nameGiven' | 'phone'>): CallbackNext {
  if (!st.nameGiven) return 'name';
  if (!st.phone) return 'phone';
  return 'done';
}

/** What the recognizer should expect after the question the caller is asked next (null once done or stopped). */
export function expectedDetail(next: CallbackNext | null): ExpectedInput | null {
  return next === 'name' ? 'name' : next === 'phone' ? 'phone' : null;
}

/** Per-call details. A call lives on one instance; entries idle for two hours are dropped. */
class LeadStore {
  private readonly states = new Map<string, { state: LeadState; at: number }>();
  get(callId: string, now: number): LeadState {
    if (this.states.size > 1000) for (const [k, v] of this.states) if (now - v.at > 7_200_000) this.states.delete(k);
    return this.states.get(callId)?.state ?? fresh();
  }
  set(callId: string, state: LeadState, now: number): void {
    this.states.set(callId, { state, at: now });
  }
}

export function callbackDetailsTool(clock: () => number = Date.now): Tool {
  const store = new LeadStore();
  return {
    spec: {
      name: CALLBACK_DETAILS_TOOL,
      description:
        "Take the caller's details for a callback when you cannot help them yourself. Call it when you offer the callback " +
        "(with need: what they asked for), and again with each answer: name (the caller's name as said), phone (the number " +
        'as said, digits or words). It answers `next`: the one thing to ask for now (name, phone) or done; ask for exactly ' +
        'that. stop: true when the caller declines.',
      parameters: {
        type: 'object',
        properties: {
          need: { type: 'string', description: 'What the caller needs, in their words' },
          name: { type: 'string', description: "The caller's name as they said it" },
          phone: { type: 'string', description: 'The callback number as the caller said it (digits or words)' },
          stop: { type: 'boolean', description: 'true = the caller does not want to leave details' },
        },
        additionalProperties: false,
      },
    },
    async run(args, ctx) {
      const now = clock();
      const st = { ...store.get(ctx.callId, now) };
      if (args.stop === true) {
        store.set(ctx.callId, fresh(), now);
        ctx.recognition?.expect(null);
        return { content: { stopped: true, next: null } };
      }
      const need = str(args.need);
      // A new offer (no name, no number) after a finished one starts over.
      if (args.name === undefined && args.phone === undefined && st.phone) Object.assign(st, fresh());
      if (need) st.need = need;
      if (typeof args.name === 'string') {
        st.nameGiven = true;
        st.name = str(args.name) ?? st.name;
      }
      let problem: string | null = null;
      if (typeof args.phone === 'string') {
        const digits = extractPhoneDigits(args.phone.replace(/^\[keypad\]\s*/, ''));
        if (digits) st.phone = digits;
        else problem = 'phone_not_understood';
      }
      const next = nextDetail(st);
      store.set(ctx.callId, st, now);
      // The caller's next words are decoded expecting the answer to the question asked now.
      ctx.recognition?.expect(expectedDetail(next));
      return { content: { next, name: st.name, phone: st.phone, need: st.need, ...(problem ? { error: problem } : {}) } };
    },
  };
}

/** One tool for the process: its per-call state is keyed by call id. */
export const callbackDetails: Tool = callbackDetailsTool();
