/**
 * A bot's knowledge base: upload documents (multipart, field "file"), replace a document's content keeping its id
 * (PUT, or an upload with ?replace=true naming the document by its file name), list and inspect them with their
 * ingestion status, delete them (chunks and vectors go too), and run the search a call would run.
 * Every route first checks that the bot belongs to the caller's company, and a document that it is the bot's
 * (else 404).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { RootSql } from '../../db/sql.js';
import { badRequest, notFound, ParleyError } from '../../errors.js';
import { acceptUpload, deleteDocument, requireBot, tooLarge, type ReplaceTarget } from '../../knowledge/documents.js';
import { getDocument, listDocuments, newVersionsOf, type KnowledgeDocumentRow } from '../../knowledge/repo.js';
import type { KnowledgeQuotas } from '../../knowledge/quotas.js';
import type { Retriever } from '../../knowledge/retrieve.js';
import { UploadSlots } from '../../knowledge/upload-slots.js';
import type { VectorStore } from '../../knowledge/vector-store.js';
import { IdParams, Page, PageQuery, Timestamp, Uuid, decodeCursor, encodeCursor, errors } from '../schemas.js';
import { writeIngestUsage, type EmbeddingUsage } from '../../usage/ingest-usage.js';

export const KnowledgeDocumentSchema = Type.Object({
  id: Uuid,
  bot_id: Uuid,
  filename: Type.String(),
  content_type: Type.String(),
  size_bytes: Type.Integer(),
  sha256: Type.String(),
  status: Type.Union([Type.Literal('processing'), Type.Literal('ready'), Type.Literal('error')]),
  error_message: Type.Union([Type.String(), Type.Null()]),
  chunk_count: Type.Integer(),
  page_count: Type.Union([Type.Integer(), Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
  replacement: Type.Union([
    Type.Object({
      status: Type.Union([Type.Literal('processing'), Type.Literal('error')]),
      error_message: Type.Union([Type.String(), Type.Null()]),
      filename: Type.String(),
      content_type: Type.String(),
      size_bytes: Type.Integer(),
      sha256: Type.String(),
      created_at: Timestamp,
    }),
    Type.Null(),
  ], {
    description:
      'The new content uploaded to replace this document (PUT, or ?replace=true) while it is being indexed (processing) or ' +
      'after it failed (error, with error_message): the document answers with its current content meanwhile, and takes ' +
      'the new one — its file name, type, size and hash, the same id — the moment it is ready. Null when there is none.',
  }),
});

const DocParams = Type.Object({ id: Uuid, documentId: Uuid });

const SearchBody = Type.Object(
  {
    query: Type.String({ minLength: 1, maxLength: 2000 }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, description: 'Default RETRIEVAL_TOP_K' })),
  },
  { additionalProperties: false },
);

const SearchResult = Type.Object({
  id: Uuid,
  document_id: Uuid,
  text: Type.String(),
  source: Type.String({ description: 'File name of the document' }),
  page: Type.Union([Type.Integer(), Type.Null()]),
  section: Type.Union([Type.String(), Type.Null()]),
  score: Type.Number({ description: 'Fused score 0–1 (reciprocal rank fusion of vector and full-text ranks)' }),
  vector_score: Type.Union([Type.Number(), Type.Null()], { description: 'Cosine similarity, when found by vector search' }),
  text_rank: Type.Union([Type.Number(), Type.Null()], { description: 'ts_rank, when found by full-text search' }),
});

const toDocument = (d: KnowledgeDocumentRow, version: KnowledgeDocumentRow | undefined) => ({
  id: d.id, bot_id: d.bot_id, filename: d.filename, content_type: d.content_type, size_bytes: d.size_bytes,
  sha256: d.sha256, status: d.status, error_message: d.error_message, chunk_count: d.chunk_count,
  page_count: d.page_count, created_at: d.created_at, updated_at: d.updated_at,
  replacement: version
    ? {
        status: version.status === 'error' ? 'error' : 'processing', error_message: version.error_message, filename: version.filename,
        content_type: version.content_type, size_bytes: version.size_bytes, sha256: version.sha256, created_at: version.created_at,
      }
    : null,
});

/** The documents as the API shows them, each with its pending new version. */
async function documentsView(sql: RootSql, companyId: string, docs: KnowledgeDocumentRow[]) {
  const versions = await newVersionsOf(sql, companyId, docs.map((d) => d.id));
  return docs.map((d) => toDocument(d, versions.get(d.id)));
}

const UploadQuery = Type.Object(
  {
    replace: Type.Optional(Type.Boolean({
      default: false,
      description:
        "true: the file replaces the content of the bot's document of the same file name, keeping its id (as PUT " +
        '…/knowledge/{documentId} does); none of that name: a new document; several: 409 naming them. false (default): a new ' +
        'document, whatever its name — two documents of one name both answer',
    })),
  },
  { additionalProperties: false },
);

export interface KnowledgeRouteDeps {
  sql: RootSql;
  store: VectorStore;
  retriever: Retriever;
  /** UPLOAD_MAX_BYTES. */
  maxUploadBytes: number;
  /** KNOWLEDGE_MAX_*; default DEFAULT_KNOWLEDGE_QUOTAS. */
  quotas?: KnowledgeQuotas;
  /** Called after an ingestion job is enqueued (e.g. JobWorker.kick). */
  onEnqueued?: () => void;
  /** Uploads of one company read at once (upload-slots.ts); default DEFAULT_UPLOADS_IN_PROGRESS_PER_COMPANY of them. */
  uploadSlots?: UploadSlots;
}

/**
 * Reads the one file of a multipart upload. A second file is refused (400) rather than silently dropped; a
 * body that is cut short or malformed is the client's error (400), an oversize file 413.
 */
const oneFileOnly = () => badRequest('Send one file per upload; this request carries more than one');

async function readSingleFile(request: FastifyRequest, maxBytes: number): Promise<{ filename: string; bytes: Buffer }> {
  let upload: { filename: string; bytes: Buffer } | null = null;
  try {
    for await (const part of request.parts({ limits: { fileSize: maxBytes, files: 2 } })) {
      if (part.type !== 'file') continue;
      if (upload) throw oneFileOnly();
      const bytes = await part.toBuffer();
      if (part.file.truncated) throw tooLarge(maxBytes);
      upload = { filename: part.filename || 'document', bytes };
    }
  } catch (err) {
    if (err instanceof ParleyError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge(maxBytes);
    if (code === 'FST_FILES_LIMIT') throw oneFileOnly();
    if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') throw err; // not multipart at all: 415
    const why = err instanceof Error ? err.message.split('\n')[0]!.slice(0, 200) : 'unreadable';
    throw badRequest(`The multipart body could not be read (${why}); it may be truncated or malformed`);
  }
  if (!upload) throw badRequest('Send the document as multipart/form-data in a field named "file"');
  return upload;
}

export function knowledgeRoutes(deps: KnowledgeRouteDeps): FastifyPluginAsync {
  const docDeps = { sql: deps.sql, store: deps.store, maxUploadBytes: deps.maxUploadBytes, quotas: deps.quotas, onEnqueued: deps.onEnqueued };
  const uploadSlots = deps.uploadSlots ?? new UploadSlots();

  /** Reads the one file and stores it: 202 when something is to be indexed, 200 with the document as it is when not. */
  async function upload(request: FastifyRequest, reply: FastifyReply, botId: string, replace: ReplaceTarget | undefined) {
    const { companyId } = request.auth;
    // Check the bot before reading a possibly large body.
    await requireBot(deps.sql, companyId, botId);
    // Held until the bytes are stored: the body is in memory all that time.
    const release = uploadSlots.take(companyId);
    try {
      const { filename, bytes } = await readSingleFile(request, deps.maxUploadBytes);
      const { document, created } = await acceptUpload(docDeps, { companyId, botId, filename, bytes }, replace ? { replace } : {});
      const [view] = await documentsView(deps.sql, companyId, [document]);
      return reply.status(created ? 202 : 200).send(view);
    } finally {
      release();
    }
  }

  return async (app) => {
    app.post('/bots/:id/knowledge', {
      config: { scope: 'knowledge:write' },
      schema: {
        tags: ['knowledge'],
        summary: 'Upload a document (multipart field "file": pdf, docx, txt, md or csv; one file per request)',
        description:
          'Answers 202 with the document in status processing; ingestion runs in the background (poll the document or ' +
          'subscribe to knowledge.ready / knowledge.failed). The same bytes uploaded again to the bot answer 200 with the existing document. ' +
          'A company has at most KNOWLEDGE_MAX_DOCUMENTS_PER_COMPANY documents and KNOWLEDGE_MAX_BYTES_PER_COMPANY bytes of them, a bot ' +
          'KNOWLEDGE_MAX_CHUNKS_PER_BOT chunks (409 beyond, naming the limit, with details.limit, details.max and details.used). ' +
          'A file of the name of an existing document is a new document unless ?replace=true, which replaces that ' +
          "document's content keeping its id (see PUT /v1/bots/{id}/knowledge/{documentId}).",
        consumes: ['multipart/form-data'],
        params: IdParams,
        querystring: UploadQuery,
        response: { 200: KnowledgeDocumentSchema, 202: KnowledgeDocumentSchema, ...errors(400, 401, 403, 404, 409, 413, 415, 429) },
      },
    }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const { replace } = request.query as { replace?: boolean };
      return upload(request, reply, id, replace ? 'by-name' : undefined);
    });

    app.put('/bots/:id/knowledge/:documentId', {
      config: { scope: 'knowledge:write' },
      schema: {
        tags: ['knowledge'],
        summary: "Replace a document's content, keeping its id (multipart field \"file\", as an upload)",
        description:
          'Answers 202 with the document as it is, its replacement in processing: the document keeps answering with its current ' +
          'content until the new one is indexed, then answers with the new one only (knowledge.ready, replacement: true); if the ' +
          'new content fails, the document keeps its current content (knowledge.failed, replacement: true; the reason in ' +
          'replacement.error_message). A newer replacement takes the place of one still pending. The bytes the document (or its pending ' +
          'replacement) already has answer 200 and change nothing; bytes another document of the bot has are 409. Quotas are ' +
          'counted net: no new document, the new bytes and chunks instead of the old.',
        consumes: ['multipart/form-data'],
        params: DocParams,
        response: { 200: KnowledgeDocumentSchema, 202: KnowledgeDocumentSchema, ...errors(400, 401, 403, 404, 409, 413, 415, 429) },
      },
    }, async (request, reply) => {
      const { id, documentId } = request.params as { id: string; documentId: string };
      // The document before the body: one of another bot or company is 404 without reading it (checked again,
      // under a lock, when the upload is stored).
      await requireBot(deps.sql, request.auth.companyId, id);
      if (!(await getDocument(deps.sql, request.auth.companyId, id, documentId))) throw notFound('Document');
      return upload(request, reply, id, { documentId });
    });

    app.get('/bots/:id/knowledge', {
      config: { scope: 'knowledge:read' },
      schema: {
        tags: ['knowledge'],
        summary: "List a bot's documents with their ingestion status, newest first",
        params: IdParams,
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: Page(KnowledgeDocumentSchema), ...errors(401, 403, 404) },
      },
    }, async (request) => {
      const { id } = request.params as { id: string };
      const q = request.query as { limit?: number; cursor?: string };
      await requireBot(deps.sql, request.auth.companyId, id);
      const limit = q.limit ?? 50;
      let after: { createdAt: Date; id: string } | undefined;
      if (q.cursor) {
        const [createdAt, lastId] = decodeCursor(q.cursor, 'documents', ['timestamp', 'uuid']);
        after = { createdAt, id: lastId };
      }
      const rows = await listDocuments(deps.sql, request.auth.companyId, id, { limit: limit + 1, ...(after ? { after } : {}) });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        data: await documentsView(deps.sql, request.auth.companyId, page),
        next_cursor: rows.length > limit && last ? encodeCursor('documents', [last.created_at.toISOString(), last.id]) : null,
      };
    });

    app.get('/bots/:id/knowledge/:documentId', {
      config: { scope: 'knowledge:read' },
      schema: { tags: ['knowledge'], summary: 'Get one document', params: DocParams, response: { 200: KnowledgeDocumentSchema, ...errors(401, 403, 404) } },
    }, async (request) => {
      const { id, documentId } = request.params as { id: string; documentId: string };
      await requireBot(deps.sql, request.auth.companyId, id);
      const doc = await getDocument(deps.sql, request.auth.companyId, id, documentId);
      if (!doc) throw notFound('Document');
      return (await documentsView(deps.sql, request.auth.companyId, [doc]))[0];
    });

    app.delete('/bots/:id/knowledge/:documentId', {
      config: { scope: 'knowledge:write' },
      schema: {
        tags: ['knowledge'],
        summary: 'Delete a document with its chunks and vectors',
        params: DocParams,
        response: { 204: Type.Null(), ...errors(401, 403, 404, 503) },
      },
    }, async (request, reply) => {
      const { id, documentId } = request.params as { id: string; documentId: string };
      await deleteDocument(docDeps, request.auth.companyId, id, documentId);
      return reply.status(204).send();
    });

    app.post('/bots/:id/knowledge/search', {
      config: { scope: 'knowledge:read' },
      schema: {
        tags: ['knowledge'],
        summary: 'Search the knowledge base the way a call would',
        params: IdParams,
        body: SearchBody,
        response: { 200: Type.Object({ results: Type.Array(SearchResult) }), ...errors(400, 401, 403, 404) },
      },
    }, async (request) => {
      const { id } = request.params as { id: string };
      const { query, limit } = request.body as { query: string; limit?: number };
      const bot = await requireBot(deps.sql, request.auth.companyId, id);
      let usage: EmbeddingUsage | null = null;
      const hits = await deps.retriever.search({ companyId: request.auth.companyId, botId: id, language: bot.language }, query, {
        limit, onUsage: (u) => (usage = u),
      });
      // The question's embedding is billed like any other (usage outside calls: no document).
      if (usage) await writeIngestUsage(deps.sql, { companyId: request.auth.companyId, botId: id, documentId: null, usage });
      return {
        results: hits.map((h) => ({
          id: h.id, document_id: h.documentId, text: h.text, source: h.source, page: h.page, section: h.section,
          score: h.score, vector_score: h.vectorScore, text_rank: h.textRank,
        })),
      };
    });
  };
}
