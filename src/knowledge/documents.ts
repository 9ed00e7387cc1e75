/**
 * The document lifecycle behind the API: accept an upload (check the real type, store the bytes, enqueue the
 * ingestion job), and delete a document with its chunks and vectors.
 *
 * An upload is one short transaction (the document row, the first MiB of its bytes and the ingestion job), then the
 * other parts of the bytes one statement each, so no transaction holds the database while a large file is written
 * (on embedded PGlite a transaction holds the server's only connection). A job whose bytes are still being written
 * is enqueued to run only after UPLOAD_GRACE_MS, and brought forward once they are all stored: if the process dies
 * in between, the job still runs, finds the bytes incomplete and ends the document in error ("upload it again"),
 * so no document is left in processing for good. An answer (202, or 200 for the same bytes) always means the bytes
 * are stored and the job can run.
 *
 * Duplicates: uploading bytes the bot already has (same sha256) creates nothing and returns the existing
 * document with `created: false` (the route answers 200 instead of 202). If that document had failed, it is
 * put back to processing and ingested again.
 *
 * Quotas (quotas.ts): an upload that would create a document past the company's documents or bytes, or to a bot
 * whose documents already have KNOWLEDGE_MAX_CHUNKS_PER_BOT chunks, is refused (409), counted under the company's
 * row lock in the transaction that inserts it; a duplicate adds nothing and always passes.
 */
import { createHash } from 'node:crypto';
import type { RootSql } from '../db/sql.js';
import { notFound, ParleyError } from '../errors.js';
import { enqueueJob } from '../jobs/queue.js';
import { detectDocumentKind } from './detect-type.js';
import { INGEST_JOB_KIND } from './ingest.js';
import { bumpIndexVersion } from './pg-vector-store.js';
import {
  deleteDocumentRow,
  findBotForCompany,
  getDocument,
  insertDocument,
  partCount,
  resetFailedDocument,
  storedDocumentBytes,
  writeDocumentParts,
  type KnowledgeDocumentRow,
} from './repo.js';
import { checkUploadQuotas, DEFAULT_KNOWLEDGE_QUOTAS, lockCompanyQuota, type KnowledgeQuotas } from './quotas.js';
import type { VectorStore } from './vector-store.js';
import { storableText } from '../util/storable-text.js';

export interface DocumentServiceDeps {
  sql: RootSql;
  store: VectorStore;
  maxUploadBytes: number;
  /** Default DEFAULT_KNOWLEDGE_QUOTAS. */
  quotas?: KnowledgeQuotas;
  /** Called after a job was enqueued (wire to JobWorker.kick() for an immediate start). */
  onEnqueued?: () => void;
}

export interface Upload {
  companyId: string;
  botId: string;
  filename: string;
  bytes: Uint8Array;
}

/** How long an ingestion job waits for its upload's bytes before it runs anyway (and fails the document if they are incomplete). */
export const UPLOAD_GRACE_MS = 15 * 60_000;

/** The ingestion job's dedupe key: a retry of a failed document gets a key of its own (see acceptUpload). */
const ingestKey = (document: KnowledgeDocumentRow, retry: boolean): string =>
  retry ? `ingest:${document.id}:${document.updated_at.getTime()}` : `ingest:${document.id}`;

export const tooLarge = (maxBytes: number): ParleyError =>
  new ParleyError('PARLEY_ERR_PAYLOAD_TOO_LARGE', `The file is larger than the ${maxBytes}-byte upload limit`);

export async function requireBot(sql: RootSql, companyId: string, botId: string): Promise<{ id: string; language: 'en' | 'ru' }> {
  const bot = await findBotForCompany(sql, companyId, botId);
  if (!bot) throw notFound('Bot');
  return bot;
}

/**
 * At most 255 UTF-16 units, never cutting a character in two, and keeping the extension (".md") when the name is
 * shortened: the stored name still says what the file is.
 */
export function storedFilename(name: string): string {
  if (name.length <= 255) return name || 'document';
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  const room = 255 - ext.length;
  const base = name.slice(0, /[\ud800-\udbff]/.test(name[room - 1]!) ? room - 1 : room);
  return base + ext;
}

export async function acceptUpload(deps: DocumentServiceDeps, upload: Upload): Promise<{ document: KnowledgeDocumentRow; created: boolean }> {
  await requireBot(deps.sql, upload.companyId, upload.botId);
  if (upload.bytes.length > deps.maxUploadBytes) throw tooLarge(deps.maxUploadBytes);
  const { kind, contentType } = await detectDocumentKind(upload.bytes, upload.filename);
  const sha256 = createHash('sha256').update(upload.bytes).digest('hex');
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  const cleaned = storableText(upload.filename.replace(/[\u0000-\u001f\u007f]/g, ''));
  const filename = storedFilename(cleaned);

  let enqueued = false;
  const bytes = upload.bytes;
  const result = await deps.sql.begin(async (tx) => {
    await lockCompanyQuota(tx, upload.companyId);
    const quotas = deps.quotas ?? DEFAULT_KNOWLEDGE_QUOTAS;
    await checkUploadQuotas(tx, { companyId: upload.companyId, botId: upload.botId, sha256, size: bytes.length }, quotas);
    const { row, created } = await insertDocument(tx, { companyId: upload.companyId, botId: upload.botId, filename, contentType, kind, bytes, sha256 });
    let document = row;
    // More parts to write: this upload's, or the same bytes of an upload that died (or is still going) before
    // storing them all — the same bytes, so writing them again is harmless.
    const writeRest = partCount(bytes) > 1 && (created || (await storedDocumentBytes(tx, row.id)) !== row.size_bytes);
    if (!created && row.status === 'error') document = await resetFailedDocument(tx, row.id);
    if (created || document !== row) {
      // A retry gets a key of its own: the failed attempt's job may still be running (the failure is recorded
      // before its handler returns), and under the first key this job would be deduplicated away.
      const dedupeKey = ingestKey(document, !created);
      const runAt = writeRest ? new Date(Date.now() + UPLOAD_GRACE_MS) : undefined;
      await enqueueJob(tx, { kind: INGEST_JOB_KIND, payload: { documentId: document.id }, dedupeKey, ...(runAt ? { runAt } : {}) });
      enqueued = true;
    }
    return { document, created, writeRest };
  });
  const { document, created, writeRest } = result;
  if (writeRest) {
    try {
      await writeDocumentParts(deps.sql, document.id, bytes, 1);
    } catch (err) {
      // Nobody was told about this document yet: take it back (its job then finds nothing and ends).
      if (created) await deleteDocumentRow(deps.sql, upload.companyId, document.id).catch(() => {});
      throw err;
    }
    // The bytes are all stored: the job may run now (the upload's, or a retry's).
    await deps.sql`
      update jobs set run_at = now(), updated_at = now()
      where dedupe_key in (${ingestKey(document, false)}, ${ingestKey(document, true)}) and status = 'queued' and run_at > now()`;
    enqueued = true;
  }
  if (enqueued) deps.onEnqueued?.();
  return { document, created };
}

export async function deleteDocument(deps: DocumentServiceDeps, companyId: string, botId: string, documentId: string): Promise<void> {
  await requireBot(deps.sql, companyId, botId);
  const doc = await getDocument(deps.sql, companyId, botId, documentId);
  if (!doc) throw notFound('Document');
  const ref = { companyId, botId, documentId };
  if (deps.store.name !== 'postgres') {
    // External vectors first: if this fails nothing is deleted and the client retries. If the database step then
    // fails, the document stays listed (found by full-text search only) until the client retries the delete;
    // the reverse order could leave vectors of a deleted document behind with nobody to retry.
    try {
      await deps.store.deleteByDocument(ref);
    } catch {
      throw new ParleyError('PARLEY_ERR_UNAVAILABLE', 'The vector store is unavailable; try again');
    }
  }
  await deps.sql.begin(async (tx) => {
    if (!(await getDocument(tx, companyId, botId, documentId, true))) throw notFound('Document');
    await deleteDocumentRow(tx, companyId, documentId);
    await bumpIndexVersion(tx, botId);
  });
  if (deps.store.name !== 'postgres') {
    // An ingestion job may have upserted its points after the delete above and committed 'ready' before the row
    // was locked here: once more, now that the row is gone (a job upserting later finds no row and cleans up).
    // The first pass succeeded a moment ago; if this one fails too, nothing is left to retry it.
    await deps.store.deleteByDocument(ref).catch(() => {});
  }
}
