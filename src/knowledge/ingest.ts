/**
 * Ingestion of one document, run by the durable job 'ingest_document': parse → chunk → embed in batches →
 * store → status 'ready', with the chunks, the vectors (embedded store) and the 'knowledge.ready' event written
 * in one transaction with the status change. Parsing, chunking and local embedding run in a worker thread
 * (ingest-pool.ts) within the ingestion limits (limits.ts); a cloud embedder is called from here (it is I/O).
 * A document over a limit, or one whose worker runs out of memory, time, or crashes, ends in 'error' at once. Idempotent, because a job can run twice (a crashed worker's lease
 * expires while it may still be running): the status is re-checked under a row lock before anything is written,
 * chunk ids are derived from (document, position), and an external store is cleaned of the document's vectors
 * whenever the transaction does not commit them.
 */
import type { RootSql } from '../db/sql.js';
import type { JobKind } from '../jobs/queue.js';
import type { Embedder, EmbeddingTokens } from '../providers/types.js';
import { emitEvent } from '../webhooks/emit.js';
import { LocalEmbedder } from '../providers/embeddings/local.js';
import { defaultIngestPool, IngestWorkerError, type IngestPool } from './ingest-pool.js';
import { DEFAULT_INGEST_LIMITS, DocumentParseError, type IngestLimits } from './limits.js';
import { embeddingText } from './chunk.js';
import { embeddingSource, embeddingUsage, writeIngestUsage } from '../usage/ingest-usage.js';
import {
  deleteChunksOfDocument,
  insertChunks,
  loadDocumentForIngest,
  lockDocumentStatus,
  markDocumentFailed,
  markDocumentReady,
  tsConfigFor,
  type ChunkRow,
  type KnowledgeDocumentRow,
} from './repo.js';
import type { VectorPoint, VectorStore } from './vector-store.js';

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
}

export type IngestOutcome = 'ready' | 'error' | 'skipped';

/** Removes the document's vectors from an external store; an embedded store's vectors go with their transaction. */
async function cleanUpExternal(deps: IngestDeps, doc: KnowledgeDocumentRow): Promise<void> {
  if (deps.store.name === 'postgres') return;
  await deps.store.deleteByDocument({ companyId: doc.company_id, botId: doc.bot_id, documentId: doc.id }).catch(() => {});
}

/** Records a permanent failure (status 'error' + 'knowledge.failed' in one transaction) unless already settled. */
export async function failDocument(deps: IngestDeps, doc: KnowledgeDocumentRow, message: string): Promise<void> {
  await deps.sql.begin(async (tx) => {
    if (!(await markDocumentFailed(tx, doc.id, message))) return;
    await emitEvent(tx, {
      companyId: doc.company_id,
      type: 'knowledge.failed',
      data: { document_id: doc.id, bot_id: doc.bot_id, filename: doc.filename, error_message: message },
      orderingKey: doc.id,
    });
  });
  await cleanUpExternal(deps, doc);
}

export interface IngestRun {
  signal?: AbortSignal;
  /**
   * The job's lease renewal (JobContext.renewLease), called after each embedding batch: a large document embedded
   * by a cloud API can outrun the lease, and without it another worker would claim the job and embed (and bill)
   * the whole document again. False: another claim has the job now, and this attempt stops, writing nothing.
   */
  renewLease?: () => Promise<boolean>;
}

export async function ingestDocument(deps: IngestDeps, documentId: string, run: IngestRun = {}): Promise<IngestOutcome> {
  const { signal, renewLease } = run;
  const loaded = await loadDocumentForIngest(deps.sql, documentId);
  if (!loaded || loaded.doc.status !== 'processing') return 'skipped';
  const { doc, bytes, language } = loaded;

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
  const createdAt = new Date();
  const tsConfig = tsConfigFor(language);
  const chunks: ChunkRow[] = [];
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
        documentId: doc.id,
        ordinal: p.ordinal,
        text: p.text,
        page: p.page,
        section: p.section,
        tsConfig,
        createdAt,
      };
      chunks.push(c);
      points.push({
        id: c.id,
        vector: vectors[j]!,
        payload: {
          doc_id: doc.id,
          bot_id: doc.bot_id,
          company_id: doc.company_id,
          text: c.text,
          source: doc.filename,
          page: c.page,
          section: c.section,
          created_at: createdAt.toISOString(),
        },
      });
    });
    // Thousands of chunks: give the event loop a turn now and then while building rows.
    if (processed.vectors && (i / batch) % 16 === 15) await new Promise((r) => setImmediate(r));
  }
  signal?.throwIfAborted();

  const external = deps.store.name !== 'postgres';
  if (renewLease && !(await renewLease())) return 'skipped';
  if (external) {
    // Points from an earlier, crashed attempt may include ordinals this attempt no longer produces.
    await deps.store.deleteByDocument({ companyId: doc.company_id, botId: doc.bot_id, documentId: doc.id });
    await deps.store.upsert(points, deps.sql);
  }
  let outcome: IngestOutcome = 'ready';
  let deleted = false;
  try {
    await deps.sql.begin(async (tx) => {
      const status = await lockDocumentStatus(tx, doc.id);
      if (status !== 'processing') {
        // Deleted meanwhile, or another worker finished it (its points have the same ids and vectors).
        deleted = status === undefined;
        outcome = 'skipped';
        return;
      }
      await deleteChunksOfDocument(tx, doc.id);
      await insertChunks(tx, chunks);
      if (!external) await deps.store.upsert(points, tx);
      await markDocumentReady(tx, doc.id, chunks.length, pageCount);
      // What embedding this version cost, counted once: only the attempt that makes the document ready writes it.
      await writeIngestUsage(tx, {
        companyId: doc.company_id, botId: doc.bot_id, documentId: doc.id,
        usage: processed.vectors
          ? embeddingUsage(deps.embedder, processed.chunks.map(embeddingText))
          : { ...embeddingSource(deps.embedder), tokens: billed.tokens },
      });
      await emitEvent(tx, {
        companyId: doc.company_id,
        type: 'knowledge.ready',
        data: { document_id: doc.id, bot_id: doc.bot_id, filename: doc.filename, chunk_count: chunks.length },
        orderingKey: doc.id,
      });
    });
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
