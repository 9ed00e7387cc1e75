/** SQL for knowledge documents and chunks. Every function that reads tenant data is scoped by company id. */
import { createHash } from 'node:crypto';
import type { Db } from '../db/sql.js';
import { conflict } from '../errors.js';
import type { DocumentKind } from './detect-type.js';
import { vectorToBytes } from './vector-store.js';

export type DocumentStatus = 'processing' | 'ready' | 'error';

export interface KnowledgeDocumentRow {
  id: string;
  company_id: string;
  bot_id: string;
  filename: string;
  content_type: string;
  kind: DocumentKind | null;
  size_bytes: number;
  sha256: string;
  status: DocumentStatus;
  error_message: string | null;
  chunk_count: number;
  page_count: number | null;
  created_at: Date;
  updated_at: Date;
  /**
   * Set on the hidden row of a new version of that document (PUT …/knowledge/:documentId, migration 0320): the
   * API never shows such a row by itself, only as the `replacement` of the document it replaces.
   */
  replaces_id: string | null;
  /**
   * A document: the generation of the chunks searches read. A new version: the generation its chunks are written
   * under (on the document it replaces), which becomes the document's when it is ready.
   */
  generation: number;
}

const COLUMNS = [
  'id', 'company_id', 'bot_id', 'filename', 'content_type', 'kind', 'size_bytes', 'sha256', 'status',
  'error_message', 'chunk_count', 'page_count', 'created_at', 'updated_at', 'replaces_id', 'generation',
] as const;

/** Whose chunks an ingestion writes: the document's own, or (a new version) the replaced document's next generation. */
export interface ChunkOwner {
  documentId: string;
  generation: number;
}

export const chunkOwner = (doc: Pick<KnowledgeDocumentRow, 'id' | 'replaces_id' | 'generation'>): ChunkOwner =>
  ({ documentId: doc.replaces_id ?? doc.id, generation: doc.generation });

export const tsConfigFor = (language: 'en' | 'ru'): 'english' | 'russian' => (language === 'ru' ? 'russian' : 'english');

export async function findBotForCompany(db: Db, companyId: string, botId: string): Promise<{ id: string; language: 'en' | 'ru' } | undefined> {
  const [row] = await db<{ id: string; language: 'en' | 'ru' }[]>`select id, language from bots where id = ${botId} and company_id = ${companyId}`;
  return row;
}

export interface NewDocument {
  companyId: string;
  botId: string;
  filename: string;
  contentType: string;
  kind: DocumentKind;
  bytes: Uint8Array;
  sha256: string;
}

/** Uploaded bytes are stored in parts of this size (knowledge_document_blobs.part, migration 0080). */
export const BLOB_PART_BYTES = 1024 * 1024;

/**
 * Inserts the document and the first part of its bytes (all of them up to BLOB_PART_BYTES); when the bot already
 * has these bytes, returns that row with created=false. The other parts are written by writeDocumentParts, each in
 * a statement of its own: inside this transaction the 20 parts of a 20 MB file held the database (on embedded
 * PGlite, its only connection) for ~1 s.
 */
export async function insertDocument(tx: Db, doc: NewDocument): Promise<{ row: KnowledgeDocumentRow; created: boolean }> {
  // The bot's document with these bytes may be deleted between the insert that found it and the read that takes
  // it (a DELETE racing a re-upload): then there is nothing left to conflict with, and the insert is tried again.
  for (let attempt = 0; ; attempt++) {
    const [row] = await tx<KnowledgeDocumentRow[]>`
      insert into knowledge_documents (company_id, bot_id, filename, content_type, kind, size_bytes, sha256)
      values (${doc.companyId}, ${doc.botId}, ${doc.filename}, ${doc.contentType}, ${doc.kind}, ${doc.bytes.length}, ${doc.sha256})
      on conflict (bot_id, sha256) do nothing
      returning ${tx(COLUMNS)}`;
    if (row) {
      await writeDocumentParts(tx, row.id, doc.bytes, 0, 1);
      return { row, created: true };
    }
    const [existing] = await tx<KnowledgeDocumentRow[]>`
      select ${tx(COLUMNS)} from knowledge_documents
      where bot_id = ${doc.botId} and company_id = ${doc.companyId} and sha256 = ${doc.sha256} for update`;
    if (existing?.replaces_id) throw pendingVersionConflict(existing.replaces_id);
    if (existing) return { row: existing, created: false };
    if (attempt >= 3) throw conflict('This document was being deleted while it was uploaded again; upload it once more');
  }
}

/** 409 for bytes that are the new version, still being indexed or failed, of one of the bot's documents. */
export const pendingVersionConflict = (documentId: string) =>
  conflict(`These bytes are the new version of document ${documentId}, not yet in use; wait for it or replace that document again`, { document_id: documentId });

/**
 * Inserts the hidden row of a new version of document `replacesId` and the first part of its bytes; its generation
 * is new (a sequence), so its chunks never mix with the document's current ones nor with an abandoned version's.
 */
export async function insertNewVersion(tx: Db, doc: NewDocument, replacesId: string): Promise<KnowledgeDocumentRow> {
  const [row] = await tx<KnowledgeDocumentRow[]>`
    insert into knowledge_documents (company_id, bot_id, filename, content_type, kind, size_bytes, sha256, replaces_id, generation)
    values (${doc.companyId}, ${doc.botId}, ${doc.filename}, ${doc.contentType}, ${doc.kind}, ${doc.bytes.length}, ${doc.sha256},
            ${replacesId}, nextval('knowledge_generation_seq'))
    returning ${tx(COLUMNS)}`;
  await writeDocumentParts(tx, row!.id, doc.bytes, 0, 1);
  return row!;
}

/** The pending (processing or failed) new version of document `documentId`, locked; undefined when none. */
export async function newVersionOf(tx: Db, documentId: string): Promise<KnowledgeDocumentRow | undefined> {
  const [row] = await tx<KnowledgeDocumentRow[]>`select ${tx(COLUMNS)} from knowledge_documents where replaces_id = ${documentId} for update`;
  return row;
}

/** The new versions of these documents, by the document each replaces (for the API's `replacement`). */
export async function newVersionsOf(db: Db, companyId: string, documentIds: string[]): Promise<Map<string, KnowledgeDocumentRow>> {
  if (documentIds.length === 0) return new Map();
  const rows = await db<KnowledgeDocumentRow[]>`
    select ${db(COLUMNS)} from knowledge_documents where company_id = ${companyId} and replaces_id = any(${documentIds}::uuid[])`;
  return new Map(rows.map((r) => [r.replaces_id!, r]));
}

/** The bot's documents (never a pending new version) of this stored name, at most `limit`. */
export async function documentsNamed(tx: Db, companyId: string, botId: string, filename: string, limit: number): Promise<KnowledgeDocumentRow[]> {
  return tx<KnowledgeDocumentRow[]>`
    select ${tx(COLUMNS)} from knowledge_documents
    where company_id = ${companyId} and bot_id = ${botId} and filename = ${filename} and replaces_id is null
    order by created_at, id limit ${limit}`;
}

/** The bot's row (document or pending new version) holding these bytes, if any. */
export async function rowWithBytes(tx: Db, companyId: string, botId: string, sha256: string): Promise<KnowledgeDocumentRow | undefined> {
  const [row] = await tx<KnowledgeDocumentRow[]>`
    select ${tx(COLUMNS)} from knowledge_documents where company_id = ${companyId} and bot_id = ${botId} and sha256 = ${sha256}`;
  return row;
}

/**
 * Makes a ready new version the document's content, in the transaction that found it ready (under the document's
 * row lock): the version's bytes become the document's, its row goes, and the document takes its name, type, hash
 * and generation — one row, so searches switch from the old chunks to the new in one commit. The old generation's
 * chunks are left for removeStaleChunks (nothing reads them from this commit on).
 */
export async function promoteNewVersion(tx: Db, version: KnowledgeDocumentRow, chunkCount: number, pageCount: number | null): Promise<void> {
  const documentId = version.replaces_id!;
  await tx`delete from knowledge_document_blobs where document_id = ${documentId}`;
  await tx`update knowledge_document_blobs set document_id = ${documentId} where document_id = ${version.id}`;
  // Before the document takes its sha256 (unique per bot).
  await tx`delete from knowledge_documents where id = ${version.id}`;
  await tx`
    update knowledge_documents set filename = ${version.filename}, content_type = ${version.content_type}, kind = ${version.kind},
      size_bytes = ${version.size_bytes}, sha256 = ${version.sha256}, generation = ${version.generation}, status = 'ready',
      error_message = null, chunk_count = ${chunkCount}, page_count = ${pageCount}, updated_at = now()
    where id = ${documentId}`;
}

/**
 * Deletes up to `limit` of the document's chunks of a generation neither the document nor its pending new version
 * has (the replaced version's, or an abandoned version's); how many were deleted. The live generations are read
 * in the same statement, so chunks of a version created after it began are not seen, and so not touched.
 */
export async function deleteStaleChunks(tx: Db, documentId: string, limit: number): Promise<number> {
  const rows = await tx`
    delete from knowledge_chunks where id in (
      select id from knowledge_chunks where document_id = ${documentId}
        and generation not in (select generation from knowledge_documents where id = ${documentId} or replaces_id = ${documentId})
      limit ${limit})
    returning 1`;
  return rows.length;
}

/** How many parts `bytes` are stored in (at least one: an empty file is one empty part). */
export const partCount = (bytes: Uint8Array): number => Math.max(1, Math.ceil(bytes.length / BLOB_PART_BYTES));

/**
 * Writes parts [from, to) of a document's bytes, or overwrites them (the same bytes: documents are unique by
 * sha256), one statement each: the driver encodes a part in a few milliseconds, then the event loop gets a turn
 * (one 20 MB value would hold it for a few hundred), and outside a transaction other queries run in between.
 */
export async function writeDocumentParts(db: Db, documentId: string, bytes: Uint8Array, from = 0, to = partCount(bytes)): Promise<void> {
  for (let part = from; part < to; part++) {
    const piece = bytes.subarray(part * BLOB_PART_BYTES, (part + 1) * BLOB_PART_BYTES);
    await db`insert into knowledge_document_blobs (document_id, part, content)
             values (${documentId}, ${part}, ${Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength)})
             on conflict (document_id, part) do update set content = excluded.content`;
  }
}

/** Bytes stored for the document so far (read from the values' headers, not the values). */
export async function storedDocumentBytes(db: Db, documentId: string): Promise<number> {
  const [row] = await db<{ n: number }[]>`
    select coalesce(sum(octet_length(content)), 0)::bigint as n from knowledge_document_blobs where document_id = ${documentId}`;
  return Number(row?.n ?? 0);
}

/** Puts a failed document back to processing (a re-upload of the same bytes retries it). */
export async function resetFailedDocument(tx: Db, id: string): Promise<KnowledgeDocumentRow> {
  const [row] = await tx<KnowledgeDocumentRow[]>`
    update knowledge_documents set status = 'processing', error_message = null, updated_at = now()
    where id = ${id} and status = 'error' returning ${tx(COLUMNS)}`;
  return row!;
}

/**
 * Newest first; keyset pagination on (created_at desc, id desc): `after` is the last row of the previous page
 * (created_at is stored to the millisecond, migration 0200, so the cursor's JS date compares exactly).
 */
export async function listDocuments(
  db: Db,
  companyId: string,
  botId: string,
  page: { limit: number; after?: { createdAt: Date; id: string } },
): Promise<KnowledgeDocumentRow[]> {
  return db<KnowledgeDocumentRow[]>`
    select ${db(COLUMNS)} from knowledge_documents
    where company_id = ${companyId} and bot_id = ${botId} and replaces_id is null
      ${page.after ? db`and (created_at, id) < (${page.after.createdAt}, ${page.after.id})` : db``}
    order by created_at desc, id desc
    limit ${page.limit}`;
}

/** A document of the bot (never a pending new version: its id is nowhere in the API); undefined when none. */
export async function getDocument(db: Db, companyId: string, botId: string, id: string, lock = false): Promise<KnowledgeDocumentRow | undefined> {
  const [row] = await db<KnowledgeDocumentRow[]>`
    select ${db(COLUMNS)} from knowledge_documents
    where id = ${id} and company_id = ${companyId} and bot_id = ${botId} and replaces_id is null ${lock ? db`for update` : db``}`;
  return row;
}

/**
 * Of `documentIds`, the bot's documents that answer searches now, with the version they answer with
 * (`generation`): a deleted document is missing, a replaced one has a newer generation. One indexed read — a live
 * call asks it once per LLM request that shows passages (call/shown-passages.ts).
 */
export async function currentDocumentVersions(db: Db, companyId: string, botId: string, documentIds: readonly string[]): Promise<Map<string, number>> {
  if (documentIds.length === 0) return new Map();
  const rows = await db<{ id: string; generation: number }[]>`
    select id, generation from knowledge_documents
    where company_id = ${companyId} and bot_id = ${botId} and id = any(${[...documentIds]}::uuid[]) and status = 'ready' and replaces_id is null`;
  return new Map(rows.map((r) => [r.id, r.generation]));
}

export async function deleteDocumentRow(tx: Db, companyId: string, id: string): Promise<void> {
  // Chunks and the blob go with it (on delete cascade).
  await tx`delete from knowledge_documents where id = ${id} and company_id = ${companyId}`;
}

/**
 * What an ingestion job needs: the row, its bytes and the bot's language. Jobs carry only the document id.
 * `complete` is false when fewer bytes are stored than were uploaded: the upload stopped (the process died) while
 * writing its parts.
 */
export async function loadDocumentForIngest(
  db: Db,
  id: string,
): Promise<{ doc: KnowledgeDocumentRow; bytes: Uint8Array; language: 'en' | 'ru'; complete: boolean } | undefined> {
  const [row] = await db<(KnowledgeDocumentRow & { language: 'en' | 'ru' })[]>`
    select ${db(COLUMNS.map((c) => `d.${c}`))}, bot.language
    from knowledge_documents d
    join bots bot on bot.id = d.bot_id and bot.company_id = d.company_id
    where d.id = ${id}`;
  if (!row) return undefined;
  // A part per statement, as they were written: one 20 MB result would hold the connection (and the event loop
  // decoding it) for a few hundred milliseconds.
  const numbers = await db<{ part: number }[]>`select part from knowledge_document_blobs where document_id = ${id} order by part`;
  if (numbers.length === 0) return undefined;
  const parts: Buffer[] = [];
  for (const { part } of numbers) {
    const [p] = await db<{ content: Buffer }[]>`select content from knowledge_document_blobs where document_id = ${id} and part = ${part}`;
    if (p) parts.push(p.content);
  }
  const { language, ...doc } = row;
  const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return { doc, bytes, language, complete: bytes.length === doc.size_bytes };
}

/** Locks the document row for the status change; undefined when it was deleted meanwhile. */
export async function lockDocumentStatus(tx: Db, id: string): Promise<DocumentStatus | undefined> {
  const [row] = await tx<{ status: DocumentStatus }[]>`select status from knowledge_documents where id = ${id} for update`;
  return row?.status;
}

/**
 * The document's status under a share lock, for one batch of ingestion writes: batches (of this and of a second
 * worker) run side by side, while a status change (ready, failed) or a delete waits for the batch to commit, and a
 * batch that starts after one sees it. Undefined when the document was deleted.
 */
export async function shareDocumentStatus(tx: Db, id: string): Promise<DocumentStatus | undefined> {
  const [row] = await tx<{ status: DocumentStatus }[]>`select status from knowledge_documents where id = ${id} for share`;
  return row?.status;
}

export interface ChunkRow {
  id: string;
  companyId: string;
  botId: string;
  documentId: string;
  ordinal: number;
  text: string;
  page: number | null;
  section: string | null;
  tsConfig: 'english' | 'russian';
  createdAt: Date;
  /** The embedded vector store's vector (knowledge_chunks.embedding); absent or null with an external store. */
  embedding?: Float32Array | null;
  /** ChunkOwner.generation; default 0 (a document never replaced). */
  generation?: number;
}

/** A chunk's id is derived from its document and position, so a retried job writes the same ids (Qdrant points too). */
export function chunkId(documentId: string, ordinal: number): string {
  const h = createHash('sha256').update(`${documentId}:${ordinal}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Rows per insert statement: a statement's parameters are encoded in one go on the event loop that carries
 * calls (and on embedded PGlite the statement runs there too, full-text vectors included), so it stays small.
 */
const INSERT_ROWS = 100;

const chunkRecord = (c: ChunkRow) => ({
  id: c.id,
  company_id: c.companyId,
  bot_id: c.botId,
  document_id: c.documentId,
  ordinal: c.ordinal,
  text: c.text,
  page: c.page,
  section: c.section,
  ts_config: c.tsConfig,
  created_at: c.createdAt,
  embedding: c.embedding ? vectorToBytes(c.embedding) : null,
  generation: c.generation ?? 0,
});

export async function insertChunks(tx: Db, chunks: ChunkRow[]): Promise<void> {
  for (let i = 0; i < chunks.length; i += INSERT_ROWS) {
    await tx`insert into knowledge_chunks ${tx(chunks.slice(i, i + INSERT_ROWS).map(chunkRecord))}`;
  }
}

/**
 * Writes chunks, or overwrites the rows of the same ids (an earlier attempt at the same document wrote them: ids
 * are derived from document and ordinal). A row of another document or generation is never touched.
 */
export async function upsertChunks(tx: Db, chunks: ChunkRow[]): Promise<void> {
  for (let i = 0; i < chunks.length; i += INSERT_ROWS) {
    await tx`
      insert into knowledge_chunks ${tx(chunks.slice(i, i + INSERT_ROWS).map(chunkRecord))}
      on conflict (id) do update set
        ordinal = excluded.ordinal, text = excluded.text, page = excluded.page, section = excluded.section,
        ts_config = excluded.ts_config, created_at = excluded.created_at, embedding = excluded.embedding
      where knowledge_chunks.document_id = excluded.document_id and knowledge_chunks.generation = excluded.generation`;
  }
}

export async function deleteChunksOfDocument(tx: Db, documentId: string): Promise<void> {
  await tx`delete from knowledge_chunks where document_id = ${documentId}`;
}

/**
 * Deletes the owner's chunks whose ordinal is `fromOrdinal` or more (0: all of them); at most `limit` of them
 * when given, so a large document is removed in short transactions. Returns how many were deleted. Chunks of the
 * document's other generations (the version in use while a new one is written) are never touched.
 */
export async function deleteChunksFrom(tx: Db, owner: ChunkOwner, fromOrdinal: number, limit?: number): Promise<number> {
  const { documentId, generation } = owner;
  const rows = limit === undefined
    ? await tx`delete from knowledge_chunks where document_id = ${documentId} and generation = ${generation} and ordinal >= ${fromOrdinal} returning 1`
    : await tx`
      delete from knowledge_chunks where id in (
        select id from knowledge_chunks where document_id = ${documentId} and generation = ${generation} and ordinal >= ${fromOrdinal}
        order by ordinal limit ${limit})
      returning 1`;
  return rows.length;
}

/** How many chunk rows the owner has (from the (document_id, generation, ordinal) index). */
export async function countChunks(tx: Db, owner: ChunkOwner): Promise<number> {
  const [row] = await tx<{ n: number }[]>`
    select count(*)::int as n from knowledge_chunks where document_id = ${owner.documentId} and generation = ${owner.generation}`;
  return row?.n ?? 0;
}

export async function markDocumentReady(tx: Db, id: string, chunkCount: number, pageCount: number | null): Promise<void> {
  await tx`update knowledge_documents set status = 'ready', chunk_count = ${chunkCount}, page_count = ${pageCount},
           error_message = null, updated_at = now() where id = ${id}`;
}

/** True when the document was still processing (so exactly one failure is recorded and announced). */
export async function markDocumentFailed(tx: Db, id: string, message: string): Promise<boolean> {
  const rows = await tx`update knowledge_documents set status = 'error', error_message = ${message.slice(0, 1000)},
                        chunk_count = 0, updated_at = now() where id = ${id} and status = 'processing' returning id`;
  return rows.length > 0;
}
