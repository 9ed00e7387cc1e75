/**
 * Query and path values arrive as text, and the request validator turns the ones its schema types as numbers into
 * numbers with JavaScript's Number(): that reads far more than decimal numbers — "Infinity" (which then passes the
 * schema's minimum and maximum: Ajv checks bounds on finite numbers only), "0x10", "0b101", " 5". A value of such a
 * field must be a decimal number that is finite ("1e400" is Infinity too); the schema's own checks (integer, bounds)
 * then apply as they say.
 */
import type { FastifyRequest } from 'fastify';
import { badRequest, type ParleyError } from '../errors.js';

const DECIMAL = /^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

type JsonSchema = { type?: unknown; items?: JsonSchema; properties?: Record<string, JsonSchema>; anyOf?: JsonSchema[] };

const isNumeric = (s: JsonSchema | undefined): boolean =>
  !!s && (s.type === 'integer' || s.type === 'number' || isNumeric(s.items) || (s.anyOf ?? []).some(isNumeric));

/** The names of an object schema's numeric properties (arrays of numbers included), worked out once per schema. */
const numericNames = new WeakMap<object, string[]>();
function numericNamesOf(schema: JsonSchema): string[] {
  let names = numericNames.get(schema);
  if (!names) {
    names = Object.entries(schema.properties ?? {}).filter(([, s]) => isNumeric(s)).map(([name]) => name);
    numericNames.set(schema, names);
  }
  return names;
}

/** A 400 naming the first query or path value that its schema reads as a number and that is not a decimal number. */
export function numberTextError(request: FastifyRequest): ParleyError | null {
  const schema = request.routeOptions.schema as { querystring?: JsonSchema; params?: JsonSchema } | undefined;
  for (const [part, values] of [['querystring', request.query], ['params', request.params]] as const) {
    const partSchema = schema?.[part];
    if (!partSchema || !values || typeof values !== 'object') continue;
    for (const name of numericNamesOf(partSchema)) {
      const value: unknown = (values as Record<string, unknown>)[name];
      for (const v of Array.isArray(value) ? value : [value]) {
        // "1e400" is decimal notation too, but Number() reads it as Infinity: past the bounds again.
        if (typeof v === 'string' && (!DECIMAL.test(v) || !Number.isFinite(Number(v)))) {
          return badRequest(`${part}.${name} must be a decimal number`, { field: `${part}.${name}` });
        }
      }
    }
  }
  return null;
}
