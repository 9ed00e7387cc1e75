/**
 * The tools an agent may call during a call. Real LLMs and the scenario engine see the same specs; a failing,
 * unknown or mis-called tool becomes an error result the LLM can react to — never an exception in the loop.
 */
import type { ToolSpec } from '../providers/types.js';
import type { CallContext, CallControl, Tool, ToolResult } from './tool-types.js';

export class ToolRegistry {
  private readonly tools = new Map<string, Tool>();

  constructor(tools: Tool[] = []) {
    for (const t of tools) this.register(t);
  }

  register(tool: Tool): this {
    this.tools.set(tool.spec.name, tool);
    return this;
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  specs(): ToolSpec[] {
    return [...this.tools.values()].map((t) => t.spec);
  }

  async call(name: string, args: unknown, ctx: CallContext, control: CallControl, signal: AbortSignal): Promise<ToolResult> {
    const tool = this.tools.get(name);
    if (!tool) return { content: { error: 'unknown_tool', message: `No tool named ${name}` } };
    const problem = checkArgs(tool.spec.parameters, args);
    if (problem) return { content: { error: 'invalid_arguments', message: problem } };
    try {
      return await tool.run(args as Record<string, unknown>, ctx, control, signal);
    } catch (err) {
      if (signal.aborted) return { content: { error: 'aborted' } };
      const message = err instanceof Error ? err.message : String(err);
      return { content: { error: 'tool_failed', message: message.slice(0, 300) } };
    }
  }
}

/** A light check of the JSON Schema subset tools use: object, required keys, primitive property types. */
function checkArgs(schema: Record<string, unknown>, args: unknown): string | null {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return 'arguments must be an object';
  const obj = args as Record<string, unknown>;
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  for (const key of required) if (obj[key] === undefined || obj[key] === null) return `missing argument: ${key}`;
  const props = (schema.properties ?? {}) as Record<string, { type?: string | string[] }>;
  for (const [key, value] of Object.entries(obj)) {
    const type = props[key]?.type;
    if (value === undefined || value === null || !type) continue;
    const types = Array.isArray(type) ? type : [type];
    if (!types.some((t) => matchesType(t, value))) return `argument ${key} must be ${types.join(' or ')}`;
  }
  return null;
}

function matchesType(type: string, value: unknown): boolean {
  switch (type) {
    case 'string': return typeof value === 'string';
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'integer': return Number.isInteger(value);
    case 'boolean': return typeof value === 'boolean';
    case 'array': return Array.isArray(value);
    case 'object': return typeof value === 'object' && !Array.isArray(value);
    default: return true;
  }
}
