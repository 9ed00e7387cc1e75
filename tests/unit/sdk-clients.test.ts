import { describe, expect, it } from 'vitest';
import {
  anthropicClient,
  ANTHROPIC_DEFAULT_BASE_URL,
  openAiClient,
  OPENAI_DEFAULT_BASE_URL,
  sdkHttpStatus,
  SDK_POLICY,
} from '../../src/providers/sdk-clients.js';

describe('SDK clients', () => {
  it('builds an OpenAI client once, on first use, with the key, base URL, timeout and retries given', async () => {
    const get = openAiClient({ apiKey: 'sk-test', baseUrl: 'http://127.0.0.1:9/v1', timeoutMs: 1234, maxRetries: 3 }, SDK_POLICY.liveTurn);
    const client = await get();
    expect(await get()).toBe(client);
    expect(client.apiKey).toBe('sk-test');
    expect(client.baseURL).toBe('http://127.0.0.1:9/v1');
    expect(client.timeout).toBe(1234);
    expect(client.maxRetries).toBe(3);
  });

  it('builds an Anthropic client the same way; unset settings come from the policy and the vendor\'s public API', async () => {
    const anthropic = await anthropicClient({ apiKey: 'ak-test' }, SDK_POLICY.liveTurn)();
    expect(anthropic.baseURL).toBe(ANTHROPIC_DEFAULT_BASE_URL);
    expect(anthropic.timeout).toBe(SDK_POLICY.liveTurn.timeoutMs);
    expect(anthropic.maxRetries).toBe(SDK_POLICY.liveTurn.maxRetries);
    const openai = await openAiClient({ apiKey: 'sk-test' }, SDK_POLICY.batch)();
    expect(openai.baseURL).toBe(OPENAI_DEFAULT_BASE_URL);
    expect(openai.timeout).toBe(SDK_POLICY.batch.timeoutMs);
    expect(openai.maxRetries).toBe(SDK_POLICY.batch.maxRetries);
  });

  it('reads the HTTP status of either SDK\'s API errors, and of nothing else', async () => {
    const { default: OpenAI } = await import('openai');
    const { default: Anthropic } = await import('@anthropic-ai/sdk');
    await openAiClient({ apiKey: 'k' }, SDK_POLICY.liveTurn)();
    await anthropicClient({ apiKey: 'k' }, SDK_POLICY.liveTurn)();
    expect(sdkHttpStatus(new OpenAI.APIError(429, undefined, 'slow down', undefined))).toBe(429);
    expect(sdkHttpStatus(new Anthropic.APIError(529, undefined, 'overloaded', undefined))).toBe(529);
    expect(sdkHttpStatus(new OpenAI.APIConnectionError({ message: 'refused' }))).toBeUndefined();
    expect(sdkHttpStatus(Object.assign(new Error('x'), { status: 500 }))).toBeUndefined();
  });
});
