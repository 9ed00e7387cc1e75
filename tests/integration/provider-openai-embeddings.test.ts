import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchByBudget, OpenAiEmbedder } from '../../src/providers/embeddings/openai.js';
import { isAccountFailure, ParleyError } from '../../src/errors.js';
import { fakeEmbedding, FakeOpenAI } from '../fakes/fakeOpenAI.js';

let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await FakeOpenAI.start({ apiKey: 'sk-emb' });
});
afterAll(() => fake.close());

const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('OpenAiEmbedder against fakeOpenAI', () => {
  it('returns one L2-normalised 1536-dim vector per input, in order, asking for floats', async () => {
    const embedder = new OpenAiEmbedder({ apiKey: 'sk-emb', baseUrl: fake.baseUrl });
    const texts = ['opening hours', 'цены на услуги', 'parking'];
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(3);
    vectors.forEach((v, i) => {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(1536);
      expect(norm(v)).toBeCloseTo(1, 5);
      // Same direction as what the server sent for that text.
      const raw = fakeEmbedding(texts[i]!, 1536);
      const rawNorm = Math.sqrt(raw.reduce((s, x) => s + x * x, 0));
      expect(v[7]!).toBeCloseTo(raw[7]! / rawNorm, 5);
    });
    const sent = fake.requests.at(-1)!;
    expect(sent.path).toBe('/v1/embeddings');
    expect(sent.body).toMatchObject({ model: 'text-embedding-3-small', encoding_format: 'float', input: texts });
  });

  it('splits large inputs into batches by count and token estimate, keeping order', async () => {
    const embedder = new OpenAiEmbedder({ apiKey: 'sk-emb', baseUrl: fake.baseUrl, maxInputsPerRequest: 4 });
    const texts = Array.from({ length: 10 }, (_, i) => `chunk number ${i}`);
    const before = fake.requests.length;
    const vectors = await embedder.embed(texts);
    expect(fake.requests.length - before).toBe(3);
    expect(fake.requests.slice(before).map((r) => (r.body.input as string[]).length)).toEqual([4, 4, 2]);
    const single = await embedder.embed(['chunk number 9']);
    expect(Array.from(vectors[9]!)).toEqual(Array.from(single[0]!));

    expect(batchByBudget(['a'.repeat(300), 'b'.repeat(300), 'c'], 100, 150).map((b) => b.length)).toEqual([1, 2]);
  });

  it('retries 429 and 5xx with backoff, then succeeds', async () => {
    const embedder = new OpenAiEmbedder({ apiKey: 'sk-emb', baseUrl: fake.baseUrl, maxRetries: 3 });
    fake.failures = [429, 500];
    const before = fake.requests.length;
    const vectors = await embedder.embed(['retry me']);
    expect(vectors).toHaveLength(1);
    expect(fake.requests.length - before).toBe(3);
  });

  it('an out-of-credit answer (429 insufficient_quota) is an account failure, not retried like a rate limit', async () => {
    const embedder = new OpenAiEmbedder({ apiKey: 'sk-emb', baseUrl: fake.baseUrl, maxRetries: 3 });
    fake.failures = ['insufficient_quota', 'insufficient_quota', 'insufficient_quota', 'insufficient_quota'];
    const before = fake.requests.length;
    const err = await embedder.embed(['x']).catch((e: unknown) => e);
    fake.failures = [];
    expect(fake.requests.length - before).toBe(1);
    expect((err as ParleyError).details).toMatchObject({ status: 429, retryable: false, account: true });
    expect(isAccountFailure(err)).toBe(true);
  });

  it('gives up after its retries with a retryable upstream error', async () => {
    const embedder = new OpenAiEmbedder({ apiKey: 'sk-emb', baseUrl: fake.baseUrl, maxRetries: 1 });
    fake.failures = [503, 503, 503];
    const err = await embedder.embed(['x']).catch((e: unknown) => e);
    fake.failures = [];
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).details).toMatchObject({ status: 503, retryable: true });
  });

  it('turns a 401 into a clear error and rejects a dimension mismatch', async () => {
    const bad = new OpenAiEmbedder({ apiKey: 'sk-wrong', baseUrl: fake.baseUrl, maxRetries: 0 });
    await expect(bad.embed(['x'])).rejects.toThrow(/rejected the API key/);
    const mismatched = new OpenAiEmbedder({ apiKey: 'sk-emb', baseUrl: fake.baseUrl, model: 'compatible-embedder', dimensions: 768 });
    await expect(mismatched.embed(['x'])).rejects.toThrow(/1536 dimensions, expected 768/);
  });

  it("asks OpenAI's text-embedding-3 models for the store's dimensions (3-large's 3,072 would not fit), other models not", async () => {
    fake.embeddingDimensions = 3072; // what text-embedding-3-large returns unless asked for fewer
    try {
      const large = new OpenAiEmbedder({ apiKey: 'sk-emb', baseUrl: fake.baseUrl, model: 'text-embedding-3-large' });
      expect((await large.embed(['x']))[0]).toHaveLength(1536);
      expect(fake.requests.at(-1)!.body.dimensions).toBe(1536);
      const other = new OpenAiEmbedder({ apiKey: 'sk-emb', baseUrl: fake.baseUrl, model: 'compatible-embedder', dimensions: 3072 });
      expect((await other.embed(['x']))[0]).toHaveLength(3072);
      expect(fake.requests.at(-1)!.body.dimensions).toBeUndefined();
    } finally {
      fake.embeddingDimensions = 1536;
    }
  });
});
