/**
 * Ingestion of one document, run by the durable job 'ingest_document': parse → chunk → embed in batches →
 * store → status 'ready'. Parsing, chunking and local embedding run in a worker process (ingest-pool.ts) within the
 * ingestion limits (limits.ts); a cloud embedder is called from here (it is I/O). A document over a limit, or one
 * whose worker runs out of memory, time, or crashes, ends in 'error' at once.
 *
 * No step holds the database for longer than a small batch: with embedded PGlite the server has one connection,
 * and a transaction writing a large document's 37,000 chunks held it (every tenant's queries, every live call's
 * writes) for ~11 s. So the chunks, with their vectors in the embedded store, are written a batch of
 * `writeBatchSize` rows per transaction, yielding to the event loop in between, while the document is still
 * 'processing' — retrieval reads only chunks of ready documents (retrieve.ts joins the status; the embedded
 * store's matrix holds ready documents only) — and one short last transaction locks the status and, if it is still
 * 'processing', makes the document ready with its usage and the 'knowledge.ready' event.
 *
 * Idempotent, because a job can run twice (a crashed worker's lease expires while it may still be running), and
 * restartable after a crash mid-way: chunk ids are derived from (document, position) and each batch overwrites the
 * rows of those ids, so a retry rewrites what an earlier attempt wrote, then removes that attempt's rows past its
 * own last ordinal; the last transaction counts the rows before it makes the document ready. Each batch checks,
 * under a share lock on the document row, that the document is still 'processing' and stops otherwise (deleted:
 * the rows went with it; ready: another worker finished it, its rows are left alone; error: given up). The job's
 * lease is renewed between batches, and an attempt that lost it stops writing. An external store is cleaned of the
 * document's vectors whenever the document does not become ready through this attempt for a reason other than
 * another attempt's claim or finish.
 *
 * A bot's chunks are capped (KNOWLEDGE_MAX_CHUNKS_PER_BOT, quotas.ts): a document that would take its bot past the
 * cap ends in 'error' naming the limit — checked once it is chunked, before anything is embedded or written, and
 * again under the bot's row lock in the transaction that would make it ready (two documents finishing at once
 * cannot both pass), where its chunks are removed again. It counts against the bot's ready documents other than
 * itself.
 *
 * A new version of a document (documents.ts, replace) is ingested the same way as its own hidden row, with its
 * chunks written under the document it replaces, in a generation of its own (repo.ts, ChunkOwner): searches read
 * only the document's current generation, so the old version answers meanwhile. The transaction that would make
 * the version ready instead makes it the document's content (promoteNewVersion: the same id, its chunks counted
 * instead of the old ones); the old chunks are removed afterwards. A version that fails leaves the document as it
 * was, and says why in the document's `replacement` and in 'knowledge.failed' (`replacement: true`).
 */
import type { Db, RootSql } from '../db/sql.js';
import type { JobKind } from '../jobs/queue.js';
import type { Embedder, EmbeddingTokens } from '../providers/types.js';
import { emitEvent } from '../webhooks/emit.js';
import { LocalEmbedder } from '../providers/embeddings/local.js';
import { defaultIngestPool, IngestWorkerError, type IngestPool } from './ingest-pool.js';
import { DEFAULT_INGEST_LIMITS, DocumentParseError, type IngestLimits } from './limits.js';
import { embeddingText } from './chunk.js';
import { embeddingSource, embeddingUsage, writeIngestUsage } from '../usage/ingest-usage.js';
import { bumpIndexVersion } from './pg-vector-store.js';
import {
  chunkOwner,
  countChunks,
  deleteChunksFrom,
  loadDocumentForIngest,
  lockDocumentStatus,
  markDocumentFailed,
  markDocumentReady,
  promoteNewVersion,
  shareDocumentStatus,
  tsConfigFor,
  upsertChunks,
  type ChunkRow,
  type DocumentStatus,
  type KnowledgeDocumentRow,
} from './repo.js';
import { chunkQuotaFailure, DEFAULT_KNOWLEDGE_QUOTAS, lockBotQuota, readyChunksOfBot } from './quotas.js';
import type { VectorPoint, VectorStore } from './vector-store.js';
import { removeStaleChunks } from './versions.js';

export const INGEST_JOB_KIND = 'ingest_document';

export interface IngestDeps {
  sql: RootSql;
  embedder: Embedder;
  store: VectorStore;
  chunkSize: number;
  chunkOverlap: number;
  /** Texts per embed() call (cloud embedders); default 64. */
  embedBatchSize?: number;
  /** Worker threads that parse, chunk and locally embed; default: a shared pool of two. */
  pool?: IngestPool;
  /** Default DEFAULT_INGEST_LIMITS. */
  limits?: IngestLimits;
  /** Chunk rows (with their embedded vectors) written per transaction; default WRITE_BATCH_ROWS. */
  writeBatchSize?: number;
  /** KNOWLEDGE_MAX_CHUNKS_PER_BOT; default DEFAULT_KNOWLEDGE_QUOTAS.maxChunksPerBot. */
  maxChunksPerBot?: number;
}

/**
 * Chunk rows per write transaction. A batch of 250 chunks of ~800 characters with 384-dimension vectors holds
 * embedded PGlite's only connection for a few tens of milliseconds (full-text vectors are computed as rows are
 * written); the 37,000 chunks of a 20 MB text held it for ~11 s in one transaction.
 */
export const WRITE_BATCH_ROWS = 250;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const batchRows = (deps: IngestDeps): number => Math.max(1, Math.floor(deps.writeBatchSize ?? WRITE_BATCH_ROWS));

export type IngestOutcome = 'ready' | 'error' | 'skipped';

/**
 * Removes the vectors this row's ingestion wrote from an external store (a new version's: only its generation);
 * an embedded store's vectors go with their chunk rows.
 */
async function cleanUpExternal(deps: IngestDeps, doc: KnowledgeDocumentRow): Promise<void> {
  if (deps.store.name === 'postgres') return;
  const { documentId, generation } = chunkOwner(doc);
  await deps.store.deleteByDocument({ companyId: doc.company_id, botId: doc.bot_id, documentId, ...(doc.replaces_id ? { generation } : {}) }).catch(() => {});
}

/**
 * Deletes the chunks `doc`'s ingestion writes (chunkOwner) from ordinal `fromOrdinal` on, a batch per short
 * transaction, for as long as `doc`'s status is `status` (checked under a share lock in each). Returns the status
 * last seen: `status` when all are gone; another (undefined: the row is gone) when it changed and the deleting stopped.
 */
async function removeChunks(
  deps: IngestDeps,
  doc: KnowledgeDocumentRow,
  fromOrdinal: number,
  status: DocumentStatus,
): Promise<DocumentStatus | undefined> {
  const size = batchRows(deps);
  const owner = chunkOwner(doc);
  for (;;) {
    let deleted = 0;
    const current = await deps.sql.begin(async (tx) => {
      const s = await shareDocumentStatus(tx, doc.id);
      if (s === status) deleted = await deleteChunksFrom(tx, owner, fromOrdinal, size);
      return s;
    });
    if (current !== status || deleted < size) return current;
    await nextTurn();
  }
}

/**
 * Status 'error' and the 'knowledge.failed' event, in `tx`, unless the row is no longer processing. A new version's
 * event names the document it would have replaced (`replacement: true`: that document keeps its content).
 */
async function recordFailure(tx: Db, doc: KnowledgeDocumentRow, message: string): Promise<void> {
  if (!(await markDocumentFailed(tx, doc.id, message))) return;
  const documentId = doc.replaces_id ?? doc.id;
  await emitEvent(tx, {
    companyId: doc.company_id,
    type: 'knowledge.failed',
    data: { document_id: documentId, bot_id: doc.bot_id, filename: doc.filename, error_message: message, replacement: doc.replaces_id !== null },
    orderingKey: documentId,
  });
}

/**
 * Removes what an attempt at a failed document had written (chunks of a document that is not ready are never
 * searched, but they take room and full-text candidates).
 */
async function removeFailedChunks(deps: IngestDeps, doc: KnowledgeDocumentRow): Promise<void> {
  // Stops as soon as the document is no longer in error (a re-upload of the same bytes put it back to processing).
  await removeChunks(deps, doc, 0, 'error');
  await cleanUpExternal(deps, doc);
}

/** Records a permanent failure unless already settled, then removes what an interrupted attempt had written. */
export async function failDocument(deps: IngestDeps, doc: KnowledgeDocumentRow, message: string): Promise<void> {
  await deps.sql.begin((tx) => recordFailure(tx, doc, message));
  await removeFailedChunks(deps, doc);
}

const chunkCap = (deps: IngestDeps): number => deps.maxChunksPerBot ?? DEFAULT_KNOWLEDGE_QUOTAS.maxChunksPerBot;

/**
 * Writes the chunk rows a batch per transaction while the document is 'processing'. 'written' when all are;
 * otherwise why it stopped: the document was deleted ('deleted'), settled by another attempt ('settled': ready, or
 * failed), or this attempt lost the job's lease ('lease').
 */
async function writeChunkBatches(
  deps: IngestDeps,
  documentId: string,
  chunks: ChunkRow[],
  run: IngestRun,
): Promise<'written' | 'deleted' | 'settled' | 'lease'> {
  const size = batchRows(deps);
  for (let i = 0; i < chunks.length; i += size) {
    if (i > 0) {
      // Whatever queued behind this batch (other tenants, live calls) runs before the next one starts.
      await nextTurn();
      if (run.renewLease && !(await run.renewLease())) return 'lease';
    }
    run.signal?.throwIfAborted();
    const status = await deps.sql.begin(async (tx) => {
      const s = await shareDocumentStatus(tx, documentId);
      if (s === 'processing') await upsertChunks(tx, chunks.slice(i, i + size));
      return s;
    });
    if (status !== 'processing') return status === undefined ? 'deleted' : 'settled';
  }
  return 'written';
}

export interface IngestRun {
  signal?: AbortSignal;
  /**
   * The job's lease renewal (JobContext.renewLease), called after each embedding batch and between write batches:
   * a large document embedded by a cloud API can outrun the lease, and without it another worker would claim the
   * job and embed (and bill) the whole document again. False: another claim has the job now, and this attempt
   * stops, writing nothing more.
   */
  renewLease?: () => Promise<boolean>;
}

export async function ingestDocument(deps: IngestDeps, documentId: string, run: IngestRun = {}): Promise<IngestOutcome> {
  const { signal, renewLease } = run;
  const loaded = await loadDocumentForIngest(deps.sql, documentId);
  if (!loaded || loaded.doc.status !== 'processing') return 'skipped';
  const { doc, bytes, language } = loaded;
  if (!loaded.complete) {
    // The upload stopped while writing the bytes (documents.ts): its job ran after the grace period.
    await failDocument(deps, doc, 'The upload did not complete; upload the file again');
    return 'error';
  }

  // The local hashing embedder is CPU work: it runs in the worker with parsing. Anything else is called from here.
  const localDims = deps.embedder instanceof LocalEmbedder ? deps.embedder.dimensions : null;
  let processed;
  try {
    if (!doc.kind) throw new DocumentParseError('The document type is unknown');
    processed = await (deps.pool ?? defaultIngestPool()).run(
      {
        documentId: doc.id,
        kind: doc.kind,
        bytes,
        chunkSize: deps.chunkSize,
        chunkOverlap: deps.chunkOverlap,
        limits: deps.limits ?? DEFAULT_INGEST_LIMITS,
        localEmbedDimensions: localDims,
      },
      signal,
    );
  } catch (err) {
    if (signal?.aborted) throw err;
    if (!(err instanceof DocumentParseError) && !(err instanceof IngestWorkerError && err.permanent)) throw err;
    await failDocument(deps, doc, err.message);
    return 'error';
  }
  const { pageCount } = processed;
  // Before anything is embedded (a cloud embedder bills it) or written; checked again when it would become ready.
  // A new version counts instead of the document it replaces.
  const overCap = chunkQuotaFailure(await readyChunksOfBot(deps.sql, doc.bot_id, doc.id, doc.replaces_id), processed.chunks.length, chunkCap(deps));
  if (overCap) {
    await failDocument(deps, doc, overCap);
    return 'error';
  }
  const createdAt = new Date();
  const tsConfig = tsConfigFor(language);
  const owner = chunkOwner(doc);
  const external = deps.store.name !== 'postgres';
  const chunks: ChunkRow[] = [];
  // An external store's points; the embedded store's vectors travel in the chunk rows (ChunkRow.embedding).
  const points: VectorPoint[] = [];
  const batch = deps.embedBatchSize ?? 64;
  const billed: EmbeddingTokens = { tokens: 0 };
  for (let i = 0; i < processed.chunks.length; i += batch) {
    signal?.throwIfAborted();
    const slice = processed.chunks.slice(i, i + batch);
    const vectors = processed.vectors
      ? processed.vectors.slice(i, i + batch)
      : await deps.embedder.embed(slice.map(embeddingText), signal, billed);
    if (!processed.vectors && renewLease && !(await renewLease())) return 'skipped';
    slice.forEach((p, j) => {
      const c: ChunkRow = {
        id: p.id,
        companyId: doc.company_id,
        botId: doc.bot_id,
        documentId: owner.documentId,
        generation: owner.generation,
        ordinal: p.ordinal,
        text: p.text,
        page: p.page,
        section: p.section,
        tsConfig,
        createdAt,
        embedding: external ? null : vectors[j]!,
      };
      chunks.push(c);
      if (!external) return;
      points.push({
        id: c.id,
        vector: vectors[j]!,
        payload: {
          doc_id: owner.documentId,
          bot_id: doc.bot_id,
          company_id: doc.company_id,
          text: c.text,
          source: doc.filename,
          page: c.page,
          section: c.section,
          created_at: createdAt.toISOString(),
          generation: owner.generation,
        },
      });
    });
    // Thousands of chunks: give the event loop a turn now and then while building rows.
    if (processed.vectors && (i / batch) % 16 === 15) await nextTurn();
  }
  signal?.throwIfAborted();

  if (renewLease && !(await renewLease())) return 'skipped';
  if (external) {
    // Points from an earlier, crashed attempt may include ordinals this attempt no longer produces (a new version:
    // only its own generation's, the document's current points still answer).
    await deps.store.deleteByDocument({ companyId: doc.company_id, botId: doc.bot_id, documentId: owner.documentId, ...(doc.replaces_id ? { generation: owner.generation } : {}) });
    await deps.store.upsert(points, deps.sql);
  }
  let outcome: IngestOutcome = 'ready';
  let deleted = false;
  try {
    let written = await writeChunkBatches(deps, doc.id, chunks, run);
    // Another claim holds the job now and writes the same rows (and points): nothing of its to undo.
    if (written === 'lease') return 'skipped';
    if (written === 'written') {
      // Rows an earlier attempt wrote past this attempt's last ordinal (it chunked differently), a batch at a time.
      const status = await removeChunks(deps, doc, chunks.length, 'processing');
      if (status !== 'processing') written = status === undefined ? 'deleted' : 'settled';
    }
    if (written !== 'written') {
      // Deleted meanwhile (its rows went with it), or another worker finished it (its points have the same ids
      // and vectors) or gave it up (failDocument cleans up).
      deleted = written === 'deleted';
      outcome = 'skipped';
    } else {
      // Counted before the transaction: estimating tens of thousands of texts is not work to hold the database for.
      const usage = processed.vectors
        ? embeddingUsage(deps.embedder, processed.chunks.map(embeddingText))
        : { ...embeddingSource(deps.embedder), tokens: billed.tokens };
      let overCapAtEnd = false;
      await deps.sql.begin(async (tx) => {
        // The bot's row before the document's: a bot being deleted holds its row, then deletes its documents' rows.
        await lockBotQuota(tx, doc.bot_id);
        // A new version: the document it replaces before the version's row (a delete or another replacement
        // of the document locks them in that order).
        if (doc.replaces_id) await lockDocumentStatus(tx, doc.replaces_id);
        const status = await lockDocumentStatus(tx, doc.id);
        if (status !== 'processing') {
          deleted = status === undefined;
          outcome = 'skipped';
          return;
        }
        // Other documents of the bot became ready since the check before embedding.
        const overCap = chunkQuotaFailure(await readyChunksOfBot(tx, doc.bot_id, doc.id, doc.replaces_id), chunks.length, chunkCap(deps));
        if (overCap) {
          await recordFailure(tx, doc, overCap);
          overCapAtEnd = true;
          outcome = 'error';
          return;
        }
        // Normally nothing: rows past this attempt's last ordinal that another attempt wrote since the removal above.
        await deleteChunksFrom(tx, owner, chunks.length);
        const stored = await countChunks(tx, owner);
        if (stored !== chunks.length) {
          // Another attempt, chunking this document differently, removed some of these rows: the job runs again.
          throw new Error(`Document ${doc.id} has ${stored} chunk rows instead of ${chunks.length}; indexing it again`);
        }
        if (doc.replaces_id) await promoteNewVersion(tx, doc, chunks.length, pageCount);
        else await markDocumentReady(tx, doc.id, chunks.length, pageCount);
        // The embedded store's matrices now include this document: every instance reloads the bot's.
        if (!external) await bumpIndexVersion(tx, doc.bot_id);
        // What embedding this version cost, counted once: only the attempt that makes the document ready writes it.
        await writeIngestUsage(tx, { companyId: doc.company_id, botId: doc.bot_id, documentId: owner.documentId, usage });
        await emitEvent(tx, {
          companyId: doc.company_id,
          type: 'knowledge.ready',
          data: { document_id: owner.documentId, bot_id: doc.bot_id, filename: doc.filename, chunk_count: chunks.length, replacement: doc.replaces_id !== null },
          orderingKey: owner.documentId,
        });
      });
      if (overCapAtEnd) await removeFailedChunks(deps, doc);
      // The replaced version's chunks (nothing reads them since the commit above) and vectors.
      else if (outcome === 'ready' && doc.replaces_id) await removeStaleChunks(deps, { companyId: doc.company_id, botId: doc.bot_id, documentId: doc.replaces_id });
    }
  } catch (err) {
    await cleanUpExternal(deps, doc);
    throw err;
  }
  if (deleted) await cleanUpExternal(deps, doc);
  return outcome;
}

/** The JobKind the lead plugs into the JobWorker under INGEST_JOB_KIND, with concurrency from INGEST_CONCURRENCY. */
export function ingestJobKind(deps: IngestDeps & { concurrency: number }): JobKind {
  return {
    concurrency: deps.concurrency,
    handler: async (payload, ctx) => {
      await ingestDocument(deps, String(payload.documentId), { signal: ctx.signal, renewLease: ctx.renewLease });
    },
    onGiveUp: async (payload, error) => {
      const loaded = await loadDocumentForIngest(deps.sql, String(payload.documentId));
      if (!loaded) return;
      await failDocument(deps, loaded.doc, `Indexing failed after several attempts: ${error.message.slice(0, 300)}`);
    },
  };
}
