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

/** The transcript as the LLM reads it: one line per turn, tool turns marked. */
export function renderTranscript(input: AnalysisInput): string {
  if (input.transcript.length === 0) return '(empty transcript: nobody spoke)';
  return input.transcript
    .map((t) => {
      const tool = t.name ?? t.tool;
      return `${t.role}${tool ? ` [${tool}]` : ''}: ${t.text ?? ''}`;
    })
    .join('\n');
}
