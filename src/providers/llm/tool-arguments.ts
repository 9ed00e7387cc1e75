import { ParleyError } from '../../errors.js';

/** A tool call's streamed JSON arguments, parsed and checked to be an object; a vendor slip is an upstream error. */
export function parseToolArguments(json: string, vendor: string, tool: string): Record<string, unknown> {
  let parsed: unknown = {};
  if (json.trim()) {
    try {
      parsed = JSON.parse(json);
    } catch {
      throw new ParleyError('PARLEY_ERR_UPSTREAM', `${vendor} returned invalid JSON arguments for tool ${tool}`);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ParleyError('PARLEY_ERR_UPSTREAM', `${vendor} returned non-object arguments for tool ${tool}`);
  }
  return parsed as Record<string, unknown>;
}
