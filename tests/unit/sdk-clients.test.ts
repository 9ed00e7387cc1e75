import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  anthropicClient,
  ANTHROPIC_DEFAULT_BASE_URL,
  openAiClient,
  OPENAI_DEFAULT_BASE_URL,
  sdkHttpError,
  SDK_POLICY,
} from '../../src/providers/sdk-clients.js';
import { FakeAnthropic } from '../fakes/fakeAnthropic.js';
import { FakeOpenAI } from '../fakes/fakeOpenAI.js';

afterEach(() => vi.restoreAllMocks());

/** Text outside Latin-1 (a dash, Cyrillic, an emoji's surrogate pair): the case that made Node's fetch copy the body. */
const WIDE_TEXT = 'Запишите меня — please 🙂';

/** The bodies the SDK handed to Node's fetch, by type. */
function spyOnFetchBodies(): string[] {
  const kinds: string[] = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
    kinds.push(init?.body instanceof Uint8Array ? 'bytes' : typeof init?.body);
    return real(input, init);
  });
  return kinds;
}

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
    expect(sdkHttpError(new OpenAI.APIError(429, undefined, 'slow down', undefined))?.status).toBe(429);
    expect(sdkHttpError(new Anthropic.APIError(529, undefined, 'overloaded', undefined))?.status).toBe(529);
    expect(sdkHttpError(new OpenAI.APIConnectionError({ message: 'refused' }))).toBeUndefined();
    expect(sdkHttpError(Object.assign(new Error('x'), { status: 500 }))).toBeUndefined();
    // What the body said, as each SDK keeps it (upstream-status.ts tells an out-of-credit answer by it).
    const quota = { message: 'You exceeded your current quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota' };
    expect(sdkHttpError(new OpenAI.APIError(429, quota, undefined, undefined))?.body).toEqual({ code: 'insufficient_quota', type: 'insufficient_quota', message: quota.message });
    const credit = { type: 'error', error: { type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API.' } };
    expect(sdkHttpError(new Anthropic.APIError(400, credit, undefined, undefined))?.body).toEqual({ type: 'invalid_request_error', message: credit.error.message });
  });

  it('hands Node\'s fetch the JSON body as UTF-8 bytes, and the server reads the same JSON (OpenAI)', async () => {
    const fake = await FakeOpenAI.start({ apiKey: 'sk-good' });
    try {
      const kinds = spyOnFetchBodies();
      const client = await openAiClient({ apiKey: 'sk-good', baseUrl: fake.baseUrl, maxRetries: 0 }, SDK_POLICY.liveTurn)();
      await client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: WIDE_TEXT }] });
      expect(kinds).toEqual(['bytes']);
      expect(fake.requests[0]!.headers['content-type']).toBe('application/json');
      expect(fake.requests[0]!.body.messages).toEqual([{ role: 'user', content: WIDE_TEXT }]);
    } finally {
      await fake.close();
    }
  });

  it('does the same for Anthropic', async () => {
    const fake = await FakeAnthropic.start({ apiKey: 'ak-good' });
    try {
      const kinds = spyOnFetchBodies();
      const client = await anthropicClient({ apiKey: 'ak-good', baseUrl: fake.baseUrl, maxRetries: 0 }, SDK_POLICY.liveTurn)();
      await client.messages.create({ model: 'claude-test', max_tokens: 16, messages: [{ role: 'user', content: WIDE_TEXT }] });
      expect(kinds).toEqual(['bytes']);
      expect(fake.requests[0]!.body.messages).toEqual([{ role: 'user', content: WIDE_TEXT }]);
    } finally {
      await fake.close();
    }
  });

  it('does not follow a redirect: the request fails as a connection error and goes nowhere else', async () => {
    const { createServer } = await import('node:http');
    const hits: string[] = [];
    const server = createServer((req, res) => {
      hits.push(req.url ?? '');
      req.resume();
      res.writeHead(307, { location: '/elsewhere/chat/completions' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as import('node:net').AddressInfo;
      const redirects: Array<RequestInit['redirect']> = [];
      const real = globalThis.fetch;
      vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
        redirects.push(init?.redirect);
        return real(input, init);
      });
      const client = await openAiClient({ apiKey: 'sk-good', baseUrl: `http://127.0.0.1:${port}/v1`, maxRetries: 0 }, SDK_POLICY.liveTurn)();
      const { default: OpenAI } = await import('openai');
      await expect(client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
      // Refused by the fetch itself (undici then never clones the request to be able to follow one).
      expect(redirects).toEqual(['error']);
      expect(hits).toEqual(['/v1/chat/completions']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
