import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AnthropicLlm } from '../../src/providers/llm/anthropic.js';
import { isAccountFailure, ParleyError } from '../../src/errors.js';
import { FakeAnthropic } from '../fakes/fakeAnthropic.js';
import type { LlmEvent } from '../../src/providers/types.js';
import { bookSlotTool, collectEvents, llmRequest } from '../helpers/llm-request.js';

let fake: FakeAnthropic;
let llm: AnthropicLlm;

beforeAll(async () => {
  fake = await FakeAnthropic.start({ apiKey: 'sk-ant-good' });
  llm = new AnthropicLlm({ apiKey: 'sk-ant-good', baseUrl: fake.baseUrl, model: 'claude-test', maxRetries: 0 });
});
afterAll(() => fake.close());

describe('AnthropicLlm against fakeAnthropic', () => {
  it('streams text deltas, caches the system prompt and ends with done/stop', async () => {
    fake.reply = { text: 'Good morning, this is the clinic.' };
    const events = await collectEvents(llm.stream(llmRequest({ maxTokens: 200, temperature: 0.3 })));
    const text = events.flatMap((e) => (e.type === 'text' ? [e.text] : []));
    expect(text.length).toBeGreaterThan(3);
    expect(text.join('')).toBe('Good morning, this is the clinic.');
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });

    const sent = fake.requests.at(-1)!;
    expect(sent.headers['x-api-key'] ?? sent.headers.authorization).toMatch(/^(Bearer )?sk-ant-good$/);
    expect(sent.headers['anthropic-version']).toBeTruthy();
    expect(sent.body).toMatchObject({
      model: 'claude-test',
      max_tokens: 200,
      stream: true,
      system: [{ type: 'text', text: 'You are a receptionist.', cache_control: { type: 'ephemeral' } }],
      // The conversation is cached too: a breakpoint on its last block, moving with each turn.
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi', cache_control: { type: 'ephemeral' } }] }],
    });
  });

  it('puts the turn\'s knowledge after the conversation\'s cache breakpoint, never into the cached system prompt', async () => {
    fake.reply = { text: 'We open at nine.' };
    await collectEvents(llm.stream(llmRequest({ context: '# Knowledge\n[hours.pdf] 9 to 5', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'When do you open?' }] })));
    const body = fake.requests.at(-1)!.body;
    expect(body.system).toEqual([{ type: 'text', text: 'You are a receptionist.', cache_control: { type: 'ephemeral' } }]);
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Hello!' }] },
      { role: 'user', content: [{ type: 'text', text: 'When do you open?', cache_control: { type: 'ephemeral' } }, { type: 'text', text: '# Knowledge\n[hours.pdf] 9 to 5' }] },
    ]);
  });

  it('turns tool_use blocks into whole tool_call events', async () => {
    fake.reply = {
      text: 'Booking now.',
      toolUses: [{ id: 'toolu_1', name: 'book_slot', input: { start: '2026-03-01T10:00:00Z', people: 2 } }],
    };
    const events = await collectEvents(llm.stream(llmRequest({ tools: [bookSlotTool] })));
    expect(events.filter((e) => e.type === 'tool_call')).toEqual([
      { type: 'tool_call', call: { id: 'toolu_1', name: 'book_slot', arguments: { start: '2026-03-01T10:00:00Z', people: 2 } } },
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'tool_calls' });
    expect(fake.requests.at(-1)!.body.tools).toEqual([
      { name: 'book_slot', description: 'Book a slot', input_schema: bookSlotTool.parameters },
    ]);
  });

  it('emits a tool_use whose input is not a JSON object marked invalid, and the answer ends normally', async () => {
    fake.reply = { text: 'Booking now.', toolUses: [{ id: 'toolu_bad', name: 'book_slot', input: '{"start": 10:00}' }, { id: 'toolu_ok', name: 'book_slot', input: { start: '10:00' } }] };
    const events = await collectEvents(llm.stream(llmRequest({ tools: [bookSlotTool] })));
    expect(events.flatMap((e) => (e.type === 'tool_call' ? [e.call] : []))).toEqual([
      { id: 'toolu_bad', name: 'book_slot', arguments: {}, invalidArguments: 'the arguments are not valid JSON: {"start": 10:00}' },
      { id: 'toolu_ok', name: 'book_slot', arguments: { start: '10:00' } },
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'tool_calls' });
  });

  it('maps assistant tool calls and tool results (merged into one user turn) back faithfully', async () => {
    fake.reply = { text: 'Both booked.' };
    await collectEvents(
      llm.stream(
        llmRequest({
          messages: [
            { role: 'user', content: 'Book 10 and 11' },
            {
              role: 'assistant',
              content: 'Sure.',
              toolCalls: [
                { id: 'toolu_a', name: 'book_slot', arguments: { start: '10:00' } },
                { id: 'toolu_b', name: 'book_slot', arguments: { start: '11:00' } },
              ],
            },
            { role: 'tool', toolCallId: 'toolu_a', name: 'book_slot', content: '{"ok":true}' },
            { role: 'tool', toolCallId: 'toolu_b', name: 'book_slot', content: '{"ok":false}' },
            { role: 'user', content: 'Thanks' },
          ],
        }),
      ),
    );
    expect(fake.requests.at(-1)!.body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Book 10 and 11' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Sure.' },
          { type: 'tool_use', id: 'toolu_a', name: 'book_slot', input: { start: '10:00' } },
          { type: 'tool_use', id: 'toolu_b', name: 'book_slot', input: { start: '11:00' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_a', content: '{"ok":true}' },
          { type: 'tool_result', tool_use_id: 'toolu_b', content: '{"ok":false}' },
          { type: 'text', text: 'Thanks', cache_control: { type: 'ephemeral' } },
        ],
      },
    ]);
  });

  it('stops quietly on abort and the server sees the connection close', async () => {
    fake.reply = { text: 'one two three four five six seven eight nine ten eleven twelve', pauseAfterEvents: 8 };
    const before = fake.clientAborts;
    const controller = new AbortController();
    const events: LlmEvent[] = [];
    for await (const e of llm.stream(llmRequest({ signal: controller.signal }))) {
      events.push(e);
      if (events.length === 2) controller.abort();
    }
    expect(events.length).toBe(2);
    await vi.waitFor(() => expect(fake.clientAborts).toBe(before + 1));
  });

  it('drops the HTTP stream when the consumer stops iterating early', async () => {
    fake.reply = { text: 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu', pauseAfterEvents: 8 };
    const before = fake.clientAborts;
    for await (const e of llm.stream(llmRequest())) {
      if (e.type === 'text') break;
    }
    await vi.waitFor(() => expect(fake.clientAborts).toBe(before + 1));
  });

  it('turns a 401 into a clear upstream error', async () => {
    const bad = new AnthropicLlm({ apiKey: 'sk-ant-wrong', baseUrl: fake.baseUrl, maxRetries: 0 });
    const err = await collectEvents(bad.stream(llmRequest())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).message).toMatch(/rejected the API key/);
    expect((err as ParleyError).details).toMatchObject({ status: 401, retryable: false, account: true });
  });

  it('"credit balance is too low" (a 400) is an account failure, not a malformed request; other 400s are not', async () => {
    fake.failures = ['credit_balance_too_low', 400];
    const credit = await collectEvents(llm.stream(llmRequest())).catch((e: unknown) => e);
    const malformed = await collectEvents(llm.stream(llmRequest())).catch((e: unknown) => e);
    expect(credit).toBeInstanceOf(ParleyError);
    expect((credit as ParleyError).message).toMatch(/refused the account/);
    expect((credit as ParleyError).details).toMatchObject({ status: 400, retryable: false, account: true });
    expect(isAccountFailure(credit)).toBe(true);
    expect((malformed as ParleyError).details).toMatchObject({ status: 400, retryable: false, account: false });
  });

  it('reports a mid-stream drop as a retryable upstream error', async () => {
    fake.reply = { text: 'this reply will be cut off in the middle of it', dropAfterEvents: 5 };
    const seen: LlmEvent[] = [];
    const err = await (async () => {
      for await (const e of llm.stream(llmRequest())) seen.push(e);
    })().catch((e: unknown) => e);
    expect(seen.some((e) => e.type === 'text')).toBe(true);
    expect(seen.some((e) => e.type === 'done')).toBe(false);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).details).toMatchObject({ retryable: true });
  });

  it('reports an in-stream overloaded error as retryable', async () => {
    fake.reply = { text: 'partial answer here', errorAfterEvents: 4 };
    const err = await collectEvents(llm.stream(llmRequest())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).details).toMatchObject({ retryable: true });
  });
});
