/**
 * The guided booking flow on the LLM path: a phone call through the real server with OpenAI (its fake scripts the
 * model's tool calls). The flow's state lives in the tool, not in the model: a model that tries to book at once
 * is refused with what is missing, and a booking completes only through the tool's own read-back and a
 * confirmation, with the caller-ID number and the name the model passed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../scripts/lib/twilio-caller.js';
import { mulawToneFrame } from '../fakes/fakeDeepgram.js';
import type { FakeChatReply } from '../fakes/fakeOpenAI.js';
import { PUBLIC_ORIGIN, startCloudStack, type CloudStack } from '../helpers/cloud-stack.js';
import { CALLER_ID, HAIRCUT_BOOKING } from '../helpers/haircut-booking.js';
import { until } from '../helpers/until.js';
import { storedTranscript } from '../helpers/transcript.js';

const BOOKING = HAIRCUT_BOOKING;
const CALLER = CALLER_ID;

interface Message { role: string; content: string | null; tool_calls?: unknown[] }
interface FlowContent { stage: string; missing: string[]; filled: Record<string, unknown>; next: string | null; say: string; result?: { booking_id: string } }

describe('guided booking on the LLM path (OpenAI tool calls)', () => {
  let s: CloudStack;

  beforeAll(async () => {
    s = await startCloudStack({
      deepgram: { utterances: ['I want a haircut tomorrow at ten in the morning', 'Jane Doe', 'yes please'], finalLatencyMs: 20 },
      openai: { firstTokenLatencyMs: 5 },
      cartesia: { firstAudioLatencyMs: 5, chunkIntervalMs: 0 },
      botConfig: { booking: BOOKING },
    });
    // The model turns the caller's words into a booking_flow call; the tool's `say` is then spoken as is.
    s.openai.reply = (body): FakeChatReply => {
      const turn = (body.messages as Message[]).filter((m) => m.role === 'user').length;
      const call = (args: Record<string, unknown>): FakeChatReply => ({ toolCalls: [{ id: `call_${turn}`, name: 'booking_flow', arguments: args }] });
      // Turn 1: an eager model tries to book outright, with no name.
      if (turn === 1) return call({ task: 'book', service: 'haircut', when: 'tomorrow at 10 am', confirm: true });
      if (turn === 2) return call({ customer_name: 'Jane Doe' });
      return call({ confirm: true });
    };
  });
  afterAll(async () => s?.close());

  const bookings = async (callId: string) => s.t.db.sql`select status, service_id, customer_name, customer_phone from bookings where call_id = ${callId}`;
  const botSaid = async (callId: string, re: RegExp): Promise<boolean> => {
    return (await storedTranscript(s.t.db.sql, callId)).some((e) => e.role === 'bot' && re.test(e.text));
  };
  /** What the flow answered the model, as the model sees it in its history on the next request. */
  const flowAnswers = (): FlowContent[] =>
    ((s.openai.requests.at(-1)?.body.messages ?? []) as Message[]).filter((m) => m.role === 'tool').map((m) => JSON.parse(m.content ?? '{}') as FlowContent);

  it('refuses to book without the required slots, then books through the read-back and a yes', async () => {
    const caller = await TwilioCaller.dial({ server: s.url, publicOrigin: PUBLIC_ORIGIN, authToken: s.twilioAuthToken, from: CALLER, to: s.botNumber });
    expect(await caller.waitForBotAudio(5000)).toBe(true);
    await caller.waitForBotQuiet(300);

    // Turn 1: "book it now" without a name is no booking: the flow asks for the name; the slot is only held.
    await caller.say(mulawToneFrame(800, 8000));
    await until(() => botSaid(caller.callId, /May I have your name/));
    const offered = (s.openai.requests[0]!.body.tools as Array<{ function: { name: string } }>).map((t) => t.function.name);
    expect(offered).toContain('booking_flow');
    expect((await bookings(caller.callId)).map((b) => b.status)).toEqual(['held']);
    await caller.waitForBotQuiet(300);

    // Turn 2: the name; the flow reads the booking back and waits for a yes (still no booking).
    await caller.say(mulawToneFrame(800, 8000));
    await until(() => botSaid(caller.callId, /Let me confirm: Haircut tomorrow at 10:00 AM, for Jane Doe/));
    // The model's history carries the flow's state: turn 1 was refused, with what is missing and what comes next.
    const [first] = flowAnswers();
    expect(first).toMatchObject({ stage: 'collect', missing: ['customer_name'], next: 'name', filled: { service: 'Haircut', phone: CALLER } });
    expect((await bookings(caller.callId)).map((b) => b.status)).toEqual(['held']);
    await caller.waitForBotQuiet(300);

    // Turn 3: yes → booked, with the caller-ID number and the name.
    await caller.say(mulawToneFrame(800, 8000));
    await until(() => botSaid(caller.callId, /You're booked for Haircut tomorrow at 10:00 AM/));
    expect(flowAnswers()[1]).toMatchObject({ stage: 'confirm', missing: [], next: 'confirm' });
    expect(await bookings(caller.callId)).toEqual([{ status: 'confirmed', service_id: 'haircut', customer_name: 'Jane Doe', customer_phone: CALLER }]);
    await caller.hangup();
  });
});
