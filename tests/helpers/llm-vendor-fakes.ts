/**
 * Both LLM vendors' fakes for a describe block (started before its tests, closed after), with an adapter of each
 * pointed at them: for tests of what Parley sends to OpenAI and to Anthropic.
 */
import { afterAll, beforeAll } from 'vitest';
import { AnthropicLlm } from '../../src/providers/llm/anthropic.js';
import { OpenAiLlm } from '../../src/providers/llm/openai.js';
import { FakeAnthropic } from '../fakes/fakeAnthropic.js';
import { FakeOpenAI } from '../fakes/fakeOpenAI.js';

export function useLlmVendorFakes() {
  const fakes: { openAi?: FakeOpenAI; anthropic?: FakeAnthropic } = {};
  beforeAll(async () => {
    fakes.openAi = await FakeOpenAI.start({ apiKey: 'sk-good' });
    fakes.anthropic = await FakeAnthropic.start({ apiKey: 'sk-ant-good' });
  });
  afterAll(async () => {
    await fakes.openAi?.close();
    await fakes.anthropic?.close();
  });
  return {
    get openAi(): FakeOpenAI {
      return fakes.openAi!;
    },
    get anthropic(): FakeAnthropic {
      return fakes.anthropic!;
    },
    openAiLlm: () => new OpenAiLlm({ apiKey: 'sk-good', baseUrl: fakes.openAi!.baseUrl, model: 'gpt-test', maxRetries: 0 }),
    anthropicLlm: () => new AnthropicLlm({ apiKey: 'sk-ant-good', baseUrl: fakes.anthropic!.baseUrl, model: 'claude-test', maxRetries: 0 }),
  };
}
