/**
 * Checks every request's JSON body and query string before a route sees them:
 * - JSON nested deeper than MAX_BODY_DEPTH is refused by a linear scan before fastify's own (prototype-
 *   poisoning safe) parser runs. Deep nesting costs recursion wherever a value travels (validation,
 *   JSON.stringify, the database driver).
 * - A NUL character in any string or key of the body or the query is refused: PostgreSQL text cannot hold one,
 *   and no field of this API means one.
 */
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../errors.js';

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

/** The path to the first string or key holding a NUL character, or null. Iterative: depth is already bounded. */
export function findNul(root: unknown, rootPath: string): string | null {
  const stack: [unknown, string][] = [[root, rootPath]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return path;
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push([x, `${path}.${i}`]));
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k.includes('\u0000')) return path;
        stack.push([x, `${path}.${k}`]);
      }
    }
  }
  return null;
}

const nulError = (field: string) => badRequest(`${field} contains a NUL character`, { field });

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
      // In JSON text a NUL can only be written as the escape \u0000: walk the value only when that appears.
      const nulAt = text.includes('u0000') ? findNul(value, 'body') : null;
      if (nulAt) return done(nulError(nulAt), undefined);
      done(null, value);
    });
  });
  app.addHook('preValidation', async (request) => {
    if (!request.url.includes('%00')) return;
    const nulAt = findNul(request.query, 'querystring');
    if (nulAt) throw nulError(nulAt);
  });
}
