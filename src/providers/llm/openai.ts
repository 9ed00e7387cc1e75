/**
 * LLM over OpenAI Chat Completions streaming (also vLLM / llama.cpp / any OpenAI-compatible server via baseUrl).
 * Tool-call deltas are assembled per `index` and emitted whole, arguments parsed, just before `done` (arguments
 * that are not a JSON object make a call marked invalid, not a failed stream: tool-arguments.ts); the first delta of
 * each is announced at once (`tool_call_start`), so a stream that stalls mid-call is known to have dropped one.
 */
import { toolCallFrom } from './tool-arguments.js';
import { toUpstreamError } from './upstream-error.js';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import { ParleyError } from '../../errors.js';
import { estimateTokens } from '../embeddings/openai.js';
import { openAiClient, SDK_POLICY, type LazyClient, type OpenAiClient } from '../sdk-clients.js';
import type { ChatMessage, LlmEvent, LlmProvider, LlmRequest, LlmUsage, StructuredRequest, ToolCall } from '../types.js';

/** A structured answer (post-call analysis) may take longer than a live turn's first token. */
const STRUCTURED_TIMEOUT_MS = 60_000;

export interface OpenAiLlmOptions {
  apiKey: string;
  /** Includes the /v1 suffix. Default https://api.openai.com/v1. */
  baseUrl?: string;
  model?: string;
  /** Time to wait for the response headers (ms). */
  timeoutMs?: number;
  /** Retries before the stream starts (429/5xx/connection); never once tokens flowed. */
  maxRetries?: number;
  /** OpenAI wants max_completion_tokens; some compatible servers only know max_tokens. */
  maxTokensField?: 'max_completion_tokens' | 'max_tokens';
}

export class OpenAiLlm implements LlmProvider {
  readonly name = 'openai';
  private readonly client: LazyClient<OpenAiClient>;
  readonly model: string;
  private readonly maxTokensField: 'max_completion_tokens' | 'max_tokens';

  constructor(options: OpenAiLlmOptions) {
    this.client = openAiClient(options, SDK_POLICY.liveTurn);
    this.model = options.model ?? 'gpt-4o-mini';
    this.maxTokensField = options.maxTokensField ?? 'max_completion_tokens';
  }

  async structured(request: StructuredRequest): Promise<unknown> {
    const params: ChatCompletionCreateParamsNonStreaming = {
      model: this.model,
      messages: [
        { role: 'system', content: request.system },
        { role: 'user', content: request.user },
        ...(request.retry
          ? [
              { role: 'assistant' as const, content: typeof request.retry.answer === 'string' ? request.retry.answer : JSON.stringify(request.retry.answer) },
              { role: 'user' as const, content: `That answer was invalid (${request.retry.error}). Answer again with one JSON object that follows the schema.` },
            ]
          : []),
      ],
      temperature: 0,
      response_format: { type: 'json_schema', json_schema: { name: request.name, strict: request.strict ?? false, schema: request.schema } },
    };
    if (request.maxTokens !== undefined) params[this.maxTokensField] = request.maxTokens;
    // Off the call's path: a longer timeout than a live turn's.
    const client = await this.client();
    // As a turn's errors: the status and what it means, never the SDK's message (a vendor's error text may echo the key).
    const res = await client.chat.completions.create(params, { signal: request.signal, timeout: STRUCTURED_TIMEOUT_MS })
      .catch((err: unknown) => {
        throw toUpstreamError('OpenAI', err);
      });
    if (res.usage) request.onUsage?.(usageOf(res.usage));
    const msg = res.choices[0]?.message;
    const content = msg?.content ?? msg?.refusal ?? '';
    try {
      return JSON.parse(content) as unknown;
    } catch {
      return content;
    }
  }

  async *stream(request: LlmRequest): AsyncIterable<LlmEvent> {
    const params: ChatCompletionCreateParamsStreaming = {
      model: request.model ?? this.model,
      messages: toOpenAiMessages(request.system, request.messages, request.context),
      stream: true,
      // The usage arrives in one last chunk with no choices (compatible servers that ignore it send none).
      stream_options: { include_usage: true },
    };
    if (request.tools.length > 0) {
      params.tools = request.tools.map((t) => ({
        type: 'function',
        function: { name: t.name, description: t.description, parameters: t.parameters },
      }));
    }
    if (request.temperature !== undefined) params.temperature = request.temperature;
    if (request.maxTokens !== undefined) params[this.maxTokensField] = request.maxTokens;

    const pending = new Map<number, { id: string; name: string; args: string }>();
    let finish: ChatCompletionChunk.Choice['finish_reason'] = null;
    let usage: LlmUsage | undefined;
    let release: (() => void) | undefined;
    // OpenAI reports usage in the stream's last chunk only: an answer cut off before it is estimated from what
    // was sent and what came back (the prompt is billed once processed, each chunk is about one token).
    let sent = false;
    let chunks = 0;
    try {
      const client = await this.client();
      const stream = await client.chat.completions.create(params, { signal: request.signal });
      sent = true;
      release = cancelOnAbort(request.signal, stream.controller);
      for await (const chunk of stream) {
        if (request.signal.aborted) return;
        if (chunk.usage) {
          usage = usageOf(chunk.usage);
          request.onUsage?.(usage);
        }
        const choice = chunk.choices[0];
        if (!choice) continue;
        chunks++;
        const delta = choice.delta;
        if (delta?.content) yield { type: 'text', text: delta.content };
        // A refusal is the model's answer too (content null): spoken and kept in the history like any words (the
        // structured path above reads it the same way), not dropped for the stock no-answer line.
        else if (delta?.refusal) yield { type: 'text', text: delta.refusal };
        for (const tc of delta?.tool_calls ?? []) {
          let call = pending.get(tc.index);
          if (!call) {
            pending.set(tc.index, (call = { id: '', name: '', args: '' }));
            yield { type: 'tool_call_start' };
          }
          if (tc.id) call.id = tc.id;
          if (tc.function?.name) call.name += tc.function.name;
          if (tc.function?.arguments) call.args += tc.function.arguments;
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    } catch (err) {
      if (request.signal.aborted) return;
      throw toUpstreamError('OpenAI', err);
    } finally {
      release?.();
      if (sent && !usage) request.onUsage?.({ inputTokens: estimateTokens(JSON.stringify(params.messages) + JSON.stringify(params.tools ?? [])), outputTokens: chunks });
    }
    if (request.signal.aborted) return;
    if (finish === null) {
      throw new ParleyError('PARLEY_ERR_UPSTREAM', 'OpenAI stream ended without a finish reason', { retryable: true });
    }
    for (const [index, call] of [...pending.entries()].sort((a, b) => a[0] - b[0])) {
      yield { type: 'tool_call', call: toToolCall(call, index) };
    }
    yield { type: 'done', finishReason: mapFinishReason(finish, pending.size > 0), ...(usage ? { usage } : {}) };
  }
}

/** OpenAI's usage: prompt_tokens includes the cached ones (prompt_tokens_details.cached_tokens). */
function usageOf(u: NonNullable<ChatCompletionChunk['usage']>): LlmUsage {
  const out: LlmUsage = { inputTokens: count(u.prompt_tokens), outputTokens: count(u.completion_tokens) };
  const cached = u.prompt_tokens_details?.cached_tokens;
  if (cached !== undefined && cached !== null) out.cachedInputTokens = count(cached);
  return out;
}

/** A token count as reported, or 0 when a compatible server sends something else. */
export function count(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.floor(n) : 0;
}

/**
 * The reason a stream's controller is aborted when its consumer is done with it (every turn, most often after the
 * stream ended): one shared value, since abort() without a reason builds a DOMException with a stack each time.
 */
const STREAM_RELEASED = new Error('the LLM stream was released');

/**
 * The SDKs notice an aborted signal only at the next chunk; barge-in must drop the HTTP stream at once so the
 * server stops generating. The returned release also cancels when the consumer stops iterating early (break).
 */
export function cancelOnAbort(signal: AbortSignal, controller: AbortController): () => void {
  const onAbort = (): void => controller.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  return () => {
    signal.removeEventListener('abort', onAbort);
    controller.abort(STREAM_RELEASED);
  };
}

/**
 * The chat messages of a request. The turn's own material (`context`: retrieved knowledge) follows the caller's
 * latest words in their message, not the system message: OpenAI caches the longest prefix a request repeats, so
 * the instructions and the conversation before this turn stay cacheable from turn to turn (in the system message it
 * would change the front of every prompt); and compatible servers (vLLM, llama.cpp chat templates) refuse a
 * second system message later on. Without a caller message in the request it joins the system message.
 */
export function toOpenAiMessages(system: string, messages: ChatMessage[], context?: string): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  let lastUser = -1;
  if (context) for (let i = messages.length - 1; i >= 0 && lastUser < 0; i--) if (messages[i]!.role === 'user') lastUser = i;
  const instructions = context && lastUser < 0 ? (system ? `${system}\n\n${context}` : context) : system;
  if (instructions) out.push({ role: 'system', content: instructions });
  for (const [i, m] of messages.entries()) {
    if (m.role === 'user') out.push({ role: 'user', content: i === lastUser ? `${m.content}\n\n${context}` : m.content });
    else if (m.role === 'tool') out.push({ role: 'tool', tool_call_id: m.toolCallId, content: m.content });
    else if (m.toolCalls?.length) {
      out.push({
        role: 'assistant',
        content: m.content || null,
        tool_calls: m.toolCalls.map((c) => ({
          id: c.id,
          type: 'function',
          function: { name: c.name, arguments: JSON.stringify(c.arguments) },
        })),
      });
    } else out.push({ role: 'assistant', content: m.content });
  }
  return out;
}

function toToolCall(call: { id: string; name: string; args: string }, index: number): ToolCall {
  // Some compatible servers omit ids; the conversation still needs one to pair the result.
  return toolCallFrom(call.id || `call_${index}`, call.name, call.args);
}

function mapFinishReason(reason: string, hadToolCalls: boolean): 'stop' | 'tool_calls' | 'length' | 'other' {
  if (reason === 'tool_calls' || reason === 'function_call') return 'tool_calls';
  if (reason === 'stop') return hadToolCalls ? 'tool_calls' : 'stop';
  if (reason === 'length') return 'length';
  return 'other';
}
