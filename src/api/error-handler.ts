/**
 * Every error leaves as { "error": { "code", "message" } } with a stable code. Stack traces and SQL never
 * reach a client; unexpected errors are logged with the request id and answered with a generic 500.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isOutOfResources, QueryDeadlineError, UnsafeParameterError } from '../db/param-guard.js';
import { isDatabaseUnreachable } from '../db/retry.js';
import { ParleyError, type ErrorCode } from '../errors.js';
import { trackAllowedMethods } from './method-not-allowed.js';
import { EMPTY_JSON_BODY } from '../util/json-body.js';
import { validationField, validationMessage, type SchemaError } from './validation-message.js';

interface Mapped {
  status: number;
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

function mapError(err: FastifyError & { code?: string; validation?: unknown[]; validationContext?: string }): Mapped | null {
  if (err instanceof ParleyError) return { status: err.status, code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  // A value the route should have refused reached the database boundary (param-guard.ts) or the server's type
  // checks (SQLSTATE class 22, data exception): the request is at fault, and nothing was written.
  if (err instanceof UnsafeParameterError) return { status: 400, code: 'PARLEY_ERR_VALIDATION', message: `A value has the wrong format: ${err.reason}` };
  if (typeof err.code === 'string' && /^22[0-9A-Z]{3}$/.test(err.code)) {
    return { status: 400, code: 'PARLEY_ERR_VALIDATION', message: 'A value has the wrong format or is out of range' };
  }
  // Deadlocks and serialisation failures are retried where they can happen (db/retry.ts); one that still
  // surfaces is a busy database, not a server bug.
  if (err.code === '40P01' || err.code === '40001') return { status: 503, code: 'PARLEY_ERR_UNAVAILABLE', message: 'The database is busy; retry the request' };
  // SQLSTATE class 53: the database is out of disk, memory or connections. Nothing is wrong with the request, and
  // the same request may succeed once an operator has made room.
  if (isOutOfResources(err)) return { status: 503, code: 'PARLEY_ERR_UNAVAILABLE', message: 'The database is out of resources (disk, memory or connections); retry later' };
  // No answer within the query deadline (param-guard.ts), or a statement the server cut at it (57014, SET LOCAL
  // statement_timeout): the database may be stalled or overloaded, or this request's work too heavy for the
  // deadline. Which is not known here, so the answer does not claim the database is down (the log says which query).
  if (err instanceof QueryDeadlineError || err.code === '57014') {
    return { status: 503, code: 'PARLEY_ERR_UNAVAILABLE', message: 'The database did not finish this request\'s work within the time allowed; retry later' };
  }
  // The database went away (refused, reset, closed, shutting down): the request may be retried once it is back.
  if (isDatabaseUnreachable(err)) return { status: 503, code: 'PARLEY_ERR_UNAVAILABLE', message: 'The database is unavailable; retry shortly' };
  if (err.validation) {
    const context = err.validationContext ?? 'body';
    const errors = err.validation as SchemaError[];
    return { status: 400, code: 'PARLEY_ERR_VALIDATION', message: validationMessage(errors, context), details: { field: validationField(errors, context) } };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_FILES_LIMIT':
      return { status: 413, code: 'PARLEY_ERR_PAYLOAD_TOO_LARGE', message: 'Request body is too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return { status: 415, code: 'PARLEY_ERR_UNSUPPORTED_MEDIA_TYPE', message: 'Unsupported content type' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'PARLEY_ERR_VALIDATION', message: EMPTY_JSON_BODY };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'PARLEY_ERR_VALIDATION', message: 'Body is not valid JSON' };
    case '23505':
      return { status: 409, code: 'PARLEY_ERR_CONFLICT', message: 'A resource with these unique values already exists' };
  }
  if (err.statusCode === 429) return { status: 429, code: 'PARLEY_ERR_RATE_LIMITED', message: 'Too many requests; retry later' };
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, code: 'PARLEY_ERR_VALIDATION', message: err.message };
  }
  return null;
}

/**
 * The router's own refusals (a path that is not valid UTF-8 once decoded, a path parameter over Fastify's length
 * limit), which never reach the error handler: the same shape as every other error. Given to Fastify as its
 * `frameworkErrors` option.
 */
export function sendFrameworkError(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const tooLong = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
  void reply.status(tooLong ? 414 : 400).send({
    error: { code: 'PARLEY_ERR_VALIDATION', message: tooLong ? 'A path parameter is too long' : 'The path is not a valid URL' },
  });
}

/** A database out of resources fails every write alike: its error is logged once per this long, with a count. */
export const OUT_OF_RESOURCES_LOG_EVERY_MS = 60_000;

/** Logs the first out-of-resources error, then one per OUT_OF_RESOURCES_LOG_EVERY_MS saying how many came since. */
function outOfResourcesLog(): (log: FastifyRequest['log'], err: unknown) => void {
  let loggedAt = -Infinity;
  let since = 0;
  return (log, err) => {
    since++;
    if (Date.now() - loggedAt < OUT_OF_RESOURCES_LOG_EVERY_MS) return;
    log.error({ err, failed_requests: since }, 'the database is out of resources (SQLSTATE class 53): requests fail with 503 until an operator makes room');
    loggedAt = Date.now();
    since = 0;
  };
}

export function installErrorHandler(app: FastifyInstance): void {
  const allowedMethods = trackAllowedMethods(app);
  const logOutOfResources = outOfResourcesLog();
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const mapped = mapError(err);
    if (!mapped) {
      request.log.error({ err }, 'unhandled error');
      return reply.status(500).send({ error: { code: 'PARLEY_ERR_INTERNAL', message: 'Internal error' } });
    }
    if (isOutOfResources(err)) logOutOfResources(request.log, err);
    else if (mapped.status >= 500) request.log.error({ err }, mapped.message);
    // A refusal that knows when to come back (a 429 of a per-company limit, a 503 for want of a turn) says so.
    const retryAfter = mapped.details?.retry_after_s;
    if (typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
    return reply.status(mapped.status).send({ error: { code: mapped.code, message: mapped.message, ...(mapped.details ? { details: mapped.details } : {}) } });
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const allowed = allowedMethods(request.method, request.url);
    if (allowed.length > 0) {
      return reply.status(405).header('allow', allowed.join(', ')).send({
        error: { code: 'PARLEY_ERR_METHOD_NOT_ALLOWED', message: `${path} does not take ${request.method}; it takes ${allowed.join(', ')}` },
      });
    }
    return reply.status(404).send({ error: { code: 'PARLEY_ERR_NOT_FOUND', message: `Route ${request.method} ${path} not found` } });
  });
}
