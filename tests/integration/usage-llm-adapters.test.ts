/**
 * The LLM adapters report the usage the vendors send — on their `done` event, and through onUsage as soon as it is
 * known, so that an answer cut off (a barge-in, a hang-up) is counted for what it consumed (CountingLlm).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnthropicLlm } from '../../src/providers/llm/anthropic.js';
import { OpenAiLlm } from '../../src/providers/llm/openai.js';
import type { LlmEvent, LlmProvider } from '../../src/providers/types.js';
import { CallUsageMeter, CountingLlm } from '../../src/usage/counting.js';
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

  /** Reads `n` text events of a counted answer, then drops it as a barge-in does; the meter's LLM rows. */
  async function cutOff(llm: LlmProvider, n: number, abort: boolean) {
    const meter = new CallUsageMeter();
    const controller = new AbortController();
    let texts = 0;
    for await (const e of new CountingLlm(llm, meter).stream({ ...request(), signal: controller.signal })) {
      if (e.type === 'text' && ++texts === n) {
        if (abort) controller.abort();
        break;
      }
    }
    return Object.fromEntries(meter.items().map((i) => [i.kind, i.quantity]));
  }

  it('Anthropic: an answer cut off still counts the input message_start reported and the output so far', async () => {
    const llm = new AnthropicLlm({ apiKey: anthropic.apiKey, baseUrl: anthropic.baseUrl, maxRetries: 0 });
    anthropic.reply = { text: 'One two three four five six seven eight.', usage: { inputTokens: 1500, outputTokens: 9, cacheReadInputTokens: 2048 } };
    for (const abort of [false, true]) {
      const counted = await cutOff(llm, 3, abort);
      expect(counted, `abort ${abort}`).toMatchObject({ llm_input_tokens: 1500, llm_cached_input_tokens: 2048 });
    }
  });

  it('OpenAI: an answer cut off before its usage chunk is estimated from what was sent and what came back', async () => {
    const llm = new OpenAiLlm({ apiKey: openai.apiKey, baseUrl: openai.baseUrl, maxRetries: 0 });
    openai.reply = { text: 'One two three four five six seven eight nine ten eleven twelve.', usage: { promptTokens: 500, completionTokens: 12 } };
    for (const abort of [false, true]) {
      const counted = await cutOff(llm, 3, abort);
      // The prompt ("Be brief." and "hi", as JSON) is some tokens; at least the 3 chunks read came back.
      expect(counted.llm_input_tokens, `abort ${abort}`).toBeGreaterThan(0);
      expect(counted.llm_output_tokens, `abort ${abort}`).toBeGreaterThanOrEqual(3);
    }
    // Read to the end, the vendor's own figures, once.
    const meter = new CallUsageMeter();
    for await (const _ of new CountingLlm(llm, meter).stream(request())) void _;
    expect(Object.fromEntries(meter.items().map((i) => [i.kind, i.quantity]))).toEqual({ llm_input_tokens: 500, llm_output_tokens: 12 });
  });
});
