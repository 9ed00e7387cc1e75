/** The analysis prompt: prompts/analysis.md (also reachable as loadPrompt('analysis')), read once at start, filled per call. */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderPrompt } from '../prompts.js';
import type { AnalysisInput } from './types.js';

export const ANALYSIS_PROMPT_PATH = fileURLToPath(new URL('../../prompts/analysis.md', import.meta.url));

export function loadAnalysisPrompt(path = ANALYSIS_PROMPT_PATH): Promise<string> {
  return readFile(path, 'utf8');
}

export function renderSystemPrompt(template: string, input: AnalysisInput): string {
  const types = input.outcomes.types.map((t) => `  - ${t.name}${t.description ? `: ${t.description}` : ''}`).join('\n');
  const facts = [
    input.bookingMade ? '- A booking was created during this call.' : '- No booking references this call.',
    input.callerNumber ? `- The caller's number is ${input.callerNumber}.` : '- The caller\'s number is unknown.',
  ].join('\n');
  return renderPrompt(template, { language: input.language === 'ru' ? 'Russian' : 'English', outcome_types: types, facts });
}

/**
 * The most of a transcript the analysis sends (~25k tokens): a four-hour call's transcript (~200k characters)
 * would cost much and overflow smaller models' contexts, and the analysis job would fail on every retry.
 */
export const ANALYSIS_TRANSCRIPT_MAX_CHARS = 100_000;

/**
 * The transcript as the LLM reads it: one line per turn, tool turns marked. Past `maxChars`, the call's start
 * (why the caller rang: a third of the budget) and its end (how it was settled: the rest) are kept whole, turn by
 * turn, with one line saying how many turns in between were left out.
 */
export function renderTranscript(input: AnalysisInput, maxChars = ANALYSIS_TRANSCRIPT_MAX_CHARS): string {
  if (input.transcript.length === 0) return '(empty transcript: nobody spoke)';
  const lines = input.transcript.map((t) => {
    const tool = t.name ?? t.tool;
    return `${t.role}${tool ? ` [${tool}]` : ''}: ${t.text ?? ''}`;
  });
  const total = lines.reduce((n, l) => n + l.length + 1, 0);
  if (total <= maxChars) return lines.join('\n');
  let head = 0;
  for (let used = 0; head < lines.length && used + lines[head]!.length + 1 <= maxChars / 3; head++) used += lines[head]!.length + 1;
  let tail = lines.length;
  for (let used = 0; tail > head && used + lines[tail - 1]!.length + 1 <= maxChars - maxChars / 3; tail--) used += lines[tail - 1]!.length + 1;
  const leftOut = lines.slice(head, tail);
  const gap = `[… ${leftOut.length} turns (${leftOut.reduce((n, l) => n + l.length + 1, 0)} characters) of this long call left out …]`;
  return [...lines.slice(0, head), gap, ...lines.slice(tail)].join('\n');
}
