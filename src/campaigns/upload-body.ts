/**
 * The JSON body of a bulk upload route — contacts (POST /v1/campaigns/{id}/contacts) or do-not-call numbers
 * (POST /v1/dnc), up to MAX_ROWS rows, ~3 MB of JSON — read on the upload's own thread (upload-check.ts), not on
 * the event loop that carries calls: parsing and validating 10,000 rows there held it 30–130 ms. The route takes
 * the body as text and gives its schema to fastify only to document it, and here to check it. Every check the API
 * makes of a JSON body is made here, with the same answers: nesting depth, JSON without prototype keys, storable
 * text (util/json-body.ts, as api/request-guards.ts), then the schema, validated as app.ts validates JSON bodies.
 */
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { TSchema } from '@sinclair/typebox';
import type { ErrorObject } from 'ajv';
import { badRequest, type ParleyError } from '../errors.js';
import { EMPTY_JSON_BODY, isPrototypeKey, nestingError, prototypeKeyError, unstorableTextError } from '../util/json-body.js';

/** Why a body was refused: a plain 400 (not JSON, too deep, unstorable text), or its schema's errors (Ajv's). */
export type BodyRefusal = { message: string; details?: Record<string, unknown> | undefined } | { validation: ErrorObject[] };

type BodyRead = { ok: true; value: unknown } | { ok: false; refusal: BodyRefusal };

/** JSON.parse that refuses a `__proto__` key and a `constructor` with a `prototype`, as fastify's parser does. */
function parseWithoutPrototypeKeys(text: string): unknown {
  return JSON.parse(text, (key, value: unknown) => {
    if (isPrototypeKey(key, value)) throw new SyntaxError('forbidden prototype property');
    return value;
  });
}

const refused = (err: ParleyError): BodyRead => ({ ok: false, refusal: { message: err.message, details: err.details } });

/**
 * The body's text (undefined when none was sent) parsed and checked against `schema` (built here, in the thread,
 * with the options app.ts gives fastify for JSON bodies: validated as sent, unknown fields an error), or why it was
 * refused — what fastify and the request guards would have answered (bodyRefusalError makes that error).
 */
export function readJsonBody(text: string | undefined, schema: TSchema): BodyRead {
  let value: unknown = null; // as fastify validates a missing body: "body must be object"
  if (text !== undefined) {
    if (text.trim() === '') return refused(badRequest(EMPTY_JSON_BODY));
    const tooDeep = nestingError(text);
    if (tooDeep) return refused(tooDeep);
    try {
      value = parseWithoutPrototypeKeys(text);
    } catch {
      return refused(prototypeKeyError(text) ?? badRequest('Body is not valid JSON'));
    }
    const unstorable = unstorableTextError(text, value);
    if (unstorable) return refused(unstorable);
  }
  const compile = AjvCompiler()({}, { customOptions: { removeAdditional: false, useDefaults: true, allErrors: false, coerceTypes: false } });
  const validate = compile({ schema, method: 'POST', url: '', httpPart: 'body' });
  if (!validate(value)) return { ok: false, refusal: { validation: (validate.errors ?? []) as ErrorObject[] } };
  return { ok: true, value };
}

/**
 * The error a refusal is answered with: a plain 400, or a schema failure shaped as fastify's own (its message,
 * `validation` and `validationContext`), which the API's error handler answers as it answers every schema failure.
 */
export function bodyRefusalError(refusal: BodyRefusal): Error {
  if (!('validation' in refusal)) return badRequest(refusal.message, refusal.details);
  const message = refusal.validation.map((e) => `body${e.instancePath} ${e.message}`).join(', ');
  return Object.assign(new Error(message), { statusCode: 400, code: 'FST_ERR_VALIDATION', validation: refusal.validation, validationContext: 'body' });
}
