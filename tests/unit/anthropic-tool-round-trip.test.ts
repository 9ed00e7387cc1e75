/**
 * The Anthropic adapter's tool round trip: tool_use blocks streamed with their input cut anywhere become whole
 * tool calls, and the history built from them (the assistant turn, then the tool results) is sent back in a shape
 * the API accepts — the fake refuses what the API refuses (blank text blocks, unanswered tool_use ids).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyError } from '../../src/errors.js';
import { AnthropicLlm, toAnthropicMessages } from '../../src/providers/llm/anthropic.js';
import type { ChatMessage, LlmRequest, ToolCall } from '../../src/providers/types.js';
import { FakeAnthropic, toolResults } from '../fakes/fakeAnthropic.js';
import { collectEvents, llmRequest } from '../helpers/llm-request.js';

let fake: FakeAnthropic;
let llm: AnthropicLlm;

beforeAll(async () => {
  fake = await FakeAnthropic.start();
  llm = new AnthropicLlm({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, model: 'claude-test', maxRetries: 0 });
});
afterAll(() => fake.close());

const slotTool = { name: 'book_slot', description: 'Book a slot', parameters: { type: 'object', properties: { start: { type: 'string' }, name: { type: 'string' } } } };

function request(messages: ChatMessage[]): LlmRequest {
  return llmRequest({ messages, tools: [slotTool] });
}

describe('toAnthropicMessages', () => {
  it('leaves out text with no words in it, keeping the tool_use and merging the user turns around a dropped reply', () => {
    const call: ToolCall = { id: 'toolu_1', name: 'book_slot', arguments: { start: '10:00' } };
    expect(
      toAnthropicMessages([
        { role: 'user', content: 'Book ten' },
        { role: 'assistant', content: '\n\n', toolCalls: [call] },
        { role: 'tool', toolCallId: 'toolu_1', name: 'book_slot', content: '{"ok":true}' },
        { role: 'assistant', content: ' ' },
        { role: 'user', content: 'Thanks' },
        { role: 'user', content: '  ' },
      ]),
    ).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Book ten' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'book_slot', input: { start: '10:00' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '{"ok":true}' }, { type: 'text', text: 'Thanks' }] },
    ]);
  });
});

describe('AnthropicLlm tool round trip against fakeAnthropic', () => {
  it('assembles parallel tool_use blocks cut anywhere (inside keys, escapes, non-ASCII) and sends them back as the API wants', async () => {
    const escaped = '{"start":"10:00","name":"Zo\\u00eb \\"Z\\" Smith"}';
    fake.reply = {
      text: '\n\n',
      toolUses: [
        // Every character its own piece, including each one of the \u00eb escape.
        { id: 'toolu_a', name: 'book_slot', input: escaped, cutAt: Array.from({ length: escaped.length }, (_, i) => i) },
        { id: 'toolu_b', name: 'book_slot', input: { start: '11:00', name: 'Renée 😀 Ng' } },
      ],
    };
    const history: ChatMessage[] = [{ role: 'user', content: 'Book ten for Zoë and eleven for Renée' }];
    const events = await collectEvents(llm.stream(request(history)));
    const calls = events.flatMap((e) => (e.type === 'tool_call' ? [e.call] : []));
    expect(calls).toEqual([
      { id: 'toolu_a', name: 'book_slot', arguments: { start: '10:00', name: 'Zoë "Z" Smith' } },
      { id: 'toolu_b', name: 'book_slot', arguments: { start: '11:00', name: 'Renée 😀 Ng' } },
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'tool_calls' });

    // The next request carries the turn as the agent records it: the blank text, both calls, both results.
    const text = events.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join('');
    history.push(
      { role: 'assistant', content: text, toolCalls: calls },
      { role: 'tool', toolCallId: 'toolu_a', name: 'book_slot', content: '{"booked":"10:00"}' },
      { role: 'tool', toolCallId: 'toolu_b', name: 'book_slot', content: '{"booked":"11:00"}' },
    );
    fake.reply = { text: 'Both are booked.' };
    const next = await collectEvents(llm.stream(request(history)));
    expect(next.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });
    expect(toolResults(fake.requests.at(-1)!.body)).toEqual([
      { toolUseId: 'toolu_a', content: '{"booked":"10:00"}', isError: false },
      { toolUseId: 'toolu_b', content: '{"booked":"11:00"}', isError: false },
    ]);
  });

  it('is refused, as by the API, when a tool_use goes unanswered', async () => {
    fake.reply = { text: 'unused' };
    const err = await collectEvents(
      llm.stream(request([
        { role: 'user', content: 'Book ten' },
        { role: 'assistant', content: '', toolCalls: [{ id: 'toolu_x', name: 'book_slot', arguments: {} }] },
        { role: 'user', content: 'Hello?' },
      ])),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).details).toMatchObject({ status: 400, retryable: false });
  });
});
