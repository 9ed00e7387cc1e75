/**
 * The tools an agent may call during a call. Real LLMs and the scenario engine see the same specs; a failing,
 * unknown or mis-called tool becomes an error result the LLM can react to — never an exception in the loop.
 *
 * Arguments are checked against the tool's whole JSON Schema (Ajv: types, lengths, enums, patterns, additional
 * properties) before the tool runs, so a 300-character name or an unknown field is the model's slip to correct,
 * not a database error after the caller has said yes. A tool that fails tells the model only that it failed (and a
 * ParleyError's own message, written for people): driver and network errors stay in the server's log, not in a
 * third party's prompt.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { ParleyError } from '../errors.js';
import type { ToolSpec } from '../providers/types.js';
import type { CallContext, CallControl, Tool, ToolResult } from './tool-types.js';

export interface ToolRegistryOptions {
  /** Hears a tool's failure (the exception the model is not shown): the call's log. */
  onFailure?: (tool: string, err: unknown) => void;
}

export class ToolRegistry {
  private readonly tools = new Map<string, Tool>();

  constructor(tools: Tool[] = [], private readonly options: ToolRegistryOptions = {}) {
    for (const t of tools) this.register(t);
  }

  register(tool: Tool): this {
    this.tools.set(tool.spec.name, tool);
    return this;
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  /** Whether the tool only looks something up (Tool.lookupOnly); an unknown one does not. */
  lookupOnly(name: string): boolean {
    return this.tools.get(name)?.lookupOnly === true;
  }

  specs(): ToolSpec[] {
    return [...this.tools.values()].map((t) => t.spec);
  }

  async call(name: string, args: unknown, ctx: CallContext, control: CallControl, signal: AbortSignal): Promise<ToolResult> {
    const tool = this.tools.get(name);
    if (!tool) return { content: { error: 'unknown_tool', message: `No tool named ${name}` } };
    const problem = argumentsProblem(tool.spec.parameters, args);
    if (problem) return { content: { error: 'invalid_arguments', message: problem } };
    try {
      return await tool.run(args as Record<string, unknown>, ctx, control, signal);
    } catch (err) {
      if (signal.aborted) return { content: { error: 'aborted' } };
      this.options.onFailure?.(name, err);
      const message = err instanceof ParleyError ? err.message.slice(0, 300) : 'The tool could not complete just now; it may work if tried again.';
      return { content: { error: 'tool_failed', message } };
    }
  }
}

/** One Ajv for the tools' schemas: they are the server's own (not a company's), a few dozen at most. */
const ajv = new Ajv({ strict: false, allErrors: false });
const validators = new Map<string, ValidateFunction>();

function validatorOf(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(schema);
    // Tools are built per server, some per call from the same code: the distinct schemas stay few.
    if (validators.size >= 500) validators.clear();
    validators.set(key, validate);
  }
  return validate;
}

/**
 * Why `args` do not fit the tool's schema, or null. A null argument counts as left out (models send null for the
 * optional ones): a required one is missing, an optional one is not checked.
 */
export function argumentsProblem(schema: Record<string, unknown>, args: unknown): string | null {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return 'arguments must be an object';
  const given = Object.fromEntries(Object.entries(args).filter(([, v]) => v !== null && v !== undefined));
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  for (const key of required) if (!(key in given)) return `missing argument: ${key}`;
  const validate = validatorOf(schema);
  if (validate(given)) return null;
  return ajv.errorsText(validate.errors, { dataVar: 'arguments' }).slice(0, 300);
}
