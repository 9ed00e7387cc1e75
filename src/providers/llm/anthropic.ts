/**
 * LLM over Anthropic Messages streaming. Prompt caching: the system prompt carries a cache_control breakpoint (the
 * stable prefix: tools + system), and the last block of the conversation a second one, which moves with each turn:
 * a turn reads the conversation so far from the cache and writes only what it added (the history window,
 * src/call/history-window.ts, keeps that prefix the same between its cuts; the turn's retrieved knowledge goes
 * after the breakpoint, not into the system prompt). tool_use blocks become whole tool_call events, each announced
 * by a tool_call_start at its content_block_start; ChatMessage 'tool' results go back as user tool_result blocks,
 * consecutive results merged into one user turn as the API requires; text with no words in it (a model's "\n\n"
 * before a tool_use) is left out of the history, as the API refuses it.
 */
import { toolCallFrom } from './tool-arguments.js';
import { toUpstreamError } from './upstream-error.js';
import type {
  ContentBlockParam,
  MessageCreateParamsStreaming,
  MessageParam,
  StopReason,
} from '@anthropic-ai/sdk/resources/messages';
import { ParleyError } from '../../errors.js';
import { cancelOnAbort, count } from './openai.js';
import { anthropicClient, SDK_POLICY, type AnthropicClient, type LazyClient } from '../sdk-clients.js';
import type { ChatMessage, LlmEvent, LlmProvider, LlmRequest, LlmUsage, StructuredRequest, ToolCall } from '../types.js';

/** A structured answer (post-call analysis) may take longer than a live turn's first token. */
const STRUCTURED_TIMEOUT_MS = 60_000;

export interface AnthropicLlmOptions {
  apiKey: string;
  /** Default https://api.anthropic.com (no /v1). */
  baseUrl?: string;
  model?: string;
  timeoutMs?: number;
  /** Retries before the stream starts (429/5xx/529/connection). */
  maxRetries?: number;
  /** Used when the request sets none; the Messages API requires one. */
  defaultMaxTokens?: number;
}

export class AnthropicLlm implements LlmProvider {
  readonly name = 'anthropic';
  private readonly client: LazyClient<AnthropicClient>;
  readonly model: string;
  private readonly defaultMaxTokens: number;

  constructor(options: AnthropicLlmOptions) {
    this.client = anthropicClient(options, SDK_POLICY.liveTurn);
    this.model = options.model ?? 'claude-haiku-4-5';
    this.defaultMaxTokens = options.defaultMaxTokens ?? 1024;
  }

  /** The schema is the input_schema of a tool the model is forced to call; its input is the answer. */
  async structured(request: StructuredRequest): Promise<unknown> {
    // Streamed and collected: the SDK assembles the tool input from its JSON deltas.
    const client = await this.client();
    const res = await client.messages
      .stream(
        {
          model: this.model,
          max_tokens: request.maxTokens ?? this.defaultMaxTokens,
          system: request.system,
          messages: [
            { role: 'user', content: request.user },
            // Asking again: the refused answer as the model's own tool call, the refusal as its error result.
            ...(request.retry
              ? [
                  { role: 'assistant' as const, content: [{ type: 'tool_use' as const, id: 'toolu_previous_answer', name: request.name, input: request.retry.answer ?? {} }] },
                  {
                    role: 'user' as const,
                    content: [{ type: 'tool_result' as const, tool_use_id: 'toolu_previous_answer', is_error: true, content: `That answer was invalid (${request.retry.error}). Call ${request.name} again with input that follows the schema.` }],
                  },
                ]
              : []),
          ],
          tools: [{ name: request.name, description: `Record the ${request.name.replace(/_/g, ' ')}`, input_schema: request.schema as { type: 'object'; [k: string]: unknown } }],
          tool_choice: { type: 'tool', name: request.name },
        },
        { signal: request.signal, timeout: STRUCTURED_TIMEOUT_MS },
      )
      .finalMessage()
      // As a turn's errors: the status and what it means, never the SDK's message (a vendor's error text may echo the key).
      .catch((err: unknown) => {
        throw toUpstreamError('Anthropic', err);
      });
    request.onUsage?.(usageOf(res.usage));
    const block = res.content.find((b) => b.type === 'tool_use');
    return block && block.type === 'tool_use' ? block.input : '';
  }

  async *stream(request: LlmRequest): AsyncIterable<LlmEvent> {
    const params: MessageCreateParamsStreaming = {
      model: request.model ?? this.model,
      max_tokens: request.maxTokens ?? this.defaultMaxTokens,
      messages: withTurnContext(withConversationBreakpoint(toAnthropicMessages(request.messages)), request.context),
      stream: true,
    };
    if (request.system) params.system = [{ type: 'text', text: request.system, cache_control: { type: 'ephemeral' } }];
    if (request.tools.length > 0) {
      params.tools = request.tools.map((t) => ({
        name: t.name,
        description: t.description,
        input_schema: t.parameters as { type: 'object'; [k: string]: unknown },
      }));
    }
    // SDK 1.13's request type has no temperature (current models fix sampling); request.temperature is ignored.

    const toolBlocks = new Map<number, { id: string; name: string; json: string }>();
    const calls: ToolCall[] = [];
    let stopReason: StopReason | null = null;
    let stopped = false;
    // message_start carries the input side (input_tokens excludes cache reads and writes); message_delta the
    // cumulative output_tokens.
    let usage: LlmUsage | undefined;
    let release: (() => void) | undefined;
    try {
      const client = await this.client();
      const stream = await client.messages.create(params, { signal: request.signal });
      release = cancelOnAbort(request.signal, stream.controller);
      for await (const event of stream) {
        if (request.signal.aborted) return;
        switch (event.type) {
          case 'message_start': {
            usage = usageOf(event.message.usage);
            request.onUsage?.(usage);
            break;
          }
          case 'content_block_start':
            if (event.content_block.type === 'tool_use') {
              const b = event.content_block;
              toolBlocks.set(event.index, { id: b.id, name: b.name, json: '' });
              yield { type: 'tool_call_start' };
            }
            break;
          case 'content_block_delta':
            if (event.delta.type === 'text_delta') {
              if (event.delta.text) yield { type: 'text', text: event.delta.text };
            } else if (event.delta.type === 'input_json_delta') {
              const block = toolBlocks.get(event.index);
              if (block) block.json += event.delta.partial_json;
            }
            break;
          case 'content_block_stop': {
            const block = toolBlocks.get(event.index);
            if (block) calls.push(toToolCall(block));
            break;
          }
          case 'message_delta':
            if (event.delta.stop_reason) stopReason = event.delta.stop_reason;
            if (usage && event.usage) {
              usage.outputTokens = count(event.usage.output_tokens);
              request.onUsage?.(usage);
            }
            break;
          case 'message_stop':
            stopped = true;
            break;
        }
      }
    } catch (err) {
      if (request.signal.aborted) return;
      throw toUpstreamError('Anthropic', err);
    } finally {
      release?.();
    }
    if (request.signal.aborted) return;
    if (!stopped) {
      throw new ParleyError('PARLEY_ERR_UPSTREAM', 'Anthropic stream ended before message_stop', {
        provider: 'anthropic',
        retryable: true,
      });
    }
    for (const call of calls) yield { type: 'tool_call', call };
    yield { type: 'done', finishReason: mapStopReason(stopReason, calls.length > 0), ...(usage ? { usage } : {}) };
  }
}

export function toAnthropicMessages(messages: ChatMessage[]): MessageParam[] {
  const out: MessageParam[] = [];
  // Consecutive user-side content (tool results, then perhaps the caller's next words) forms one user turn.
  const pushUser = (block: ContentBlockParam): void => {
    const last = out.at(-1);
    if (last?.role === 'user' && Array.isArray(last.content)) last.content.push(block);
    else out.push({ role: 'user', content: [block] });
  };
  for (const m of messages) {
    if (m.role === 'user') {
      if (hasWords(m.content)) pushUser({ type: 'text', text: m.content });
    } else if (m.role === 'tool') {
      pushUser({ type: 'tool_result', tool_use_id: m.toolCallId, content: hasWords(m.content) ? m.content : '(empty)' });
    } else {
      const content: ContentBlockParam[] = [];
      // A model may stream only whitespace ("\n\n") before a tool_use; the API refuses that block sent back.
      if (hasWords(m.content)) content.push({ type: 'text', text: m.content });
      for (const c of m.toolCalls ?? []) content.push({ type: 'tool_use', id: c.id, name: c.name, input: c.arguments });
      if (content.length > 0) out.push({ role: 'assistant', content });
    }
  }
  return out;
}

/** A cache breakpoint on the last block of the last message (the messages are this request's own). */
function withConversationBreakpoint(messages: MessageParam[]): MessageParam[] {
  const content = messages.at(-1)?.content;
  const last = Array.isArray(content) ? content.at(-1) : undefined;
  if (last && 'type' in last && (last.type === 'text' || last.type === 'tool_result' || last.type === 'tool_use')) last.cache_control = { type: 'ephemeral' };
  return messages;
}

/**
 * The turn's own material (retrieved knowledge) after the conversation's cache breakpoint, as a last text block of
 * the caller's turn: the next turn's prompt then begins with this one's cached prefix. In `system` it would change
 * the front of every prompt and nothing after it would ever be read from the cache.
 */
function withTurnContext(messages: MessageParam[], context: string | undefined): MessageParam[] {
  if (!hasWords(context)) return messages;
  const last = messages.at(-1);
  if (last?.role === 'user' && Array.isArray(last.content)) last.content.push({ type: 'text', text: context });
  else messages.push({ role: 'user', content: [{ type: 'text', text: context }] });
  return messages;
}

/** The API refuses empty and whitespace-only text blocks ("text content blocks must contain non-whitespace text"). */
function hasWords(text: string | null | undefined): text is string {
  return Boolean(text?.trim());
}

function toToolCall(block: { id: string; name: string; json: string }): ToolCall {
  return toolCallFrom(block.id, block.name, block.json);
}

function mapStopReason(reason: StopReason | null, hadToolCalls: boolean): 'stop' | 'tool_calls' | 'length' | 'other' {
  if (reason === 'tool_use' || hadToolCalls) return 'tool_calls';
  if (reason === 'end_turn' || reason === 'stop_sequence') return 'stop';
  if (reason === 'max_tokens' || reason === 'model_context_window_exceeded') return 'length';
  return 'other';
}

/**
 * Anthropic's usage: input_tokens excludes the cache's reads and writes, both of which are input the vendor bills
 * (reads at the cached rate).
 */
function usageOf(u: { input_tokens?: unknown; output_tokens?: unknown; cache_read_input_tokens?: unknown; cache_creation_input_tokens?: unknown }): LlmUsage {
  const cached = count(u.cache_read_input_tokens);
  return { inputTokens: count(u.input_tokens) + cached + count(u.cache_creation_input_tokens), outputTokens: count(u.output_tokens), cachedInputTokens: cached };
}
