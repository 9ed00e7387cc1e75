/**
 * The one place the OpenAI and Anthropic SDK clients are built (chat LLMs, embeddings): base URL, key, timeout
 * and retry policy. Each SDK is imported on first use, not at start-up: a server whose bots never call a cloud
 * LLM never loads it (openai ~13 MB and @anthropic-ai/sdk ~23 MB of heap, 50–150 ms of start-up each).
 */
import type OpenAI from 'openai';
import type Anthropic from '@anthropic-ai/sdk';
import { isOutOfCredit, type UpstreamErrorBody } from './upstream-status.js';

export type OpenAiClient = OpenAI;
export type AnthropicClient = Anthropic;

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';
export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';

/** Timeout (to the response headers) and retries before any output, by what waits for the answer. */
export const SDK_POLICY = {
  /** A caller is waiting: fail fast, retry once (429/5xx/connection), never once tokens flowed. */
  liveTurn: { timeoutMs: 15_000, maxRetries: 1 },
  /** Background work (document embeddings): patient, with the SDK's backoff honouring Retry-After. */
  batch: { timeoutMs: 60_000, maxRetries: 4 },
} as const;

export interface SdkClientOptions {
  apiKey: string;
  /** OpenAI: includes the /v1 suffix; Anthropic: without it. Default: the vendor's public API. */
  baseUrl?: string;
  /** Time to wait for the response headers (ms). Default: the policy's. */
  timeoutMs?: number;
  /** Retries before any output (429/5xx/connection), with the SDK's backoff. Default: the policy's. */
  maxRetries?: number;
}

export type SdkPolicy = (typeof SDK_POLICY)[keyof typeof SDK_POLICY];

/** A client built on the first call (the SDK imported then), the same client after. */
export type LazyClient<C> = () => Promise<C>;

let openAiModule: typeof import('openai') | null = null;
let anthropicModule: typeof import('@anthropic-ai/sdk') | null = null;

function lazy<C>(build: () => Promise<C>): LazyClient<C> {
  let client: Promise<C> | null = null;
  return () => {
    // A failed import is not cached: the next call tries again (and fails the same way, with the reason).
    client ??= build().catch((err: unknown) => {
      client = null;
      throw err;
    });
    return client;
  };
}

/**
 * The fetch both SDKs are given: Node's own, with two changes that keep each request light (one per live turn).
 * - A JSON body is handed over as its UTF-8 bytes. Given a string, Node's fetch (undici) first makes a well-formed
 *   copy of it — a two-byte copy of the whole request (~11 KB per live turn) as soon as the prompt holds one
 *   character outside Latin-1 (a dash, a Russian word) — and then encodes that copy. The copy lives as long as the
 *   request, outlives the young generation's collections, and was 11 % of all the bytes the server promoted to its
 *   old generation at N = 200 (heap sampling): more full collections, each a pause for every call.
 * - Redirects are refused (`redirect: 'error'`): no vendor API redirects a request, and a fetch that may follow
 *   one clones the request first, teeing its body into two more streams (~2 % of what survived a scavenge at
 *   N = 200; a POST of 11 KB to a local server: 0.17 → 0.13 ms). A redirect becomes a connection error, which
 *   the SDK reports (and retries) as such.
 */
export const sdkFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const body = typeof init?.body === 'string' ? Buffer.from(init.body, 'utf8') : init?.body;
  const res = await fetch(input, { ...init, body, redirect: 'error' });
  return res.status === 429 ? notRetriedIfOutOfCredit(res) : res;
};

/**
 * A 429 that says the credits are spent (OpenAI's insufficient_quota) marked `x-should-retry: false`, which both
 * SDKs obey: they retry every other 429 (after its Retry-After), and another try only keeps a caller waiting (a
 * live turn) or an import busy (embeddings, four tries) for the same answer. Read only on a 429: a small body.
 */
async function notRetriedIfOutOfCredit(res: Response): Promise<Response> {
  const text = await res.text();
  let error: UpstreamErrorBody | undefined;
  try {
    error = (JSON.parse(text) as { error?: UpstreamErrorBody } | null)?.error;
  } catch {
    // Not JSON: not the vendor's out-of-credit answer.
  }
  const headers = new Headers(res.headers);
  if (isOutOfCredit(res.status, error)) headers.set('x-should-retry', 'false');
  return new Response(text, { status: res.status, statusText: res.statusText, headers });
}

/** The settings both SDKs' constructors take, from the adapter's options and its policy. */
function settings(o: SdkClientOptions, policy: SdkPolicy, defaultBaseUrl: string) {
  return {
    apiKey: o.apiKey,
    baseURL: o.baseUrl ?? defaultBaseUrl,
    timeout: o.timeoutMs ?? policy.timeoutMs,
    maxRetries: o.maxRetries ?? policy.maxRetries,
    fetch: sdkFetch,
  };
}

export function openAiClient(o: SdkClientOptions, policy: SdkPolicy): LazyClient<OpenAiClient> {
  return lazy(async () => {
    openAiModule ??= await import('openai');
    return new openAiModule.default(settings(o, policy, OPENAI_DEFAULT_BASE_URL));
  });
}

export function anthropicClient(o: SdkClientOptions, policy: SdkPolicy): LazyClient<AnthropicClient> {
  return lazy(async () => {
    anthropicModule ??= await import('@anthropic-ai/sdk');
    return new anthropicModule.default(settings(o, policy, ANTHROPIC_DEFAULT_BASE_URL));
  });
}

/** An answer either SDK raised as an error: its HTTP status and what its body said (upstream-status.ts reads them). */
export interface SdkHttpError {
  status: number;
  body: UpstreamErrorBody;
}

/**
 * The status and error body of an error either SDK raised for an answer it got (its APIError with a status), else
 * undefined (connection failures, timeouts, aborts and anything else). Only an SDK already loaded can have raised
 * one, so this needs no import. OpenAI's APIError carries the body's error.code and error.type; Anthropic's its
 * error.type and error.message (apiMessage).
 */
export function sdkHttpError(err: unknown): SdkHttpError | undefined {
  if (openAiModule && err instanceof openAiModule.default.APIError && err.status !== undefined) {
    const message = (err.error as { message?: unknown } | undefined)?.message;
    return { status: err.status, body: { code: err.code ?? null, type: err.type ?? null, message: typeof message === 'string' ? message : null } };
  }
  if (anthropicModule && err instanceof anthropicModule.default.APIError && err.status !== undefined) {
    return { status: err.status, body: { type: err.type ?? null, message: err.apiMessage ?? null } };
  }
  return undefined;
}
