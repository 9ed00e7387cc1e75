import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OpenAiLlm } from '../../src/providers/llm/openai.js';
import { isAccountFailure, isRetryable, ParleyError } from '../../src/errors.js';
import { FakeOpenAI } from '../fakes/fakeOpenAI.js';
import type { LlmEvent, LlmRequest } from '../../src/providers/types.js';
import { bookSlotTool, collectEvents, llmRequest } from '../helpers/llm-request.js';

let fake: FakeOpenAI;
let llm: OpenAiLlm;

beforeAll(async () => {
  fake = await FakeOpenAI.start({ apiKey: 'sk-good' });
  llm = new OpenAiLlm({ apiKey: 'sk-good', baseUrl: fake.baseUrl, model: 'gpt-test', maxRetries: 0 });
});
afterAll(() => fake.close());

describe('OpenAiLlm against fakeOpenAI', () => {
  it('streams text token by token and ends with done/stop', async () => {
    fake.reply = { text: 'Hello, how can I help you today?' };
    const events = await collectEvents(llm.stream(llmRequest({ temperature: 0.2, maxTokens: 100 })));
    const texts = events.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text);
    expect(texts.length).toBeGreaterThan(3);
    expect(texts.join('')).toBe('Hello, how can I help you today?');
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });

    const sent = fake.requests.at(-1)!;
    expect(sent.headers.authorization).toBe('Bearer sk-good');
    expect(sent.body).toMatchObject({
      model: 'gpt-test',
      stream: true,
      temperature: 0.2,
      max_completion_tokens: 100,
      messages: [
        { role: 'system', content: 'You are a receptionist.' },
        { role: 'user', content: 'Hi' },
      ],
    });
    expect(sent.body.tools).toBeUndefined();
  });

  it('streams a refusal as the answer\'s words: the caller hears what the model said, not silence and a stock line', async () => {
    fake.reply = { refusal: "I'm sorry, I can't help with that." };
    const events = await collectEvents(llm.stream(llmRequest()));
    const texts = events.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text);
    expect(texts.join('')).toBe("I'm sorry, I can't help with that.");
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });
  });

  it('puts the turn\'s knowledge after the caller\'s latest words, keeping the instructions and what came before unchanged', async () => {
    fake.reply = { text: 'We open at nine.' };
    const history: LlmRequest['messages'] = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'When do you open?' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'check', arguments: {} }] },
      { role: 'tool', toolCallId: 'c1', name: 'check', content: '{"open":"9:00"}' },
    ];
    await collectEvents(llm.stream(llmRequest({ context: '# Knowledge\n[hours.pdf] 9 to 5', messages: history })));
    expect(fake.requests.at(-1)!.body.messages).toEqual([
      { role: 'system', content: 'You are a receptionist.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'When do you open?\n\n# Knowledge\n[hours.pdf] 9 to 5' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'check', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: '{"open":"9:00"}' },
    ]);
  });

  it('assembles fragmented tool-call deltas and emits them whole before done', async () => {
    fake.reply = {
      text: 'Let me book that.',
      toolCalls: [
        { id: 'call_a', name: 'book_slot', arguments: { start: '2026-03-01T10:00:00Z', note: 'first visit' } },
        { id: 'call_b', name: 'book_slot', arguments: { start: '2026-03-02T11:00:00Z' } },
      ],
    };
    const events = await collectEvents(llm.stream(llmRequest({ tools: [bookSlotTool] })));
    const calls = events.filter((e) => e.type === 'tool_call');
    expect(calls).toEqual([
      { type: 'tool_call', call: { id: 'call_a', name: 'book_slot', arguments: { start: '2026-03-01T10:00:00Z', note: 'first visit' } } },
      { type: 'tool_call', call: { id: 'call_b', name: 'book_slot', arguments: { start: '2026-03-02T11:00:00Z' } } },
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'tool_calls' });
    expect(fake.requests.at(-1)!.body.tools).toEqual([{ type: 'function', function: bookSlotTool }]);
  });

  it('emits a tool call whose arguments are not a JSON object marked invalid, and the answer ends normally', async () => {
    fake.reply = {
      text: 'Let me book that.',
      toolCalls: [
        { id: 'call_cut', name: 'book_slot', arguments: '{"start": "2026-03-01T10' },
        { id: 'call_list', name: 'book_slot', arguments: '["2026-03-01T10:00:00Z"]' },
        { id: 'call_ok', name: 'book_slot', arguments: { start: '2026-03-02T11:00:00Z' } },
      ],
    };
    const events = await collectEvents(llm.stream(llmRequest({ tools: [bookSlotTool] })));
    expect(events.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text).join('')).toBe('Let me book that.');
    expect(events.flatMap((e) => (e.type === 'tool_call' ? [e.call] : []))).toEqual([
      { id: 'call_cut', name: 'book_slot', arguments: {}, invalidArguments: 'the arguments are not valid JSON: {"start": "2026-03-01T10' },
      { id: 'call_list', name: 'book_slot', arguments: {}, invalidArguments: 'the arguments must be a JSON object, not ["2026-03-01T10:00:00Z"]' },
      { id: 'call_ok', name: 'book_slot', arguments: { start: '2026-03-02T11:00:00Z' } },
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'tool_calls' });
  });

  it('maps assistant tool calls and tool results back faithfully', async () => {
    fake.reply = { text: 'Booked.' };
    await collectEvents(
      llm.stream(
        llmRequest({
          messages: [
            { role: 'user', content: 'Book 10am' },
            { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'book_slot', arguments: { start: '10:00' } }] },
            { role: 'tool', toolCallId: 'call_1', name: 'book_slot', content: '{"ok":true}' },
          ],
        }),
      ),
    );
    expect(fake.requests.at(-1)!.body.messages).toEqual([
      { role: 'system', content: 'You are a receptionist.' },
      { role: 'user', content: 'Book 10am' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'book_slot', arguments: '{"start":"10:00"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"ok":true}' },
    ]);
  });

  it('stops quietly on abort and the server sees the connection close', async () => {
    fake.reply = { text: 'one two three four five six seven eight nine ten eleven twelve', pauseAfterChunks: 6 };
    const before = fake.clientAborts;
    const controller = new AbortController();
    const events: LlmEvent[] = [];
    for await (const e of llm.stream(llmRequest({ signal: controller.signal }))) {
      events.push(e);
      if (events.length === 2) controller.abort();
    }
    expect(events.length).toBe(2);
    expect(events.some((e) => e.type === 'done')).toBe(false);
    await vi.waitFor(() => expect(fake.clientAborts).toBe(before + 1));
  });

  it('drops the HTTP stream when the consumer stops iterating early', async () => {
    fake.reply = { text: 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu', pauseAfterChunks: 6 };
    const before = fake.clientAborts;
    for await (const e of llm.stream(llmRequest())) {
      if (e.type === 'text') break;
    }
    await vi.waitFor(() => expect(fake.clientAborts).toBe(before + 1));
  });

  it('turns a 401 into a clear upstream error', async () => {
    const bad = new OpenAiLlm({ apiKey: 'sk-wrong', baseUrl: fake.baseUrl, maxRetries: 0 });
    const err = await collectEvents(bad.stream(llmRequest())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).code).toBe('PARLEY_ERR_UPSTREAM');
    expect((err as ParleyError).message).toMatch(/rejected the API key/);
    expect((err as ParleyError).details).toMatchObject({ status: 401, retryable: false, account: true });
  });

  it('an out-of-credit answer (429 insufficient_quota) is an account failure: not retried, not a rate limit', async () => {
    const retrying = new OpenAiLlm({ apiKey: 'sk-good', baseUrl: fake.baseUrl, maxRetries: 1 });
    fake.failures = ['insufficient_quota', 'insufficient_quota'];
    const count = fake.requests.length;
    const err = await collectEvents(retrying.stream(llmRequest())).catch((e: unknown) => e);
    fake.failures = [];
    expect(fake.requests.length).toBe(count + 1);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).message).toMatch(/refused the account/);
    expect((err as ParleyError).details).toMatchObject({ status: 429, retryable: false, account: true });
    expect(isAccountFailure(err)).toBe(true);
  });

  it('a plain 429 stays a rate limit: retryable, not an account failure', async () => {
    const once = new OpenAiLlm({ apiKey: 'sk-good', baseUrl: fake.baseUrl, maxRetries: 0 });
    fake.failures = [429];
    const err = await collectEvents(once.stream(llmRequest())).catch((e: unknown) => e);
    expect((err as ParleyError).details).toMatchObject({ status: 429, retryable: true, account: false });
    expect(isRetryable(err)).toBe(true);
  });

  it('retries a 5xx before the stream starts', async () => {
    const retrying = new OpenAiLlm({ apiKey: 'sk-good', baseUrl: fake.baseUrl, maxRetries: 1 });
    fake.reply = { text: 'Recovered.' };
    fake.failures = [503];
    const count = fake.requests.length;
    const events = await collectEvents(retrying.stream(llmRequest()));
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });
    expect(fake.requests.length).toBe(count + 2);
  });

  it('reports a mid-stream drop as a retryable upstream error', async () => {
    fake.reply = { text: 'this reply will be cut off in the middle', dropAfterChunks: 3 };
    const seen: LlmEvent[] = [];
    const err = await (async () => {
      for await (const e of llm.stream(llmRequest())) seen.push(e);
    })().catch((e: unknown) => e);
    expect(seen.filter((e) => e.type === 'text').length).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).details).toMatchObject({ retryable: true });
  });
});
