/** The analysis prompt: prompts/analysis.md (also reachable as loadPrompt('analysis')), read once at start, filled per call. */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderPrompt } from '../prompts.js';
import { endingFact } from './offline-analyzer.js';
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
    `- How the call ended: ${endingFact(input)}`,
  ].join('\n');
  return renderPrompt(template, { language: input.language === 'ru' ? 'Russian' : 'English', outcome_types: types, facts });
}

/**
 * The most of a transcript the analysis sends (~25k tokens): a four-hour call's transcript (~200k characters)
 * would cost much and overflow smaller models' contexts, and the analysis job would fail on every retry.
 */
export const ANALYSIS_TRANSCRIPT_MAX_CHARS = 100_000;

/** Room kept for the line that counts what was left out. */
const GAP_LINE_CHARS = 120;

/**
 * The transcript as the LLM reads it: one line per turn, tool turns marked. Past `maxChars`, the call's start
 * (why the caller rang: a third of the budget) and its end (how it was settled: the rest) are kept, turn by turn,
 * with one line saying how many turns in between were left out; a turn longer than a sixth of the budget is cut
 * short, so one long turn cannot crowd out the start or the end.
 */
export function renderTranscript(input: AnalysisInput, maxChars = ANALYSIS_TRANSCRIPT_MAX_CHARS): string {
  if (input.transcript.length === 0) return '(empty transcript: nobody spoke)';
  const lines = input.transcript.map((t) => {
    const tool = t.name ?? t.tool;
    return `${t.role}${tool ? ` [${tool}]` : ''}: ${t.text ?? ''}`;
  });
  const whole = lines.join('\n');
  if (whole.length <= maxChars) return whole;
  const cap = Math.floor(maxChars / 6);
  const kept = lines.map((l) => (l.length > cap ? `${l.slice(0, cap - 1)}…` : l));
  const budget = maxChars - GAP_LINE_CHARS;
  let used = 0;
  let head = 0;
  while (head < kept.length && used + kept[head]!.length + 1 <= budget / 3) used += kept[head++]!.length + 1;
  let tail = kept.length;
  while (tail > head && used + kept[tail - 1]!.length + 1 <= budget) used += kept[--tail]!.length + 1;
  if (tail === head) return kept.join('\n');
  const leftOut = lines.slice(head, tail);
  const gap = `[… ${leftOut.length} turns (${leftOut.reduce((n, l) => n + l.length + 1, 0)} characters) of this long call left out …]`;
  return [...kept.slice(0, head), gap, ...kept.slice(tail)].join('\n');
}
