/**
 * GET /v1/export: everything the company has, streamed as JSON Lines (src/export/jsonl.ts). The body is read in
 * keyset-paginated batches as the client reads it (backpressure), each batch sized by bytes, so an export holds about
 * one batch (BATCH_BYTES) whatever the size of the company or of its calls, and no database connection is held while
 * the client is slow or stops reading: between batches the export holds only its own socket, so one stalled download
 * cannot block other tenants' queries (PGlite has a single connection). A few exports run at once, per company and per
 * process (src/export/slots.ts; 429 beyond), and a client that has taken nothing for `stallMs` is disconnected: a
 * download nobody reads would otherwise hold its slot and its batch for good. Recorded in the audit log as a read that
 * matters. An error after the first bytes aborts the response (a truncated download, never a half-valid file claiming
 * to be complete: the last line then lacks its newline or is absent).
 */
import { Readable } from 'node:stream';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { auditDetails, auditRead } from '../../audit/hook.js';
import type { RootSql } from '../../db/sql.js';
import { EXPORT_TYPES, exportJsonl, type ExportType } from '../../export/jsonl.js';
import { ExportSlots } from '../../export/slots.js';
import { hasScope, requireScope } from '../auth.js';
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

export interface ExportRouteDeps {
  sql: RootSql;
  /** Exports one company may run at once (default 2). */
  maxPerCompany?: number;
  /** Exports this process runs at once, all companies together (default 4). */
  maxPerProcess?: number;
  /** A download whose client has taken nothing for this long is ended (default 60 s). */
  stallMs?: number;
  /** Bytes of JSON a database batch aims at (default src/export/jsonl.ts BATCH_BYTES). */
  batchBytes?: number;
  /** Rows a database batch reads at most (default 500). */
  maxBatchRows?: number;
}

/**
 * The scope each record type needs besides export:read: the one its own API asks (a key with export:read alone got
 * every type — calls with their transcripts, the audit log — more than any other route would show it). The company
 * line needs none: its webhook URL is shown whole only with settings:read, as GET /v1/company; calls' recording
 * URLs only with recordings:read.
 */
const TYPE_SCOPES: Record<ExportType, string | null> = {
  company: null, bot: 'bots:read', call: 'calls:read', booking: 'bookings:read', campaign: 'campaigns:read',
  campaign_contact: 'campaigns:read', dnc_number: 'dnc:read', audit: 'audit:read', usage: 'usage:read',
};
/** The types an export of everything left out for want of their scope, comma-separated. */
export const OMITTED_HEADER = 'parley-export-omitted';

/** The body is written in pieces of about this size: few writes for small rows, and a long line in several. */
const PIECE_BYTES = 16 * 1024;

/**
 * The lines packed into Buffers of about PIECE_BYTES (a line longer than that split over several). Each piece is
 * pulled only once the socket has taken the ones before (backpressure), so `onPulled` marks the client's progress —
 * every 16 KiB it reads, not once per line, however long a call's line is.
 */
async function* pieces(lines: AsyncIterable<string>, onPulled: () => void): AsyncGenerator<Buffer> {
  let pending = '';
  for await (const line of lines) {
    pending += line;
    if (pending.length < PIECE_BYTES) continue;
    const bytes = Buffer.from(pending);
    pending = '';
    for (let at = 0; at < bytes.length; at += PIECE_BYTES) {
      yield bytes.subarray(at, at + PIECE_BYTES);
      onPulled();
    }
  }
  if (pending) yield Buffer.from(pending);
}

export function exportRoutes(deps: ExportRouteDeps): FastifyPluginAsync {
  const perCompany = deps.maxPerCompany ?? 2;
  const slots = new ExportSlots({ perCompany, perProcess: deps.maxPerProcess ?? 4 });
  const stallMs = deps.stallMs ?? 60_000;
  return async (app) => {
    app.get('/export', {
      config: { scope: 'export:read' },
      schema: {
        tags: ['export'],
        summary: 'Download all the company\'s data as JSON Lines (application/x-ndjson), one object per line with a "type": company, bot, call (with transcript, outcome and recording reference), booking, campaign, campaign_contact, dnc_number, audit, usage (usage records in stored units)',
        description: `Each type needs its own read scope besides export:read (${EXPORT_TYPES.filter((t) => TYPE_SCOPES[t]).map((t) => `${t}: ${TYPE_SCOPES[t]}`).join(', ')}; company: none). Asked for by \`types\` without it: 403 naming the scope. An export of everything leaves such types out and names them in the \`Parley-Export-Omitted\` header. A company runs at most ${perCompany} exports at once (429 beyond, as when the server is running its limit of exports); a download that takes nothing for ${Math.round(stallMs / 1000)} s is disconnected.`,
        querystring: ExportQuery,
        produces: ['application/x-ndjson'],
        response: {
          200: { description: 'JSON Lines: one object per line, each with a "type"', content: { 'application/x-ndjson': { schema: { type: 'string' } } } },
          ...errors(400, 401, 403, 429),
        },
      },
    }, async (request, reply) => {
      const q = request.query as Static<typeof ExportQuery>;
      for (const t of q.types ?? []) requireScope(request.auth, TYPE_SCOPES[t] ?? 'export:read');
      const readable = (t: ExportType) => hasScope(request.auth.scopes, TYPE_SCOPES[t] ?? undefined);
      const types: readonly ExportType[] = (q.types ?? EXPORT_TYPES).filter(readable);
      const omitted = EXPORT_TYPES.filter((t) => !readable(t));
      if (!q.types && omitted.length) reply.header(OMITTED_HEADER, omitted.join(','));
      const release = slots.take(request.auth.companyId);
      // Ended (completed, failed, or the connection gone): the slot and the stall timer go with it.
      const stall = setTimeout(() => reply.raw.destroy(), stallMs);
      reply.raw.once('close', () => {
        clearTimeout(stall);
        release();
      });
      auditRead(request);
      auditDetails(request, { types, ...(omitted.length && !q.types ? { omitted } : {}) });
      const stamp = new Date().toISOString().slice(0, 10);
      reply.type('application/x-ndjson; charset=utf-8').header('content-disposition', `attachment; filename="parley-export-${stamp}.jsonl"`);
      const lines = exportJsonl(deps.sql, request.auth.companyId, {
        types,
        withRecordingUrls: hasScope(request.auth.scopes, 'recordings:read'),
        withWebhookUrl: hasScope(request.auth.scopes, 'settings:read'),
        ...(deps.batchBytes !== undefined ? { batchBytes: deps.batchBytes } : {}),
        ...(deps.maxBatchRows !== undefined ? { maxBatchRows: deps.maxBatchRows } : {}),
      });
      return reply.send(Readable.from(pieces(lines, () => stall.refresh()), { objectMode: false, highWaterMark: 64 * 1024 }));
    });
  };
}
