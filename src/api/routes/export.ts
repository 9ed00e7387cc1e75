/**
 * GET /v1/export: everything the company has, streamed as JSON Lines (src/export/jsonl.ts). The body is read in
 * keyset-paginated batches as the client reads it (backpressure), so memory stays flat whatever the size, and no
 * database connection is held while the client is slow or stops reading: between batches the export holds only
 * its own socket, so one stalled download cannot block other tenants' queries (PGlite has a single connection). Recorded
 * in the audit log as a read that matters. An error after the first bytes aborts the response (a truncated
 * download, never a half-valid file claiming to be complete: the last line then lacks its newline or is absent).
 */
import { Readable } from 'node:stream';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { auditDetails, auditRead } from '../../audit/hook.js';
import type { RootSql } from '../../db/sql.js';
import { EXPORT_TYPES, exportJsonl, type ExportType } from '../../export/jsonl.js';
import { hasScope } from '../auth.js';
import { errors } from '../schemas.js';

const ExportQuery = Type.Object(
  {
    types: Type.Optional(Type.Array(Type.Union(EXPORT_TYPES.map((t) => Type.Literal(t))), {
      uniqueItems: true, maxItems: EXPORT_TYPES.length,
      description: `Only these record types (repeat the parameter); default all: ${EXPORT_TYPES.join(', ')}`,
    })),
  },
  { additionalProperties: false },
);

export function exportRoutes(deps: { sql: RootSql; batchSize?: number }): FastifyPluginAsync {
  return async (app) => {
    app.get('/export', {
      config: { scope: 'export:read' },
      schema: {
        tags: ['export'],
        summary: 'Download all the company\'s data as JSON Lines (application/x-ndjson), one object per line with a "type": company, bot, call (with transcript, outcome and recording reference), booking, campaign, campaign_contact, dnc_number, audit, usage (usage records in stored units)',
        querystring: ExportQuery,
        produces: ['application/x-ndjson'],
        response: {
          200: { description: 'JSON Lines: one object per line, each with a "type"', content: { 'application/x-ndjson': { schema: { type: 'string' } } } },
          ...errors(400, 401, 403),
        },
      },
    }, async (request, reply) => {
      const q = request.query as Static<typeof ExportQuery>;
      const types: readonly ExportType[] = q.types ?? EXPORT_TYPES;
      auditRead(request);
      auditDetails(request, { types });
      const stamp = new Date().toISOString().slice(0, 10);
      reply.type('application/x-ndjson; charset=utf-8').header('content-disposition', `attachment; filename="parley-export-${stamp}.jsonl"`);
      return reply.send(Readable.from(exportJsonl(deps.sql, request.auth.companyId, {
        types, withRecordingUrls: hasScope(request.auth.scopes, 'recordings:read'), withWebhookUrl: hasScope(request.auth.scopes, 'settings:read'),
        ...(deps.batchSize ? { batchSize: deps.batchSize } : {}),
      }), { objectMode: false, highWaterMark: 64 * 1024 }));
    });
  };
}
