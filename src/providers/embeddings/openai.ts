/**
 * Embeddings over OpenAI's /v1/embeddings (or a compatible server). Inputs are batched by count and by an
 * estimated token budget; vectors come back L2-normalised as Float32Array in input order.
 */
import type { CreateEmbeddingResponse } from 'openai/resources/embeddings';
import { ParleyError } from '../../errors.js';
import { upstreamStatusDetails } from '../upstream-status.js';
import { openAiClient, sdkHttpError, SDK_POLICY, type LazyClient, type OpenAiClient } from '../sdk-clients.js';
import type { Embedder, EmbeddingTokens } from '../types.js';

export interface OpenAiEmbedderOptions {
  apiKey: string;
  /** Includes the /v1 suffix. Default https://api.openai.com/v1. */
  baseUrl?: string;
  model?: string;
  /** Expected vector length (1536 for text-embedding-3-small). */
  dimensions?: number;
  /**
   * Ask the API to shorten vectors to `dimensions`. Default: on for OpenAI's text-embedding-3 models (which take
   * it: text-embedding-3-large's 3,072 dimensions would otherwise not fit the store's 1,536), off for any other
   * model (compatible servers may reject it).
   */
  requestDimensions?: boolean;
  timeoutMs?: number;
  /** Retries with exponential backoff on 429/5xx/connection errors (honours Retry-After). */
  maxRetries?: number;
  maxInputsPerRequest?: number;
  maxTokensPerRequest?: number;
}

export class OpenAiEmbedder implements Embedder {
  readonly name = 'openai';
  readonly dimensions: number;
  private readonly client: LazyClient<OpenAiClient>;
  readonly model: string;
  private readonly requestDimensions: boolean;
  private readonly maxInputs: number;
  private readonly maxTokens: number;

  constructor(options: OpenAiEmbedderOptions) {
    this.client = openAiClient(options, SDK_POLICY.batch);
    this.model = options.model ?? 'text-embedding-3-small';
    this.dimensions = options.dimensions ?? 1536;
    this.requestDimensions = options.requestDimensions ?? this.model.startsWith('text-embedding-3-');
    this.maxInputs = Math.min(options.maxInputsPerRequest ?? 2048, 2048);
    // The API allows 300k tokens per request; the estimate is rough, so keep a margin.
    this.maxTokens = options.maxTokensPerRequest ?? 250_000;
  }

  async embed(texts: string[], signal?: AbortSignal, usage?: EmbeddingTokens): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const batch of batchByBudget(texts, this.maxInputs, this.maxTokens)) {
      const vectors = await this.embedBatch(batch, signal, usage);
      for (const v of vectors) out.push(v);
    }
    return out;
  }

  private async embedBatch(batch: string[], signal?: AbortSignal, usage?: EmbeddingTokens): Promise<Float32Array[]> {
    let response: CreateEmbeddingResponse;
    try {
      const client = await this.client();
      response = await client.embeddings.create(
        {
          model: this.model,
          // The API rejects empty strings; a single space embeds as "nothing".
          input: batch.map((t) => (t.length > 0 ? t : ' ')),
          encoding_format: 'float',
          ...(this.requestDimensions ? { dimensions: this.dimensions } : {}),
        },
        { signal },
      );
    } catch (err) {
      throw toUpstreamError(err);
    }
    if (usage) usage.tokens += response.usage?.prompt_tokens ?? batch.reduce((n, t) => n + estimateTokens(t), 0);
    if (response.data.length !== batch.length) {
      throw new ParleyError('PARLEY_ERR_UPSTREAM', `Embeddings: asked for ${batch.length} vectors, got ${response.data.length}`);
    }
    const vectors = new Array<Float32Array>(batch.length);
    for (const item of response.data) {
      if (item.embedding.length !== this.dimensions) {
        throw new ParleyError(
          'PARLEY_ERR_UPSTREAM',
          `Embeddings: model ${this.model} returned ${item.embedding.length} dimensions, expected ${this.dimensions}`,
        );
      }
      vectors[item.index] = normalise(item.embedding);
    }
    return vectors;
  }
}

/** ~4 chars per token for English, fewer for Cyrillic; 3 keeps the estimate on the safe side. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 3) + 1;
}

export function batchByBudget(texts: string[], maxInputs: number, maxTokens: number): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let tokens = 0;
  for (const text of texts) {
    const t = estimateTokens(text);
    if (current.length > 0 && (current.length >= maxInputs || tokens + t > maxTokens)) {
      batches.push(current);
      current = [];
      tokens = 0;
    }
    current.push(text);
    tokens += t;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function normalise(values: number[]): Float32Array {
  const v = Float32Array.from(values);
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}

function toUpstreamError(err: unknown): ParleyError {
  const answered = sdkHttpError(err);
  if (answered) {
    const details = upstreamStatusDetails('openai', answered.status, answered.body);
    const what = answered.status === 401 ? 'rejected the API key' : details.account ? `refused the account (HTTP ${answered.status}: credits or plan)` : `answered HTTP ${answered.status}`;
    return new ParleyError('PARLEY_ERR_UPSTREAM', `OpenAI embeddings ${what}`, details);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ParleyError('PARLEY_ERR_UPSTREAM', `OpenAI embeddings failed: ${message}`, { provider: 'openai', retryable: true });
}
