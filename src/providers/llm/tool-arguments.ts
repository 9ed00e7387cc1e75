import type { ToolCall } from '../types.js';

/** How much of a model's unreadable arguments the error result quotes back to it. */
const QUOTED_ARGUMENTS_CHARS = 200;

/**
 * A tool call from the model's streamed JSON arguments. Arguments that are not a JSON object (cut off, unquoted,
 * an array) are the model's slip, not a broken stream: the call keeps why in `invalidArguments`, the agent answers
 * it with an error result and the model can call again (src/call/agent-turn.ts).
 */
export function toolCallFrom(id: string, name: string, json: string): ToolCall {
  if (!json.trim()) return { id, name, arguments: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return { id, name, arguments: {}, invalidArguments: `the arguments are not valid JSON: ${quote(json)}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { id, name, arguments: {}, invalidArguments: `the arguments must be a JSON object, not ${quote(json)}` };
  }
  return { id, name, arguments: parsed as Record<string, unknown> };
}

function quote(json: string): string {
  return json.length > QUOTED_ARGUMENTS_CHARS ? `${json.slice(0, QUOTED_ARGUMENTS_CHARS)}…` : json;
}
