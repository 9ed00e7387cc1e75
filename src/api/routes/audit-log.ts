/** GET /v1/audit-log: the company's audit entries, newest first, with filters and a cursor. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { listAudit } from '../../audit/repo.js';
import type { RootSql } from '../../db/sql.js';
import { requireOwned } from '../owned.js';
import { DateTimeInput, Page, PageQuery, Timestamp, decodeCursor, encodeCursor, errors, parseRange } from '../schemas.js';

const AuditQuery = Type.Object(
  {
    ...PageQuery,
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'Exact action, e.g. "PATCH /v1/bots/:id"' })),
    actor: Type.Optional(Type.String({ pattern: '^(admin|system|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$', description: 'An API key id, admin, or system' })),
    from: Type.Optional(DateTimeInput('created_at ≥ from')),
    to: Type.Optional(DateTimeInput('created_at < to')),
  },
  { additionalProperties: false },
);

const AuditEntrySchema = Type.Object({
  id: Type.String(),
  actor: Type.String({ description: 'The API key id that made the change, admin, or system (the server itself: an upgrade\'s data backfill)' }),
  action: Type.String({ description: 'METHOD and route, e.g. "PATCH /v1/bots/:id"' }),
  resource_id: Type.Union([Type.String(), Type.Null()]),
  changed_fields: Type.Array(Type.String(), { description: 'Names of the fields the request set; never their values' }),
  details: Type.Record(Type.String(), Type.Unknown()),
  status_code: Type.Integer(),
  request_id: Type.String(),
  ip: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
});

export function auditLogRoutes(deps: { sql: RootSql }): FastifyPluginAsync {
  return async (app) => {
    app.get('/audit-log', {
      config: { scope: 'audit:read' },
      schema: { tags: ['audit'], summary: 'The audit log: every change made through the API, newest first (append-only)', querystring: AuditQuery, response: { 200: Page(AuditEntrySchema), ...errors(400, 401, 403, 404) } },
    }, async (request) => {
      const q = request.query as Static<typeof AuditQuery>;
      const actor = q.actor?.toLowerCase();
      // An actor other than admin or system is an API key: one of the company's (revoked keys stay, so their entries are found).
      if (actor !== 'admin' && actor !== 'system') await requireOwned(deps.sql, request.auth.companyId, 'apiKey', actor);
      const limit = q.limit ?? 50;
      const before = q.cursor ? decodeCursor(q.cursor, 'audit_log', ['int'])[0] : undefined;
      const rows = await listAudit(deps.sql, request.auth.companyId, {
        ...(q.action ? { action: q.action } : {}),
        ...(actor ? { actor } : {}),
        ...parseRange(q),
        ...(before !== undefined ? { before } : {}),
      }, limit + 1);
      const page = rows.slice(0, limit);
      return { data: page, next_cursor: rows.length > limit ? encodeCursor('audit_log', [Number(page.at(-1)!.id)]) : null };
    });
  };
}
