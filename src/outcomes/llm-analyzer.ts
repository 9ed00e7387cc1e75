/**
 * Post-call analysis by an LLM with structured output: OpenAI (response_format json_schema) or Anthropic
 * (a tool whose input_schema is the answer schema, forced with tool_choice). Every answer is validated; an
 * invalid one is sent back with the validation error (up to `maxInvalidRetries` times), after which the
 * offline analyzer answers and says so. Transport errors are thrown so the durable job retries later.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { analyzeOffline } from './offline-analyzer.js';
import { renderSystemPrompt, renderTranscript } from './prompt.js';
import { checkResponse, isStrictCompatible, responseSchema, type AnalysisResponse } from './response-schema.js';
import type { Analysis, AnalysisInput, Analyzer } from './types.js';

export interface AnalyzerOptions {
  provider: 'openai' | 'anthropic' | 'offline';
  apiKey?: string | undefined;
  baseUrl?: string | undefined;
  model?: string | undefined;
  /** Text of prompts/analysis.md (loadAnalysisPrompt()); required for LLM providers. */
  prompt?: string | undefined;
  /** Extra attempts after an invalid answer (default 2). */
  maxInvalidRetries?: number;
  timeoutMs?: number;
}

const TOOL_NAME = 'record_call_analysis';

type Attempt = (feedback: string | null) => Promise<unknown>;

function toAnalysis(r: AnalysisResponse, analyzer: string): Analysis {
  return { summary: r.summary, outcomeType: r.outcome_type, confidence: r.confidence, extractedData: r.extracted_data, analyzer };
}

async function withValidation(input: AnalysisInput, label: string, retries: number, makeAttempt: () => Attempt): Promise<Analysis> {
  const attempt = makeAttempt();
  let feedback: string | null = null;
  for (let i = 0; i <= retries; i++) {
    const checked = checkResponse(input.outcomes, await attempt(feedback));
    if (checked.ok) return toAnalysis(checked.value, label);
    feedback = checked.error;
  }
  const fallback = analyzeOffline(input);
  return { ...fallback, analyzer: `offline (fallback: ${label} answered invalid output ${retries + 1} times: ${feedback})`.slice(0, 500) };
}

function openAiAnalyzer(o: AnalyzerOptions & { prompt: string }): Analyzer {
  const client = new OpenAI({ apiKey: o.apiKey, baseURL: o.baseUrl, timeout: o.timeoutMs ?? 60_000, maxRetries: 2 });
  const model = o.model ?? 'gpt-4o-mini';
  return {
    analyze: (input, signal) =>
      withValidation(input, `openai:${model}`, o.maxInvalidRetries ?? 2, () => {
        const schema = responseSchema(input.outcomes);
        const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
          { role: 'system', content: renderSystemPrompt(o.prompt, input) },
          { role: 'user', content: `Transcript:\n${renderTranscript(input)}` },
        ];
        return async (feedback) => {
          if (feedback) messages.push({ role: 'user', content: `That answer was invalid (${feedback}). Answer again with one JSON object that follows the schema.` });
          const res = await client.chat.completions.create(
            {
              model,
              messages,
              temperature: 0,
              response_format: { type: 'json_schema', json_schema: { name: 'call_analysis', strict: isStrictCompatible(schema), schema } },
            },
            { signal },
          );
          const msg = res.choices[0]?.message;
          const content = msg?.content ?? '';
          messages.push({ role: 'assistant', content: content || (msg?.refusal ?? '') });
          return content;
        };
      }),
  };
}

function anthropicAnalyzer(o: AnalyzerOptions & { prompt: string }): Analyzer {
  const client = new Anthropic({ apiKey: o.apiKey, baseURL: o.baseUrl, timeout: o.timeoutMs ?? 60_000, maxRetries: 2 });
  const model = o.model ?? 'claude-haiku-4-5';
  return {
    analyze: (input, signal) =>
      withValidation(input, `anthropic:${model}`, o.maxInvalidRetries ?? 2, () => {
        const system = renderSystemPrompt(o.prompt, input);
        const messages: Anthropic.MessageParam[] = [{ role: 'user', content: `Transcript:\n${renderTranscript(input)}` }];
        let lastToolUseId: string | null = null;
        return async (feedback) => {
          if (feedback) {
            const text = `That answer was invalid (${feedback}). Call ${TOOL_NAME} again with input that follows the schema.`;
            messages.push({
              role: 'user',
              content: lastToolUseId ? [{ type: 'tool_result', tool_use_id: lastToolUseId, is_error: true, content: text }] : text,
            });
          }
          // Streamed and collected: the SDK assembles the tool input from its JSON deltas.
          const res = await client.messages
            .stream(
              {
                model,
                max_tokens: 1024,
                system,
                messages,
                tools: [{ name: TOOL_NAME, description: 'Record the analysis of the call', input_schema: responseSchema(input.outcomes) as Anthropic.Tool.InputSchema }],
                tool_choice: { type: 'tool', name: TOOL_NAME },
              },
              { signal },
            )
            .finalMessage();
          messages.push({ role: 'assistant', content: res.content });
          const block = res.content.find((b) => b.type === 'tool_use');
          lastToolUseId = block && block.type === 'tool_use' ? block.id : null;
          return block && block.type === 'tool_use' ? block.input : '';
        };
      }),
  };
}

export function createAnalyzer(options: AnalyzerOptions): Analyzer {
  if (options.provider === 'offline' || !options.apiKey) return { analyze: async (input) => analyzeOffline(input) };
  if (!options.prompt) throw new Error('createAnalyzer: prompt is required for LLM analysis (loadAnalysisPrompt())');
  const o = { ...options, prompt: options.prompt };
  return options.provider === 'openai' ? openAiAnalyzer(o) : anthropicAnalyzer(o);
}
