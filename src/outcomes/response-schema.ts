/** The JSON Schema the analysis LLM must answer with, and its validator. */
import { Ajv, type ValidateFunction } from 'ajv';
import { RE2JS } from 're2js';
import type { ResolvedOutcomeConfig } from './defaults.js';

export interface AnalysisResponse {
  summary: string;
  outcome_type: string;
  confidence: number;
  extracted_data: Record<string, unknown>;
}

/** The schema sent to the model (OpenAI strict mode rejects minimum/maximum, so the bounds are checked here). */
export function responseSchema(outcomes: ResolvedOutcomeConfig): Record<string, unknown> {
  return {
    type: 'object',
    properties: {
      summary: { type: 'string' },
      outcome_type: { type: 'string', enum: outcomes.types.map((t) => t.name) },
      confidence: { type: 'number' },
      extracted_data: outcomes.extractionSchema,
    },
    required: ['summary', 'outcome_type', 'confidence', 'extracted_data'],
    additionalProperties: false,
  };
}

/** OpenAI strict mode needs every property required and no additional properties at each object level. */
export function isStrictCompatible(schema: Record<string, unknown>): boolean {
  if (schema.type !== 'object' && !(Array.isArray(schema.type) && schema.type.includes('object'))) return true;
  const props = (schema.properties as Record<string, Record<string, unknown>> | undefined) ?? {};
  const required = new Set((schema.required as string[] | undefined) ?? []);
  if (schema.additionalProperties !== false) return false;
  return Object.entries(props).every(([k, v]) => required.has(k) && isStrictCompatible(v));
}

/** Only for errorsText (stateless); every schema is compiled by an Ajv of its own (compile below). */
const ajv = new Ajv({ strict: false, allErrors: true });
const cache = new Map<string, ValidateFunction>();

/**
 * Each bot's schema gets a fresh Ajv: an instance remembers every schema it compiled (and every $id in them), so a
 * shared one would let one company's `$ref` reach another company's `$id` (or fail on it), and would grow for as
 * long as the process runs. A $ref therefore resolves only inside the bot's own schema.
 */
function compile(schema: Record<string, unknown>): ValidateFunction {
  return new Ajv({ strict: false, allErrors: true, code: { regExp: linearRegExp } }).compile(schema);
}

/**
 * Ajv builds each `pattern` / `patternProperties` regular expression with this. A company writes these patterns,
 * and an analysis answer is checked against them on the server's event loop, where a backtracking pattern
 * (`^(a+)+$`, `^(\w|\d)*!$`) can run for minutes on one long string and stall every call. RE2JS (a port of RE2)
 * matches in time linear in the input, whatever the pattern; what RE2 cannot do in linear time (back-references,
 * lookaround) does not compile, so such a schema is a 400 when the bot is saved.
 */
const linearRegExp = Object.assign(
  (pattern: string): { test(s: string): boolean; toString(): string } => {
    const re = RE2JS.compile(pattern);
    return { test: (s) => re.test(s), toString: () => `/${pattern}/` };
  },
  { code: 'require("re2js").RE2JS.compile' },
);

function validationSchema(outcomes: ResolvedOutcomeConfig): Record<string, unknown> {
  const schema = responseSchema(outcomes);
  (schema.properties as Record<string, Record<string, unknown>>).confidence = { type: 'number', minimum: 0, maximum: 1 };
  (schema.properties as Record<string, Record<string, unknown>>).summary = { type: 'string', minLength: 1, maxLength: 4000 };
  return schema;
}

export function validatorFor(outcomes: ResolvedOutcomeConfig): ValidateFunction {
  const schema = validationSchema(outcomes);
  const key = JSON.stringify(schema);
  let v = cache.get(key);
  if (!v) {
    v = compile(schema);
    if (cache.size > 200) cache.clear();
    cache.set(key, v);
  }
  return v;
}

/**
 * Why a bot's extraction schema could not be used to check an analysis (not JSON Schema, a pattern that is not a
 * regular expression, a $ref outside it…), or null when it compiles. Checked when the bot is saved, so a schema
 * that would fail every post-call analysis is a 400 then, not a failing job later.
 */
export function extractionSchemaProblem(extractionSchema: Record<string, unknown>): string | null {
  try {
    compile(validationSchema({ types: [{ name: 'other' }], extractionSchema }));
    return null;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // Paths in Ajv's message are relative to the whole analysis answer; name them from the extraction schema.
    return message.replace(/data\/properties\/extracted_data/g, 'extractionSchema').split('\n')[0]!.slice(0, 300);
  }
}

/** Parses and validates a model answer; returns the value or the reason it is invalid. */
export function checkResponse(outcomes: ResolvedOutcomeConfig, raw: unknown): { ok: true; value: AnalysisResponse } | { ok: false; error: string } {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      return { ok: false, error: 'the answer is not valid JSON' };
    }
  }
  const validate = validatorFor(outcomes);
  if (!validate(value)) return { ok: false, error: ajv.errorsText(validate.errors, { dataVar: 'answer' }) };
  return { ok: true, value: value as AnalysisResponse };
}
