/**
 * Post-call analysis by the server's LLM through LlmProvider.structured (OpenAI json_schema output, Anthropic a
 * forced tool). Every answer is validated; after an invalid one the LLM is asked again with the validation
 * error (up to `maxInvalidRetries` times), after which the offline analyzer answers and says so. Transport
 * errors are thrown so the durable job retries later. Without an LLM that has structured output (the server
 * runs on the scenario engine), the offline analyzer answers.
 */
import type { LlmProvider, LlmUsage } from '../providers/types.js';
import { llmUsageItems, type UsageItem } from '../usage/counting.js';
import { analyzeOffline, withHangupOnlyForCaller } from './offline-analyzer.js';
import { renderSystemPrompt, renderTranscript } from './prompt.js';
import { checkResponse, isStrictCompatible, responseSchema, type AnalysisResponse } from './response-schema.js';
import type { Analysis, Analyzer } from './types.js';

export interface AnalyzerOptions {
  /** The server's LLM (ProviderRegistry.serverLlm()); null or one without structured output = offline. */
  llm: LlmProvider | null;
  /** Text of prompts/analysis.md (loadAnalysisPrompt()); required with an LLM. */
  prompt?: string | undefined;
  /** Extra attempts after an invalid answer (default 2). */
  maxInvalidRetries?: number;
}

const TOOL_NAME = 'record_call_analysis';

function toAnalysis(r: AnalysisResponse, analyzer: string): Analysis {
  return { summary: r.summary, outcomeType: r.outcome_type, confidence: r.confidence, extractedData: r.extracted_data, analyzer };
}

export function createAnalyzer(options: AnalyzerOptions): Analyzer {
  const llm = options.llm;
  if (!llm?.structured) return { analyze: async (input) => analyzeOffline(input) };
  if (!options.prompt) throw new Error('createAnalyzer: prompt is required for LLM analysis (loadAnalysisPrompt())');
  const prompt = options.prompt;
  const label = llm.model ? `${llm.name}:${llm.model}` : llm.name;
  const retries = options.maxInvalidRetries ?? 2;
  const structured = llm.structured.bind(llm);
  return {
    async analyze(input, signal) {
      const schema = responseSchema(input.outcomes);
      const system = renderSystemPrompt(prompt, input);
      const user = `Transcript:\n${renderTranscript(input)}`;
      let feedback: string | null = null;
      let retry: { answer: unknown; error: string } | undefined;
      // Every answer is billed, a refused one too.
      const usage: UsageItem[] = [];
      const onUsage = (u: LlmUsage) => usage.push(...llmUsageItems(llm.name, llm.model ?? '', u));
      for (let i = 0; i <= retries; i++) {
        const answer = await structured({
          system, user, schema, name: TOOL_NAME, strict: isStrictCompatible(schema), maxTokens: 1024, onUsage, ...(signal ? { signal } : {}), ...(retry ? { retry } : {}),
        });
        const checked = checkResponse(input.outcomes, answer);
        if (checked.ok) return { ...withHangupOnlyForCaller(toAnalysis(checked.value, label), input), usage };
        feedback = checked.error;
        retry = { answer, error: checked.error };
      }
      const fallback = analyzeOffline(input);
      return { ...fallback, usage, analyzer: `offline (fallback: ${label} answered invalid output ${retries + 1} times: ${feedback})`.slice(0, 500) };
    },
  };
}
