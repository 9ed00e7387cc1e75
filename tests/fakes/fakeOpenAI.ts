/**
 * A local server that speaks OpenAI's HTTP API closely enough for the openai SDK: streaming chat completions
 * (SSE `chat.completion.chunk`, tool_calls deltas with `index`), non-streaming chat completions (for structured
 * output; scripted JSON), and /v1/embeddings (deterministic vectors). Timing is controllable so benchmarks can
 * set a first-token latency and a per-token interval.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeToolCall {
  id: string;
  name: string;
  /** Object (serialised) or a raw string (to script invalid JSON). */
  arguments: Record<string, unknown> | string;
}

export interface FakeChatReply {
  text?: string;
  /** The model declines: its words stream as `delta.refusal` (content null), as the API sends a refusal. */
  refusal?: string;
  toolCalls?: FakeToolCall[];
  /** Defaults to 'tool_calls' when toolCalls are present, else 'stop'. */
  finishReason?: 'stop' | 'tool_calls' | 'length';
  /** Destroy the connection after this many SSE chunks (simulates a network drop mid-stream). */
  dropAfterChunks?: number;
  /** Stop sending after this many SSE chunks and hold the connection open until the client goes away. */
  pauseAfterChunks?: number;
  /**
   * Usage reported in the last chunk (sent only when the request asks with stream_options.include_usage, as the
   * API does). Defaults: prompt 10, completion = content chunks sent, no cached tokens.
   */
  usage?: { promptTokens: number; completionTokens: number; cachedTokens?: number };
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface FakeOpenAIOptions {
  apiKey?: string;
  firstTokenLatencyMs?: number;
  tokenIntervalMs?: number;
  embeddingDimensions?: number;
}

/** Splits text the way a tokenizer roughly would for streaming purposes: word plus its trailing space. */
export function fakeTokens(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

/** Deterministic pseudo-embedding: a hash-seeded vector (not normalised, to prove the client normalises). */
export function fakeEmbedding(text: string, dims: number): number[] {
  const out = new Array<number>(dims);
  let seed = createHash('sha256').update(text).digest();
  for (let i = 0; i < dims; i++) {
    if (i % 32 === 0 && i > 0) seed = createHash('sha256').update(seed).digest();
    out[i] = ((seed[i % 32] ?? 0) - 127.5) / 10;
  }
  return out;
}

export class FakeOpenAI {
  readonly requests: RecordedRequest[] = [];
  apiKey: string;
  firstTokenLatencyMs: number;
  tokenIntervalMs: number;
  embeddingDimensions: number;
  /** Total prompt tokens the embeddings endpoint has reported (billed) so far. */
  embeddingTokensReported = 0;
  /** The reply for each streaming chat request (a function can look at the request). */
  reply: FakeChatReply | ((body: Record<string, unknown>) => FakeChatReply) = { text: 'Hello there.' };
  /** Contents returned by non-streaming chat completions, one per request, in order; the last one repeats. */
  jsonReplies: string[] = ['{}'];
  /**
   * Failures to answer the next requests with before behaving normally: a status (e.g. [429, 500]), or
   * 'insufficient_quota' for OpenAI's answer to an account whose credits are spent (HTTP 429, code insufficient_quota).
   */
  failures: Array<number | 'insufficient_quota'> = [];
  /** Streams whose client went away before the reply was finished. */
  clientAborts = 0;
  /** Observer of each streamed reply's first content token going out (performance.now()); for benchmarks. */
  onFirstToken: ((body: Record<string, unknown>, at: number) => void) | null = null;
  private server: Server;
  private port = 0;

  private constructor(options: FakeOpenAIOptions) {
    this.apiKey = options.apiKey ?? 'sk-test';
    this.firstTokenLatencyMs = options.firstTokenLatencyMs ?? 0;
    this.tokenIntervalMs = options.tokenIntervalMs ?? 0;
    this.embeddingDimensions = options.embeddingDimensions ?? 1536;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
    const fake = new FakeOpenAI(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  /** Base URL in the SDK's convention (includes /v1). */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: Record<string, unknown>;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      return sendError(res, 400, 'invalid_request_error', 'Body is not JSON');
    }
    this.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });

    if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
      return sendError(res, 401, 'invalid_request_error', 'Incorrect API key provided', 'invalid_api_key');
    }
    const failure = this.failures.shift();
    if (failure === 'insufficient_quota') {
      // As the API words it (its type and code are both insufficient_quota).
      const message = 'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.';
      return sendError(res, 429, 'insufficient_quota', message, 'insufficient_quota');
    }
    if (failure !== undefined) return sendError(res, failure, 'server_error', `Scripted failure ${failure}`);

    if (req.method === 'POST' && req.url === '/v1/chat/completions') {
      if (typeof body.model !== 'string' || !Array.isArray(body.messages)) {
        return sendError(res, 400, 'invalid_request_error', 'model and messages are required');
      }
      if (body.stream === true) return this.streamChat(res, body);
      return this.jsonChat(res, body);
    }
    if (req.method === 'POST' && req.url === '/v1/embeddings') return this.embeddings(res, body);
    return sendError(res, 404, 'invalid_request_error', `Unknown path ${req.url}`);
  }

  private async streamChat(res: ServerResponse, body: Record<string, unknown>): Promise<void> {
    const reply = typeof this.reply === 'function' ? this.reply(body) : this.reply;
    const id = `chatcmpl-${this.requests.length}`;
    const model = String(body.model);
    const created = Math.floor(Date.now() / 1000);
    let finished = false;
    res.on('close', () => {
      if (!finished) this.clientAborts++;
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });

    const chunks: Array<Record<string, unknown>> = [reply.refusal !== undefined ? { role: 'assistant', content: null, refusal: '' } : { role: 'assistant', content: '' }];
    for (const token of fakeTokens(reply.text ?? '')) chunks.push({ content: token });
    for (const token of fakeTokens(reply.refusal ?? '')) chunks.push({ content: null, refusal: token });
    (reply.toolCalls ?? []).forEach((call, index) => {
      const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
      chunks.push({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] });
      // Arguments arrive in fragments, as from the real API.
      for (let i = 0; i < args.length; i += 7) {
        chunks.push({ tool_calls: [{ index, function: { arguments: args.slice(i, i + 7) } }] });
      }
    });
    const finishReason = reply.finishReason ?? (reply.toolCalls?.length ? 'tool_calls' : 'stop');

    await sleep(this.firstTokenLatencyMs);
    let sent = 0;
    for (const delta of chunks) {
      if (res.destroyed) return;
      if (reply.dropAfterChunks !== undefined && sent >= reply.dropAfterChunks) {
        finished = true;
        // Let what was written reach the client first, then cut the connection without finishing the response.
        await new Promise<void>((r) => res.write('', () => r()));
        res.socket?.destroy();
        return;
      }
      if (reply.pauseAfterChunks !== undefined && sent >= reply.pauseAfterChunks) return;
      writeSse(res, { id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: null }] });
      if (sent === 1 && delta.content) this.onFirstToken?.(body, performance.now());
      sent++;
      if (sent > 1 && this.tokenIntervalMs > 0) await sleep(this.tokenIntervalMs);
    }
    if (res.destroyed) return;
    writeSse(res, { id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: {}, finish_reason: finishReason }] });
    if ((body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true) {
      const u = reply.usage ?? { promptTokens: 10, completionTokens: sent };
      writeSse(res, {
        id, object: 'chat.completion.chunk', created, model, choices: [],
        usage: {
          prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens,
          ...(u.cachedTokens !== undefined ? { prompt_tokens_details: { cached_tokens: u.cachedTokens, audio_tokens: 0 } } : {}),
        },
      });
    }
    res.write('data: [DONE]\n\n');
    finished = true;
    res.end();
  }

  private jsonChat(res: ServerResponse, body: Record<string, unknown>): void {
    const content = this.jsonReplies.length > 1 ? this.jsonReplies.shift()! : (this.jsonReplies[0] ?? '');
    sendJson(res, 200, {
      id: `chatcmpl-${this.requests.length}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
    });
  }

  private embeddings(res: ServerResponse, body: Record<string, unknown>): void {
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    if (!Array.isArray(input) || input.length === 0 || input.length > 2048) {
      return sendError(res, 400, 'invalid_request_error', 'input must be a non-empty array of at most 2048 strings');
    }
    if (body.encoding_format !== undefined && body.encoding_format !== 'float') {
      return sendError(res, 400, 'invalid_request_error', 'this fake only speaks encoding_format float');
    }
    const dims = typeof body.dimensions === 'number' ? body.dimensions : this.embeddingDimensions;
    // Roughly what a BPE tokenizer bills for English (about 4 characters a token), summed for the tests.
    const tokens = input.reduce((n: number, text) => n + Math.max(1, Math.ceil(String(text).length / 4)), 0);
    this.embeddingTokensReported += tokens;
    sendJson(res, 200, {
      object: 'list',
      data: input.map((text, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(String(text), dims) })),
      model: body.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }
}

function writeSse(res: ServerResponse, data: unknown): void {
  res.write(`data: ${JSON.stringify(data)}\n\n`);
}

function sendJson(res: ServerResponse, status: number, data: unknown): void {
  // Tells the SDK's retry logic to back off only briefly, keeping tests fast.
  if (status === 429 || status >= 500) res.setHeader('retry-after-ms', '5');
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(data));
}

function sendError(res: ServerResponse, status: number, type: string, message: string, code: string | null = null): void {
  sendJson(res, status, { error: { message, type, param: null, code } });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());
