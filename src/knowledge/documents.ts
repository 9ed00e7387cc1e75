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
 *
 * Replacing (`replace`: a document by id, or the bot's one document of the upload's name): the new bytes become a
 * new version of the document — a hidden row with its own bytes and ingestion job (ingest.ts swaps it in when it
 * is ready; until then the document answers as it was). Bytes the document already has change nothing (a pending
 * version is dropped: the document's content is what the client asked for); the bytes of the pending version
 * again change nothing either; bytes another of the bot's documents has are 409 (a document is unique by its
 * bytes). A newer version replaces a pending one (its chunks are removed). Quotas are counted net (quotas.ts).
 * Without `replace`, an upload never touches another document, whatever its name.
 */
import { createHash } from 'node:crypto';
import type { RootSql } from '../db/sql.js';
import { conflict, notFound, ParleyError } from '../errors.js';
import { enqueueJob } from '../jobs/queue.js';
import { detectDocumentKind } from './detect-type.js';
import { INGEST_JOB_KIND } from './ingest.js';
import { bumpIndexVersion } from './pg-vector-store.js';
import {
  deleteDocumentRow,
  documentsNamed,
  findBotForCompany,
  getDocument,
  insertDocument,
  insertNewVersion,
  newVersionOf,
  partCount,
  resetFailedDocument,
  rowWithBytes,
  storedDocumentBytes,
  writeDocumentParts,
  type KnowledgeDocumentRow,
  type NewDocument,
} from './repo.js';
import { checkReplaceQuotas, checkUploadQuotas, DEFAULT_KNOWLEDGE_QUOTAS, lockCompanyQuota, type KnowledgeQuotas } from './quotas.js';
import { removeStaleChunks } from './versions.js';
import type { Db } from '../db/sql.js';
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

const rowGoneWhileStoring = (): ParleyError =>
  conflict('The document was deleted or replaced while its file was being stored; nothing of this upload is kept, send it again if it is still wanted');

/** What an upload replaces: the document of this id, or the bot's one document of the upload's (stored) name. */
export type ReplaceTarget = { documentId: string } | 'by-name';

/** What an upload's transaction stored, and what the answer shows. */
interface Stored {
  /** The row whose bytes this upload writes (a new document, a new version, or the existing row of these bytes). */
  row: KnowledgeDocumentRow;
  /** The document the answer shows (a new version's document). */
  document: KnowledgeDocumentRow;
  /** Whether `row` was created by this upload (202). */
  created: boolean;
  /** Whether `row`'s ingestion job was enqueued by this upload. */
  enqueued: boolean;
  /** Whether parts after the first are still to be written. */
  writeRest: boolean;
  /** A pending version of `document` this upload dropped: its chunks are to be removed. */
  dropped: boolean;
}

/**
 * Stores an upload: a new document, or (with `replace`) a new version of one. 202 (`created`) when something new is
 * to be ingested, 200 with the document as it is when not (the same bytes again).
 */
export async function acceptUpload(
  deps: DocumentServiceDeps,
  upload: Upload,
  options: { replace?: ReplaceTarget } = {},
): Promise<{ document: KnowledgeDocumentRow; created: boolean }> {
  await requireBot(deps.sql, upload.companyId, upload.botId);
  if (upload.bytes.length > deps.maxUploadBytes) throw tooLarge(deps.maxUploadBytes);
  const { kind, contentType } = await detectDocumentKind(upload.bytes, upload.filename);
  const sha256 = createHash('sha256').update(upload.bytes).digest('hex');
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  const cleaned = storableText(upload.filename.replace(/[\u0000-\u001f\u007f]/g, ''));
  const doc: NewDocument = { companyId: upload.companyId, botId: upload.botId, filename: storedFilename(cleaned), contentType, kind, bytes: upload.bytes, sha256 };
  const quotas = deps.quotas ?? DEFAULT_KNOWLEDGE_QUOTAS;

  const stored = await deps.sql.begin(async (tx) => {
    await lockCompanyQuota(tx, upload.companyId);
    const replaced = options.replace ? await replacedDocument(tx, doc, options.replace) : undefined;
    return replaced ? storeNewVersion(tx, doc, replaced, quotas) : storeNewDocument(tx, doc, quotas);
  });
  const { row, created, writeRest } = stored;
  if (writeRest) {
    try {
      await writeDocumentParts(deps.sql, row.id, doc.bytes, 1);
    } catch (err) {
      // Nobody was told about this row yet: take it back (its job then finds nothing and ends).
      if (created) await deleteDocumentRow(deps.sql, upload.companyId, row.id).catch(() => {});
      // The row went while the parts were written (the document was deleted, or a newer replacement took this
      // one's place): the part's foreign key fails. The client's answer, not a 500.
      if ((err as { code?: string }).code === '23503') throw rowGoneWhileStoring();
      throw err;
    }
    // The bytes are all stored: the job may run now (the upload's, or a retry's).
    await deps.sql`
      update jobs set run_at = now(), updated_at = now()
      where dedupe_key in (${ingestKey(row, false)}, ${ingestKey(row, true)}) and status = 'queued' and run_at > now()`;
  }
  if (stored.dropped) await removeStaleChunks(deps, { companyId: upload.companyId, botId: upload.botId, documentId: stored.document.id });
  if (stored.enqueued || writeRest) deps.onEnqueued?.();
  return { document: stored.document, created };
}

/** The document an upload replaces: 404 for an id the bot does not have; by name, none (a new document) or one. */
async function replacedDocument(tx: Db, doc: NewDocument, replace: ReplaceTarget): Promise<KnowledgeDocumentRow | undefined> {
  if (replace !== 'by-name') {
    const found = await getDocument(tx, doc.companyId, doc.botId, replace.documentId, true);
    if (!found) throw notFound('Document');
    return found;
  }
  const named = await documentsNamed(tx, doc.companyId, doc.botId, doc.filename, 2);
  if (named.length > 1) {
    throw conflict(
      `This bot has several documents named "${doc.filename}"; replace one of them by id (PUT /v1/bots/{id}/knowledge/{documentId})`,
      { document_ids: named.map((d) => d.id) },
    );
  }
  return named[0] && getDocument(tx, doc.companyId, doc.botId, named[0].id, true);
}

/** Enqueues `row`'s ingestion, to run only after UPLOAD_GRACE_MS while parts of its bytes are still to be written. */
async function enqueueIngest(tx: Db, row: KnowledgeDocumentRow, retry: boolean, writeRest: boolean): Promise<void> {
  // A retry gets a key of its own: the failed attempt's job may still be running (the failure is recorded before
  // its handler returns), and under the first key this job would be deduplicated away.
  const runAt = writeRest ? new Date(Date.now() + UPLOAD_GRACE_MS) : undefined;
  await enqueueJob(tx, { kind: INGEST_JOB_KIND, payload: { documentId: row.id }, dedupeKey: ingestKey(row, retry), ...(runAt ? { runAt } : {}) });
}

/**
 * More parts to write: this upload's (`created`), or the same bytes of an upload that died (or is still going)
 * before storing them all — the same bytes, so writing them again is harmless.
 */
const restToWrite = async (tx: Db, row: KnowledgeDocumentRow, bytes: Uint8Array, created: boolean): Promise<boolean> =>
  partCount(bytes) > 1 && (created || (await storedDocumentBytes(tx, row.id)) !== row.size_bytes);

async function storeNewDocument(tx: Db, doc: NewDocument, quotas: KnowledgeQuotas): Promise<Stored> {
  await checkUploadQuotas(tx, { companyId: doc.companyId, botId: doc.botId, sha256: doc.sha256, size: doc.bytes.length }, quotas);
  const { row, created } = await insertDocument(tx, doc);
  const writeRest = await restToWrite(tx, row, doc.bytes, created);
  const document = !created && row.status === 'error' ? await resetFailedDocument(tx, row.id) : row;
  const enqueued = created || document !== row;
  if (enqueued) await enqueueIngest(tx, document, !created, writeRest);
  return { row: document, document, created, enqueued, writeRest, dropped: false };
}

async function storeNewVersion(tx: Db, doc: NewDocument, replaced: KnowledgeDocumentRow, quotas: KnowledgeQuotas): Promise<Stored> {
  const pending = await newVersionOf(tx, replaced.id);
  const unchanged = { document: replaced, created: false, enqueued: false, dropped: false };
  if (replaced.sha256 === doc.sha256) {
    // The document already has these bytes: what the client asks for is the content it has.
    if (pending) await deleteDocumentRow(tx, doc.companyId, pending.id);
    return { ...unchanged, row: replaced, writeRest: false, dropped: Boolean(pending) };
  }
  if (pending?.sha256 === doc.sha256 && pending.status === 'processing') {
    return { ...unchanged, row: pending, writeRest: await restToWrite(tx, pending, doc.bytes, false) };
  }
  const holder = await rowWithBytes(tx, doc.companyId, doc.botId, doc.sha256);
  if (holder && holder.id !== pending?.id) {
    const other = holder.replaces_id ?? holder.id;
    throw conflict(`Document ${other} of this bot already has these bytes (a document is unique by its content); delete one of them or replace ${other}`, { document_id: other });
  }
  await checkReplaceQuotas(tx, { companyId: doc.companyId, botId: doc.botId, size: doc.bytes.length, replacing: replaced.id }, quotas);
  // A pending version (processing, or failed) gives way to this one; its job finds its row gone and stops.
  if (pending) await deleteDocumentRow(tx, doc.companyId, pending.id);
  const version = await insertNewVersion(tx, doc, replaced.id);
  const writeRest = partCount(doc.bytes) > 1;
  await enqueueIngest(tx, version, false, writeRest);
  return { row: version, document: replaced, created: true, enqueued: true, writeRest, dropped: Boolean(pending) };
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
