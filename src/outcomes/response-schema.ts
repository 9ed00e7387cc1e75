/** The JSON Schema the analysis LLM must answer with, and its validator. */
import { Ajv, type ValidateFunction } from 'ajv';
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

const ajv = new Ajv({ strict: false, allErrors: true });
const cache = new Map<string, ValidateFunction>();

export function validatorFor(outcomes: ResolvedOutcomeConfig): ValidateFunction {
  const schema = responseSchema(outcomes);
  (schema.properties as Record<string, Record<string, unknown>>).confidence = { type: 'number', minimum: 0, maximum: 1 };
  (schema.properties as Record<string, Record<string, unknown>>).summary = { type: 'string', minLength: 1, maxLength: 4000 };
  const key = JSON.stringify(schema);
  let v = cache.get(key);
  if (!v) {
    v = ajv.compile(schema);
    if (cache.size > 200) cache.clear();
    cache.set(key, v);
  }
  return v;
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
