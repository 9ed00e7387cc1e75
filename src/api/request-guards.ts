/**
 * Checks every request's JSON body and query string before a route sees them (the body's text and value with
 * util/json-body.ts, which the bulk uploads' own threads use too):
 * - JSON nested deeper than MAX_BODY_DEPTH is refused by a linear scan before fastify's own (prototype-
 *   poisoning safe) parser runs. Deep nesting costs recursion wherever a value travels (validation,
 *   JSON.stringify, the database driver).
 * - A key named __proto__ (or constructor holding prototype), which fastify's parser refuses, is said as such
 *   with the object holding it, not as "not valid JSON" of a body that is.
 * - A body whose bytes are not UTF-8 is refused, not decoded with U+FFFD in their place (util/json-body.ts).
 * - A NUL character in any string or key of the body or the query is refused: PostgreSQL text cannot hold one,
 *   and no field of this API means one.
 * - So is an unpaired UTF-16 surrogate ("\ud800", which JSON's escapes allow): it is not Unicode text — jsonb
 *   refuses it, and a text column would store U+FFFD in its place, silently not what was sent.
 * - The REST API (/v1) takes JSON (and multipart uploads where a route reads a file): a form-encoded body, which
 *   the server parses for Twilio's webhooks, is a 415 there, and so is any other type sent to a JSON route; a body sent to a route that takes none is a 400 rather
 *   than ignored (its keys reached the audit log as "changed fields").
 * - A query or path value its schema reads as a number must be written as a decimal number: the validator turns
 *   text into a number with JavaScript's Number(), which also reads "Infinity" (and then skips the schema's bounds:
 *   `limit=Infinity` reached the database), "0x10", "0b1" and " 5".
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, ParleyError } from '../errors.js';
import { numberTextError } from './number-text.js';
import { findUnstorableText, nestingError, prototypeKeyError, unstorableError, unstorableTextError, utf8BodyText } from '../util/json-body.js';

function refuseUnexpectedBody(request: FastifyRequest): void {
  const type = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    throw new ParleyError('PARLEY_ERR_UNSUPPORTED_MEDIA_TYPE', 'The API takes JSON bodies (content-type: application/json)');
  }
  const schema = request.routeOptions.schema as { body?: unknown; consumes?: string[] } | undefined;
  // A route that names no other type takes JSON: a text/plain or multipart body there was parsed as something else
  // and refused as "body must be object", which does not say that the content-type was what was wrong.
  const hasBody = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
  if (hasBody && type !== '' && type !== 'application/json' && !schema?.consumes) {
    throw new ParleyError('PARLEY_ERR_UNSUPPORTED_MEDIA_TYPE', `This route takes JSON (content-type: application/json), not ${type.slice(0, 100)}`);
  }
  const body = request.body;
  const sent = body !== undefined && body !== null && !(typeof body === 'object' && Object.keys(body).length === 0);
  if (!sent || type !== 'application/json') return;
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
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const text = utf8BodyText(body as Buffer);
    if (typeof text !== 'string') {
      done(text, undefined);
      return;
    }
    const tooDeep = nestingError(text);
    if (tooDeep) {
      done(tooDeep, undefined);
      return;
    }
    void parse(request, text, (err, value) => {
      if (err) return done(prototypeKeyError(text) ?? err, undefined);
      const bad = unstorableTextError(text, value);
      if (bad) return done(bad, undefined);
      done(null, value);
    });
  });
  app.addHook('preValidation', async (request) => {
    const notANumber = numberTextError(request);
    if (notANumber) throw notANumber;
    if (request.url.startsWith('/v1/')) {
      refuseUnexpectedBody(request);
      omittedBodyIsEmpty(request);
    }
    if (!request.url.includes('%00')) return;
    const bad = findUnstorableText(request.query, 'querystring');
    if (bad) throw unstorableError(bad);
  });
}
