/**
 * A local server speaking Anthropic's Messages API: streaming SSE (message_start, content_block_start/delta/stop,
 * message_delta, message_stop, ping) with text and tool_use blocks, and non-streaming JSON replies (scripted, for
 * structured-output analysis). A scripted tool_use streams its input as input_json_delta pieces cut at arbitrary
 * (seeded, repeatable) points, as the API does. Checks the API key (x-api-key or Bearer), anthropic-version and
 * the request rules the API enforces (roles, text blocks, tool_use/tool_result pairing, tool definitions); records
 * every request, with helpers to read what the model was sent; timing is controllable.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fakeTokens } from './fakeOpenAI.js';

export interface FakeAnthropicToolUse {
  id: string;
  name: string;
  /** Object (serialised) or a raw string (to script invalid JSON). */
  input: Record<string, unknown> | string;
  /** Where to cut the serialised input into input_json_delta pieces (character offsets); default: arbitrary points. */
  cutAt?: number[];
}

export interface FakeAnthropicReply {
  text?: string;
  toolUses?: FakeAnthropicToolUse[];
  /** Defaults to 'tool_use' when toolUses are present, else 'end_turn'. */
  stopReason?: 'end_turn' | 'tool_use' | 'max_tokens';
  /** Destroy the connection after this many SSE events (network drop mid-stream). */
  dropAfterEvents?: number;
  /** Send an `error` SSE event (e.g. overloaded_error) after this many events. */
  errorAfterEvents?: number;
  /** Stop sending after this many SSE events and hold the connection open until the client goes away. */
  pauseAfterEvents?: number;
  /**
   * Usage as the API reports it: input side in message_start (input_tokens excludes cache reads/writes), the
   * cumulative output_tokens in message_delta. Defaults: input 10, output = the number of events, no cache.
   */
  usage?: { inputTokens: number; outputTokens: number; cacheReadInputTokens?: number; cacheCreationInputTokens?: number };
}

export interface RecordedAnthropicRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface FakeAnthropicOptions {
  apiKey?: string;
  firstTokenLatencyMs?: number;
  tokenIntervalMs?: number;
}

export class FakeAnthropic {
  readonly requests: RecordedAnthropicRequest[] = [];
  apiKey: string;
  firstTokenLatencyMs: number;
  tokenIntervalMs: number;
  reply: FakeAnthropicReply | ((body: Record<string, unknown>) => FakeAnthropicReply) = { text: 'Hello there.' };
  /** Text returned by non-streaming requests, one per request, in order; the last one repeats. */
  jsonReplies: string[] = ['{}'];
  /**
   * Failures to answer the next requests with before behaving normally: a status, or 'credit_balance_too_low' for
   * Anthropic's answer to an account whose credits are spent (HTTP 400, "Your credit balance is too low …").
   */
  failures: Array<number | 'credit_balance_too_low'> = [];
  /** Why each request the API's rules refuse was answered 400 (a test can fail on the first at once). */
  readonly refusals: string[] = [];
  clientAborts = 0;
  private server: Server;
  private port = 0;

  private constructor(options: FakeAnthropicOptions) {
    this.apiKey = options.apiKey ?? 'sk-ant-test';
    this.firstTokenLatencyMs = options.firstTokenLatencyMs ?? 0;
    this.tokenIntervalMs = options.tokenIntervalMs ?? 0;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
    const fake = new FakeAnthropic(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  /** Base URL in the SDK's convention (no /v1). */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
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
    this.requests.push({ path: req.url ?? '', headers: req.headers, body });
    // SDK 1.13 authenticates with `Authorization: Bearer <key>`; older clients use x-api-key. Accept either.
    const key = req.headers['x-api-key'] ?? req.headers.authorization?.replace(/^Bearer /, '');
    if (key !== this.apiKey) return sendError(res, 401, 'authentication_error', 'invalid API key');
    if (!req.headers['anthropic-version']) return sendError(res, 400, 'invalid_request_error', 'anthropic-version header is required');
    const failure = this.failures.shift();
    if (failure === 'credit_balance_too_low') {
      // As the API words it: a 400 invalid_request_error, told apart from a malformed request only by its message.
      const message = 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.';
      return sendError(res, 400, 'invalid_request_error', message);
    }
    if (failure !== undefined) return sendError(res, failure, failure === 529 ? 'overloaded_error' : 'api_error', `Scripted failure ${failure}`);
    if (req.method !== 'POST' || req.url !== '/v1/messages') return sendError(res, 404, 'not_found_error', `Unknown path ${req.url}`);
    const problem = validate(body);
    if (problem) {
      this.refusals.push(problem);
      return sendError(res, 400, 'invalid_request_error', problem);
    }
    if (body.stream === true) return this.stream(res, body);
    const text = this.jsonReplies.length > 1 ? this.jsonReplies.shift()! : (this.jsonReplies[0] ?? '');
    sendJson(res, 200, {
      id: `msg_${this.requests.length}`,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: [{ type: 'text', text }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 10 },
    });
  }

  private async stream(res: ServerResponse, body: Record<string, unknown>): Promise<void> {
    const reply = typeof this.reply === 'function' ? this.reply(body) : this.reply;
    let finished = false;
    res.on('close', () => {
      if (!finished) this.clientAborts++;
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });

    const events: Array<[string, Record<string, unknown>]> = [];
    events.push([
      'message_start',
      {
        type: 'message_start',
        message: {
          id: `msg_${this.requests.length}`, type: 'message', role: 'assistant', model: body.model, content: [],
          stop_reason: null, stop_sequence: null,
          usage: {
            input_tokens: reply.usage?.inputTokens ?? 10, output_tokens: 1,
            cache_creation_input_tokens: reply.usage?.cacheCreationInputTokens ?? 0, cache_read_input_tokens: reply.usage?.cacheReadInputTokens ?? 0,
          },
        },
      },
    ]);
    let index = 0;
    if (reply.text) {
      events.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }]);
      events.push(['ping', { type: 'ping' }]);
      for (const token of fakeTokens(reply.text)) {
        events.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: token } }]);
      }
      events.push(['content_block_stop', { type: 'content_block_stop', index }]);
      index++;
    }
    for (const use of reply.toolUses ?? []) {
      const json = typeof use.input === 'string' ? use.input : JSON.stringify(use.input);
      events.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: use.id, name: use.name, input: {} } }]);
      // The API opens a tool_use block with an empty piece, then cuts the JSON anywhere (inside keys, strings, escapes).
      events.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } }]);
      for (const piece of cutJson(json, use.cutAt ?? arbitraryCuts(json, use.id))) {
        events.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } }]);
      }
      events.push(['content_block_stop', { type: 'content_block_stop', index }]);
      index++;
    }
    const stopReason = reply.stopReason ?? (reply.toolUses?.length ? 'tool_use' : 'end_turn');
    events.push(['message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: reply.usage?.outputTokens ?? events.length } }]);
    events.push(['message_stop', { type: 'message_stop' }]);

    await sleep(this.firstTokenLatencyMs);
    let sent = 0;
    for (const [name, data] of events) {
      if (res.destroyed) return;
      if (reply.dropAfterEvents !== undefined && sent >= reply.dropAfterEvents) {
        finished = true;
        await new Promise<void>((r) => res.write('', () => r()));
        res.socket?.destroy();
        return;
      }
      if (reply.errorAfterEvents !== undefined && sent >= reply.errorAfterEvents) {
        res.write(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`);
        finished = true;
        res.end();
        return;
      }
      if (reply.pauseAfterEvents !== undefined && sent >= reply.pauseAfterEvents) return;
      res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
      sent++;
      if (name === 'content_block_delta' && this.tokenIntervalMs > 0) await sleep(this.tokenIntervalMs);
    }
    finished = true;
    res.end();
  }
}

/** The request-shape rules the real API enforces that adapters most often get wrong (worded like its errors). */
function validate(body: Record<string, unknown>): string | null {
  if (typeof body.model !== 'string') return 'model is required';
  if (typeof body.max_tokens !== 'number') return 'max_tokens is required';
  const toolProblem = validateTools(body.tools);
  if (toolProblem) return toolProblem;
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages must be a non-empty array';
  const messages = body.messages as Array<{ role: string; content: unknown }>;
  if (messages[0]?.role !== 'user') return 'first message must use the user role';
  // Prompt caching: at most 4 cache_control breakpoints over tools, system and message blocks.
  const marked = (xs: unknown): number => (Array.isArray(xs) ? xs.filter((x) => typeof x === 'object' && x !== null && 'cache_control' in x).length : 0);
  const breakpoints = marked(body.tools) + marked(body.system) + messages.reduce((n, m) => n + marked(m.content), 0);
  if (breakpoints > 4) return `A maximum of 4 blocks with cache_control may be provided. Found ${breakpoints}.`;
  for (const [i, m] of messages.entries()) {
    if (m.role !== 'user' && m.role !== 'assistant') return `messages: unexpected role ${m.role}`;
    if (Array.isArray(m.content)) {
      const blocks = m.content as ContentBlock[];
      const texts = blocks.filter((b) => b.type === 'text').map((b) => b.text ?? '');
      if (texts.some((t) => t === '')) return `messages.${i}: text content blocks must be non-empty`;
      // A whitespace-only text block passes only beside other text that has words in it.
      if (texts.some((t) => !t.trim()) && !texts.some((t) => t.trim())) return `messages.${i}: text content blocks must contain non-whitespace text`;
      const pairing = validateToolPairing(messages, i);
      if (pairing) return pairing;
    } else if (typeof m.content !== 'string' || m.content === '') return 'message content must be non-empty';
  }
  return null;
}

interface ContentBlock { type: string; text?: string; id?: string; tool_use_id?: string; input?: unknown }

const blocksOf = (m: { content: unknown } | undefined): ContentBlock[] => (Array.isArray(m?.content) ? (m.content as ContentBlock[]) : []);

/**
 * Each tool_use must be answered by a tool_result in the very next (user) message, tool_results first in it; each
 * tool_result must answer a tool_use of the message just before.
 */
function validateToolPairing(messages: Array<{ role: string; content: unknown }>, i: number): string | null {
  const m = messages[i]!;
  const blocks = blocksOf(m);
  if (m.role === 'assistant') {
    const uses = blocks.filter((b) => b.type === 'tool_use');
    for (const u of uses) {
      if (typeof u.input !== 'object' || u.input === null || Array.isArray(u.input)) return `messages.${i}: tool_use.input must be an object`;
    }
    if (uses.length === 0) return null;
    const answered = new Set(blocksOf(messages[i + 1]).filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id));
    const unanswered = uses.filter((u) => !answered.has(u.id)).map((u) => u.id);
    if (messages[i + 1]?.role !== 'user' || unanswered.length > 0) {
      return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${unanswered.join(', ')}`;
    }
    return null;
  }
  const results = blocks.filter((b) => b.type === 'tool_result');
  if (results.length === 0) return null;
  const firstOther = blocks.findIndex((b) => b.type !== 'tool_result');
  if (firstOther !== -1 && firstOther < blocks.findLastIndex((b) => b.type === 'tool_result')) return `messages.${i}: tool_result blocks must come first in the content`;
  const used = new Set(blocksOf(messages[i - 1]).filter((b) => b.type === 'tool_use').map((b) => b.id));
  const stray = results.filter((r) => !used.has(r.tool_use_id));
  if (messages[i - 1]?.role !== 'assistant' || stray.length > 0) {
    return `messages.${i}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${stray.map((r) => r.tool_use_id).join(', ')}`;
  }
  return null;
}

function validateTools(tools: unknown): string | null {
  if (tools === undefined) return null;
  if (!Array.isArray(tools)) return 'tools must be an array';
  const names = new Set<string>();
  for (const [i, t] of (tools as Array<{ name?: unknown; input_schema?: { type?: unknown } }>).entries()) {
    if (typeof t.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(t.name)) return `tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`;
    if (names.has(t.name)) return 'tools: Tool names must be unique.';
    names.add(t.name);
    if (t.input_schema?.type !== 'object') return `tools.${i}.custom.input_schema.type: Input should be 'object'`;
  }
  return null;
}

/** Cuts a string at the given offsets (sorted, deduplicated, within bounds) into consecutive non-empty pieces. */
function cutJson(json: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < json.length))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let from = 0;
  for (const at of [...points, json.length]) {
    if (at > from) pieces.push(json.slice(from, at));
    from = at;
  }
  return pieces;
}

/** Repeatable "arbitrary" cut points: pieces of 1 to 12 characters from a generator seeded by the block's id, never inside a surrogate pair. */
function arbitraryCuts(json: string, seed: string): number[] {
  let state = [...seed].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0, 2166136261);
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
  const cuts: number[] = [];
  for (let at = 1 + (next() % 12); at < json.length; at += 1 + (next() % 12)) {
    cuts.push(/[\uDC00-\uDFFF]/.test(json[at] ?? '') ? at + 1 : at);
  }
  return cuts;
}

/** The caller's words as the model was sent them: the text blocks of user messages, in order. */
export function userTexts(body: Record<string, unknown>): string[] {
  const messages = (body.messages ?? []) as Array<{ role: string; content: unknown }>;
  return messages
    .filter((m) => m.role === 'user')
    .flatMap((m) => (typeof m.content === 'string' ? [m.content] : blocksOf(m).filter((b) => b.type === 'text').map((b) => b.text ?? '')));
}

export interface SentToolResult {
  toolUseId: string;
  content: unknown;
  isError: boolean;
}

/** Every tool_result block the model was sent, in history order (what the tools answered). */
export function toolResults(body: Record<string, unknown>): SentToolResult[] {
  const messages = (body.messages ?? []) as Array<{ role: string; content: unknown }>;
  return messages.flatMap((m) =>
    blocksOf(m)
      .filter((b) => b.type === 'tool_result')
      .map((b) => ({ toolUseId: b.tool_use_id ?? '', content: (b as { content?: unknown }).content, isError: (b as { is_error?: unknown }).is_error === true })),
  );
}

function sendJson(res: ServerResponse, status: number, data: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(data));
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  sendJson(res, status, { type: 'error', error: { type, message } });
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
