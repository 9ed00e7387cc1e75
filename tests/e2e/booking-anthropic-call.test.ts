/**
 * The guided booking flow on the Anthropic path: a phone call through the real server with Anthropic as the LLM
 * (its fake streams the model's tool_use blocks, input cut into input_json_delta pieces at arbitrary points). The
 * flow's state lives in the tool and reaches the model as tool_result blocks: a model that tries to book at once
 * is refused with what is missing, and a booking completes only through the tool's read-back and a yes, with the
 * caller-ID number and the name the model passed. A second call asks for a taken time, gets the nearest free
 * ones, picks one and corrects it before saying yes.
 */
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../scripts/lib/twilio-caller.js';
import { toolResults, userTexts, type FakeAnthropicReply } from '../fakes/fakeAnthropic.js';
import { mulawToneFrame } from '../fakes/fakeDeepgram.js';
import { PUBLIC_ORIGIN, startAnthropicCloudStack, type AnthropicCloudStack } from '../helpers/cloud-stack.js';
import { BOOKING_ZONE, CALLER_ID, HAIRCUT_BOOKING } from '../helpers/haircut-booking.js';
import { until } from '../helpers/until.js';
import { storedTranscript } from '../helpers/transcript.js';

const ZONE = BOOKING_ZONE;
const BOOKING = HAIRCUT_BOOKING;
const CALLER = CALLER_ID;

/**
 * The model: what it passes to booking_flow for each thing the caller says. Turn one of the first call is an
 * eager model that books outright without a name, after a whitespace-only text block (Claude sometimes streams
 * "\n\n" before a tool_use; the API refuses such a block when it is sent back in the history).
 */
const MODEL: Record<string, { input: Record<string, unknown>; text?: string }> = {
  'I want a haircut tomorrow at ten in the morning': { text: '\n\n', input: { task: 'book', service: 'haircut', when: 'tomorrow at 10 am', confirm: true } },
  'Jane Doe': { input: { customer_name: 'Jane Doe' } },
  'yes please': { input: { confirm: true } },
  'A haircut tomorrow at three please, this is John Smith': { input: { task: 'book', service: 'haircut', when: 'tomorrow at 3 pm', customer_name: 'John Smith' } },
  'four then': { input: { when: 'tomorrow at 4 pm' } },
  'no, make it five': { input: { confirm: false, when: '5 pm' } },
  yes: { input: { confirm: true } },
};

interface FlowContent {
  stage: string;
  missing: string[];
  filled: Record<string, unknown>;
  next: string | null;
  say: string;
  offered?: Array<{ start: string; label: string }>;
  awaiting?: string;
}
interface SentMessage { role: string; content: Array<{ type: string; id?: string; name?: string; input?: unknown; text?: string }> }

describe('guided booking on the LLM path (Anthropic tool_use)', () => {
  let s: AnthropicCloudStack;

  beforeAll(async () => {
    s = await startAnthropicCloudStack({
      deepgram: { finalLatencyMs: 20 },
      anthropic: { firstTokenLatencyMs: 5 },
      cartesia: { firstAudioLatencyMs: 5, chunkIntervalMs: 0 },
      botConfig: { booking: BOOKING },
    });
    // The model answers the caller's latest words with a booking_flow tool_use; the tool's `say` is spoken as is.
    s.anthropic.reply = (body): FakeAnthropicReply => {
      const words = userTexts(body).at(-1) ?? '';
      const turn = MODEL[words];
      if (!turn) throw new Error(`the scripted model has no answer to "${words}"`);
      return { ...(turn.text ? { text: turn.text } : {}), toolUses: [{ id: `toolu_${s.anthropic.requests.length}`, name: 'booking_flow', input: turn.input }] };
    };
  });
  afterAll(async () => s?.close());

  const bookings = async (callId: string) =>
    s.t.db.sql`select status, service_id, customer_name, customer_phone, starts_at from bookings where call_id = ${callId} order by created_at`;
  const botSaid = async (callId: string, re: RegExp): Promise<boolean> => {
    return (await storedTranscript(s.t.db.sql, callId)).some((e) => e.role === 'bot' && re.test(e.text));
  };
  /** What the flow answered, as the model was sent it (tool_result blocks) in the last request. */
  const flowAnswers = (): FlowContent[] => toolResults(s.anthropic.requests.at(-1)!.body).map((r) => JSON.parse(String(r.content)) as FlowContent);
  const tomorrowAt = (hour: number): DateTime => DateTime.now().setZone(ZONE).plus({ days: 1 }).set({ hour, minute: 0, second: 0, millisecond: 0 });
  const dial = async (utterances: string[]): Promise<TwilioCaller> => {
    s.deepgram.options.utterances = utterances;
    const caller = await TwilioCaller.dial({ server: s.url, publicOrigin: PUBLIC_ORIGIN, authToken: s.twilioAuthToken, from: CALLER, to: s.botNumber });
    expect(await caller.waitForBotAudio(5000)).toBe(true);
    await caller.waitForBotQuiet(300);
    return caller;
  };
  const sayAndWait = async (caller: TwilioCaller, botLine: RegExp): Promise<void> => {
    await caller.say(mulawToneFrame(800, 8000));
    await until(() => {
      // A request the API would refuse fails the test at once, with the API's reason, instead of at the deadline.
      if (s.anthropic.refusals.length > 0) throw new Error(`Anthropic refused a request: ${s.anthropic.refusals.join('; ')}`);
      return botSaid(caller.callId, botLine);
    });
    await caller.waitForBotQuiet(300);
  };

  it('refuses to book without the required slots, then books through the read-back and a yes', async () => {
    const before = s.anthropic.requests.length;
    const caller = await dial(['I want a haircut tomorrow at ten in the morning', 'Jane Doe', 'yes please']);

    // Turn 1: "book it now" without a name is no booking: the flow asks for the name; the slot is only held.
    await sayAndWait(caller, /May I have your name/);
    const first = s.anthropic.requests[before]!.body;
    const tools = first.tools as Array<{ name: string; input_schema: { type: string; properties: Record<string, unknown> } }>;
    expect(tools.find((t) => t.name === 'booking_flow')?.input_schema).toMatchObject({ type: 'object', properties: { customer_name: {}, confirm: {} } });
    // The system prompt (cached) tells the model to book only through the flow; the caller's words come as the user turn.
    const system = first.system as Array<{ type: string; text: string; cache_control?: unknown }>;
    expect(system).toEqual([{ type: 'text', text: expect.stringContaining('use booking_flow') as string, cache_control: { type: 'ephemeral' } }]);
    expect(system[0]!.text).toContain('Be brief.');
    expect(first.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'I want a haircut tomorrow at ten in the morning', cache_control: { type: 'ephemeral' } }] }]);
    expect((await bookings(caller.callId)).map((b) => b.status)).toEqual(['held']);

    // Turn 2: the name; the flow reads the booking back and waits for a yes (still no booking).
    await sayAndWait(caller, /Let me confirm: Haircut tomorrow at 10:00 AM, for Jane Doe/);
    // The history carries the model's own tool_use (its input reassembled from the pieces, the blank text left
    // out) and the flow's answer to it as a tool_result: refused, with what is missing and what comes next.
    const second = s.anthropic.requests.at(-1)!.body.messages as SentMessage[];
    const use = second[1]!.content;
    expect(second[1]!.role).toBe('assistant');
    expect(use).toEqual([{ type: 'tool_use', id: expect.stringMatching(/^toolu_/) as string, name: 'booking_flow', input: MODEL['I want a haircut tomorrow at ten in the morning']!.input }]);
    expect(second[2]).toEqual({ role: 'user', content: [{ type: 'tool_result', tool_use_id: use[0]!.id, content: expect.any(String) as string }] });
    expect(flowAnswers()[0]).toMatchObject({ stage: 'collect', missing: ['customer_name'], next: 'name', filled: { service: 'Haircut', phone: CALLER } });
    expect(second.at(-1)).toEqual({ role: 'user', content: [{ type: 'text', text: 'Jane Doe', cache_control: { type: 'ephemeral' } }] });
    expect((await bookings(caller.callId)).map((b) => b.status)).toEqual(['held']);

    // Turn 3: yes → booked, with the caller-ID number and the name.
    await sayAndWait(caller, /You're booked for Haircut tomorrow at 10:00 AM/);
    expect(flowAnswers()[1]).toMatchObject({ stage: 'confirm', missing: [], next: 'confirm', filled: { customer_name: 'Jane Doe' } });
    expect(flowAnswers()[1]!.awaiting).toContain('confirm: true');
    const rows = await bookings(caller.callId);
    expect(rows.map(({ starts_at: _, ...b }) => b)).toEqual([{ status: 'confirmed', service_id: 'haircut', customer_name: 'Jane Doe', customer_phone: CALLER }]);
    expect(new Date(rows[0]!.starts_at as string | Date).getTime()).toBe(tomorrowAt(10).toMillis());
    expect(s.anthropic.requests.length - before).toBe(3);
    await caller.hangup();
  });

  it('answers a taken time with the nearest free ones, and a correction before the yes changes the time', async () => {
    // Someone else already has tomorrow at 3 PM.
    const taken = await s.t.app.inject({
      method: 'POST', url: '/v1/bookings', headers: s.t.as(s.company.apiKey),
      payload: { bot_id: s.botId, service_id: 'haircut', start: tomorrowAt(15).toISO(), customer_name: 'Other Customer', customer_phone: '+15550001111' },
    });
    expect(taken.statusCode).toBe(201);
    const caller = await dial(['A haircut tomorrow at three please, this is John Smith', 'four then', 'no, make it five', 'yes']);

    await sayAndWait(caller, /Sorry, we're fully booked tomorrow at 3:00 PM\. The nearest free times are/);
    expect(await bookings(caller.callId)).toEqual([]);

    await sayAndWait(caller, /Let me confirm: Haircut tomorrow at 4:00 PM, for John Smith/);
    // The model was told the time is missing and which free times are nearest: either side of the taken hour.
    const refused = flowAnswers()[0]!;
    expect(refused).toMatchObject({ stage: 'collect', missing: ['time'], next: 'pick', filled: { service: 'Haircut', customer_name: 'John Smith' } });
    const offered = refused.offered!.map((o) => DateTime.fromISO(o.start).toMillis());
    expect(offered).toContain(tomorrowAt(14).toMillis());
    expect(offered).toContain(tomorrowAt(16).toMillis());
    expect(offered.every((t) => t <= tomorrowAt(14).toMillis() || t >= tomorrowAt(16).toMillis())).toBe(true);
    expect((await bookings(caller.callId)).map((b) => b.status)).toEqual(['held']);

    // "No, make it five": the read-back is redone for the new time and the hold moves with it.
    await sayAndWait(caller, /Let me confirm: Haircut tomorrow at 5:00 PM, for John Smith/);
    expect(flowAnswers()[1]).toMatchObject({ stage: 'confirm', next: 'confirm', filled: { time: tomorrowAt(16).toISO() } });
    expect((await bookings(caller.callId)).map((b) => b.status)).toEqual(['cancelled', 'held']);

    await sayAndWait(caller, /You're booked for Haircut tomorrow at 5:00 PM/);
    expect(flowAnswers()[2]).toMatchObject({ stage: 'confirm', missing: [], filled: { time: tomorrowAt(17).toISO() } });
    const rows = await bookings(caller.callId);
    expect(rows.map((b) => b.status)).toEqual(['cancelled', 'confirmed']);
    expect(rows[1]).toMatchObject({ customer_name: 'John Smith', customer_phone: CALLER });
    expect(new Date(rows[1]!.starts_at as string | Date).getTime()).toBe(tomorrowAt(17).toMillis());
    await caller.hangup();
  }, 60_000); // four turns, each bot line played at the pace of speech
});
