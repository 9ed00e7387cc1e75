/** the LLM adapters report the usage the vendors send on their `done` event. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnthropicLlm } from '../../src/providers/llm/anthropic.js';
import { OpenAiLlm } from '../../src/providers/llm/openai.js';
import type { LlmEvent } from '../../src/providers/types.js';
import { FakeAnthropic } from '../fakes/fakeAnthropic.js';
import { FakeOpenAI } from '../fakes/fakeOpenAI.js';

async function done(events: AsyncIterable<LlmEvent>): Promise<Extract<LlmEvent, { type: 'done' }>> {
  let last: LlmEvent | undefined;
  for await (const e of events) last = e;
  if (last?.type !== 'done') throw new Error('no done event');
  return last;
}
const request = () => ({ system: 'Be brief.', messages: [{ role: 'user' as const, content: 'hi' }], tools: [], signal: new AbortController().signal });

describe('LLM usage from the adapters', () => {
  let openai: FakeOpenAI;
  let anthropic: FakeAnthropic;
  beforeAll(async () => {
    openai = await FakeOpenAI.start();
    anthropic = await FakeAnthropic.start();
  });
  afterAll(async () => {
    await openai?.close();
    await anthropic?.close();
  });

  it('OpenAI: asks for usage in the stream and reports it, cached tokens included', async () => {
    const llm = new OpenAiLlm({ apiKey: openai.apiKey, baseUrl: openai.baseUrl, maxRetries: 0 });
    openai.reply = { text: 'Hello there.', usage: { promptTokens: 1200, completionTokens: 5, cachedTokens: 1024 } };
    const d = await done(llm.stream(request()));
    expect(openai.requests.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    expect(d).toEqual({ type: 'done', finishReason: 'stop', usage: { inputTokens: 1200, outputTokens: 5, cachedInputTokens: 1024 } });
    openai.reply = { text: 'Hi.', usage: { promptTokens: 30, completionTokens: 2 } };
    expect((await done(llm.stream(request()))).usage).toEqual({ inputTokens: 30, outputTokens: 2 });
  });

  it('Anthropic: input from message_start (cache reads and writes added), output from message_delta', async () => {
    const llm = new AnthropicLlm({ apiKey: anthropic.apiKey, baseUrl: anthropic.baseUrl, maxRetries: 0 });
    anthropic.reply = { text: 'Hello there.', usage: { inputTokens: 40, outputTokens: 9, cacheReadInputTokens: 2000, cacheCreationInputTokens: 100 } };
    const d = await done(llm.stream(request()));
    expect(d).toEqual({ type: 'done', finishReason: 'stop', usage: { inputTokens: 2140, outputTokens: 9, cachedInputTokens: 2000 } });
  });
});
