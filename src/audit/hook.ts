/**
 * The audit log's one writer for requests: a hook on /v1 that records every successful mutating request
 * (POST, PUT, PATCH, DELETE answered 2xx) — who (API key id or 'admin'), what (method and route pattern), which
 * resource (the route's :id-like parameter, else the id the response created), which fields the body set (names
 * only, never values), request id, client IP, time. Every route is covered by construction; a route adds detail
 * with `auditDetails(request, {...})` (counts of what an erasure removed, an export's range) or records a read
 * that matters (an export) with `auditRead(request)`.
 */
import { isUuid } from '../util/uuid.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Db } from '../db/sql.js';
import { hashNumber } from './number-hash.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const MAX_FIELDS = 100;

declare module 'fastify' {
  interface FastifyRequest {
    /** Extra audit detail a route adds (never secrets, never transcript text). */
    auditDetails?: Record<string, unknown>;
    /** Record this request even though it is a read (exports). */
    auditRead?: boolean;
    /** The id of what a create made, read from the response. */
    auditCreatedId?: string;
  }
  interface FastifyContextConfig {
    /**
     * The route's :number is a person's phone number (a callee's consent, a do-not-call entry, an erasure): the
     * append-only log keeps its keyed hash (number-hash.ts), never the number, so an erasure leaves no copy behind in it.
     */
    auditHashesNumber?: boolean;
  }
}

export function auditDetails(request: FastifyRequest, details: Record<string, unknown>): void {
  request.auditDetails = { ...request.auditDetails, ...details };
}

export function auditRead(request: FastifyRequest): void {
  request.auditRead = true;
}

/** Field names a body sets: top-level keys, and one level into plain objects (config.greeting). */
export function changedFields(body: unknown): string[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (out.length >= MAX_FIELDS) break;
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
      for (const sub of Object.keys(v)) out.push(`${k}.${sub}`.slice(0, 200));
    } else out.push(k.slice(0, 200));
  }
  return out.slice(0, MAX_FIELDS).sort();
}

const ID_PARAMS = ['id', 'number', 'botId', 'documentId', 'bookingId', 'callId'];

function resourceIdOf(request: FastifyRequest, numberHashKey: Buffer): string | null {
  const params = (request.params ?? {}) as Record<string, unknown>;
  if (request.routeOptions.config.auditHashesNumber && typeof params.number === 'string') return hashNumber(params.number, numberHashKey);
  for (const name of ID_PARAMS) {
    const v = params[name];
    if (typeof v === 'string' && v) return v.slice(0, 200);
  }
  for (const v of Object.values(params)) if (typeof v === 'string' && v) return v.slice(0, 200);
  return request.auditCreatedId ?? null;
}

/** The company an admin request is about: /admin/companies/:id, a body's company_id, or the company it created. */
function adminCompanyOf(request: FastifyRequest): string | null {
  const params = (request.params ?? {}) as Record<string, unknown>;
  const body = (request.body ?? {}) as Record<string, unknown>;
  const candidates = [
    request.routeOptions.url?.startsWith('/v1/admin/companies/:id') ? params.id : undefined,
    body.company_id,
    request.routeOptions.url === '/v1/admin/companies' ? request.auditCreatedId : undefined,
  ];
  for (const c of candidates) if (isUuid(c)) return c;
  return null;
}

export function installAuditLog(app: FastifyInstance, deps: { sql: Db; numberHashKey: Buffer }): void {
  const wanted = (request: FastifyRequest, statusCode: number): boolean =>
    statusCode >= 200 && statusCode < 300 && (MUTATING.has(request.method) || request.auditRead === true) && Boolean(request.routeOptions.url);

  // Written before the answer leaves (onSend), so an entry exists for every change a client saw succeed.
  app.addHook('onSend', async (request, reply, payload) => {
    if (!wanted(request, reply.statusCode)) return payload;
    // The id a create made: read from the JSON it answers (only `id`, or `company.id` for a new company).
    if (request.method === 'POST' && typeof payload === 'string' && payload.length < 1_000_000) {
      try {
        const body = JSON.parse(payload) as { id?: unknown; company?: { id?: unknown } };
        const id = typeof body.id === 'string' ? body.id : typeof body.company?.id === 'string' ? body.company.id : undefined;
        if (id) request.auditCreatedId = id.slice(0, 200);
      } catch {
        // not JSON: no id to take
      }
    }
    const route = request.routeOptions.url!;
    const admin = route.startsWith('/v1/admin');
    const companyId = admin ? adminCompanyOf(request) : (request.auth?.companyId ?? null);
    const actor = admin ? 'admin' : request.auth?.keyId;
    if (!actor) return payload;
    const isMultipart = typeof request.headers['content-type'] === 'string' && request.headers['content-type'].startsWith('multipart/');
    try {
      await deps.sql`
        insert into audit_log (company_id, actor, action, resource_id, changed_fields, details, status_code, request_id, ip)
        values (${companyId}, ${actor}, ${`${request.method} ${route}`}, ${resourceIdOf(request, deps.numberHashKey)},
          ${isMultipart ? [] : changedFields(request.body)}, ${deps.sql.json((request.auditDetails ?? {}) as never)},
          ${reply.statusCode}, ${request.id}, ${request.ip ?? null})`;
    } catch (err) {
      // The change itself is done; losing its entry is logged loudly rather than failing the answer.
      request.log.error({ err, route }, 'audit log entry not written');
    }
    return payload;
  });
}
