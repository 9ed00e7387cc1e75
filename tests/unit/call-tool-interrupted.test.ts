/**
 * A caller who speaks while a tool runs ("One moment…" while a booking is made): the tool finishes, its call and
 * result are in the conversation in the order they happened, and the answer to the interruption is asked with them
 * (fake time, whole CallSession).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Tool, ToolResult } from '../../src/call/tool-types.js';
import type { ChatMessage } from '../../src/providers/types.js';
import { saySentence } from '../helpers/scripted-providers.js';
import { toolCallSession } from '../helpers/tool-call-session.js';

const BOOKING_CALL = { id: 'c1', name: 'book_appointment', arguments: { when: 'Friday at ten' } };

/** A booking tool that ignores the abort signal, as the real ones do: it finishes when `finish` is called. */
function bookingTool() {
  let finish: (() => void) | null = null;
  let booked = 0;
  const tool: Tool = {
    spec: { name: 'book_appointment', description: 'Book', parameters: { type: 'object', properties: { when: { type: 'string' } }, required: ['when'] } },
    run: async (args) => {
      await new Promise<void>((resolve) => (finish = resolve));
      booked++;
      return { content: { booking_id: 'b1', when: args.when }, say: `You're booked for ${String(args.when)}.` } satisfies ToolResult;
    },
  };
  return { tool, finish: () => finish?.(), get booked() { return booked; } };
}

const harness = toolCallSession;

/** role: content (and the tool calls, for an assistant message that made some). */
const shape = (messages: ChatMessage[]) =>
  messages.map((m) => (m.role === 'assistant' && m.toolCalls?.length ? `assistant[${m.toolCalls.map((c) => c.id).join()}]: ${m.content}` : m.role === 'tool' ? `tool ${m.toolCallId}` : `${m.role}: ${m.content}`));

beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
afterEach(() => void vi.useRealTimers());

describe('a tool the caller speaks over', () => {
  it('finishes, and the answer to the interruption is asked with its call and result, in order, told the caller has not heard it', async () => {
    const booking = bookingTool();
    const h = harness((_r, i) => (i === 0 ? { text: 'One moment while I book that. ', toolCalls: [BOOKING_CALL] } : 'I will move it to eleven.'), [booking.tool]);
    await h.advance(4000);
    void h.stt.play(saySentence('book me for friday at ten'));
    await h.advance(3000); // "One moment…" is playing; the booking is being made
    expect(h.llm.requests).toHaveLength(1);
    void h.stt.play(saySentence('actually wait make it eleven', { wordMs: 200 }));
    await h.advance(3000);
    // The caller is done and the interruption committed; the answer waits for the booking.
    expect(h.recorder.turns.map((t) => t.role)).toEqual(['bot', 'caller', 'bot', 'caller']);
    expect(h.llm.requests).toHaveLength(1);
    booking.finish();
    await h.advance(5000);
    expect(booking.booked).toBe(1);

    const asked = h.llm.requests[1]!.messages;
    expect(shape(asked)).toEqual([
      'user: book me for friday at ten',
      // What the caller heard of the words said with the call: the cut phrase in part.
      'assistant[c1]: One moment…',
      'tool c1',
      'user: actually wait make it eleven',
    ]);
    expect(JSON.parse(asked[2]!.content)).toEqual({ booking_id: 'b1', when: 'Friday at ten', not_yet_told_to_caller: "You're booked for Friday at ten." });
    expect(h.recorder.turns.at(-1)).toMatchObject({ role: 'bot', text: 'I will move it to eleven.' });

    // The conversation goes on from the same history: nothing of the cut turn is added after it.
    void h.stt.play(saySentence('thanks'));
    await h.advance(5000);
    expect(shape(h.llm.requests[2]!.messages).slice(3)).toEqual(['user: actually wait make it eleven', 'assistant: I will move it to eleven.', 'user: thanks']);
    void h.session.end('server_shutdown', { immediate: true });
  });

  it('that never returns does not hold the answer past the wait: the model is told it is still running, and its result fills its place later', async () => {
    const booking = bookingTool();
    const h = harness((_r, i) => (i === 0 ? { text: 'One moment while I book that. ', toolCalls: [BOOKING_CALL] } : 'Sure.'), [booking.tool]);
    await h.advance(4000);
    void h.stt.play(saySentence('book me for friday at ten'));
    await h.advance(3000);
    void h.stt.play(saySentence('actually wait make it eleven', { wordMs: 200 }));
    await h.advance(10_000);
    expect(h.llm.requests).toHaveLength(2);
    const asked = h.llm.requests[1]!.messages;
    expect(shape(asked)).toEqual(['user: book me for friday at ten', 'assistant[c1]: One moment…', 'tool c1', 'user: actually wait make it eleven']);
    expect(JSON.parse(asked[2]!.content)).toMatchObject({ status: 'still_running' });

    booking.finish();
    await h.advance(100);
    void h.stt.play(saySentence('is it booked'));
    await h.advance(5000);
    const later = h.llm.requests[2]!.messages;
    expect(shape(later)[2]).toBe('tool c1');
    expect(JSON.parse(later[2]!.content)).toEqual({ booking_id: 'b1', when: 'Friday at ten', not_yet_told_to_caller: "You're booked for Friday at ten." });
    void h.session.end('server_shutdown', { immediate: true });
  });

  it('that returned at once, cut while "One moment…" still plays: the round keeps what was heard, and the result says its say was not', async () => {
    // The tool is done (and the answer written) long before its audio plays out: the cut comes after runAgentTurn.
    let booked = 0;
    const quickBooking: Tool = {
      spec: { name: 'book_appointment', description: 'Book', parameters: { type: 'object', properties: { when: { type: 'string' } }, required: ['when'] } },
      run: async () => {
        booked++;
        return { content: { booking_id: 'b1' }, say: 'You are booked for Friday at ten. See you then.' } satisfies ToolResult;
      },
    };
    const h = harness((_r, i) => (i === 0 ? { text: 'One moment while I book that for you right now. ', toolCalls: [BOOKING_CALL] } : 'Sure, eleven then.'), [quickBooking]);
    await h.advance(4000);
    void h.stt.play(saySentence('book me for friday at ten'));
    await h.advance(2600); // "One moment…" has begun; the booking is made and its say is queued behind it
    expect(booked).toBe(1);
    void h.stt.play(saySentence('actually wait make it eleven', { wordMs: 200 }));
    await h.advance(8000);

    expect(h.recorder.turns.map((t) => `${t.role}${t.interrupted ? '(interrupted)' : ''}: ${t.text}`).slice(1, 4)).toEqual([
      'caller: book me for friday at ten',
      'bot(interrupted): One…',
      'caller: actually wait make it eleven',
    ]);
    const asked = h.llm.requests[1]!.messages;
    expect(shape(asked)).toEqual(['user: book me for friday at ten', 'assistant[c1]: One…', 'tool c1', 'user: actually wait make it eleven']);
    expect(JSON.parse(asked[2]!.content)).toEqual({ booking_id: 'b1', not_yet_told_to_caller: 'You are booked for Friday at ten. See you then.' });
    void h.session.end('server_shutdown', { immediate: true });
  });
});
