/**
 * Checks every request's JSON body and query string before a route sees them:
 * - JSON nested deeper than MAX_BODY_DEPTH is refused by a linear scan before fastify's own (prototype-
 *   poisoning safe) parser runs. Deep nesting costs recursion wherever a value travels (validation,
 *   JSON.stringify, the database driver).
 * - A NUL character in any string or key of the body or the query is refused: PostgreSQL text cannot hold one,
 *   and no field of this API means one.
 * - So is an unpaired UTF-16 surrogate ("\ud800", which JSON's escapes allow): it is not Unicode text — jsonb
 *   refuses it, and a text column would store U+FFFD in its place, silently not what was sent.
 * - The REST API (/v1) takes JSON (and multipart uploads where a route reads a file): a form-encoded body, which
 *   the server parses for Twilio's webhooks, is a 415 there; a body sent to a route that takes none is a 400 rather
 *   than ignored (its keys reached the audit log as "changed fields").
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, ParleyError } from '../errors.js';
import { LONE_SURROGATE } from '../util/storable-text.js';

export const MAX_BODY_DEPTH = 32;

/** The deepest nesting of objects and arrays in JSON text, stopping early once past `limit`. Strings are skipped. */
export function jsonNestingDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** How JSON text writes a surrogate (raw UTF-8 cannot hold an unpaired one): the body is walked only if this appears. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** What makes a string unstorable as text, or null. */
function textProblem(s: string): string | null {
  if (s.includes('\u0000')) return 'a NUL character';
  if (LONE_SURROGATE.test(s)) return 'an unpaired UTF-16 surrogate (not valid Unicode text)';
  return null;
}

/**
 * The first string or key that cannot be stored as text (a NUL, an unpaired surrogate): its path and why, or
 * null. Iterative: depth is already bounded.
 */
export function findUnstorableText(root: unknown, rootPath: string): { field: string; problem: string } | null {
  const stack: [unknown, string][] = [[root, rootPath]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      const problem = textProblem(v);
      if (problem) return { field: path, problem };
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push([x, `${path}.${i}`]));
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const problem = textProblem(k);
        if (problem) return { field: path, problem: `a key with ${problem}` };
        stack.push([x, `${path}.${k}`]);
      }
    }
  }
  return null;
}

const unstorableError = ({ field, problem }: { field: string; problem: string }) => badRequest(`${field} contains ${problem}`, { field });

function refuseUnexpectedBody(request: FastifyRequest): void {
  const type = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    throw new ParleyError('PARLEY_ERR_UNSUPPORTED_MEDIA_TYPE', 'The API takes JSON bodies (content-type: application/json)');
  }
  const body = request.body;
  const sent = body !== undefined && body !== null && !(typeof body === 'object' && Object.keys(body).length === 0);
  if (!sent || type !== 'application/json') return;
  const schema = request.routeOptions.schema as { body?: unknown; consumes?: string[] } | undefined;
  // An upload route (multipart, CSV) names what it takes: JSON is the wrong type there, not a body too many.
  if (schema?.consumes && !schema.consumes.includes('application/json')) {
    throw new ParleyError('PARLEY_ERR_UNSUPPORTED_MEDIA_TYPE', `This route takes ${schema.consumes.join(' or ')}`);
  }
  if (!schema?.body) throw badRequest('This route takes no body');
}

/**
 * A route whose body is all optional (`POST /v1/bookings/{id}/cancel` with an optional reason) takes no body at all
 * as `{}`, as the routes without a body do — not "body must be object".
 */
function omittedBodyIsEmpty(request: FastifyRequest): void {
  if (request.body !== undefined && request.body !== null) return;
  const body = (request.routeOptions.schema as { body?: { type?: unknown; required?: unknown[] } } | undefined)?.body;
  if (body?.type === 'object' && !(body.required?.length)) request.body = {};
}

export function installRequestGuards(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (jsonNestingDepth(text, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
      done(badRequest(`Body is nested deeper than ${MAX_BODY_DEPTH} levels`), undefined);
      return;
    }
    void parse(request, text, (err, value) => {
      if (err) return done(err, undefined);
      // In JSON text a NUL or an unpaired surrogate can only be written as an escape: walk the value only then.
      const bad = text.includes('u0000') || SURROGATE_ESCAPE.test(text) ? findUnstorableText(value, 'body') : null;
      if (bad) return done(unstorableError(bad), undefined);
      done(null, value);
    });
  });
  app.addHook('preValidation', async (request) => {
    if (request.url.startsWith('/v1/')) {
      refuseUnexpectedBody(request);
      omittedBodyIsEmpty(request);
    }
    if (!request.url.includes('%00')) return;
    const bad = findUnstorableText(request.query, 'querystring');
    if (bad) throw unstorableError(bad);
  });
}
