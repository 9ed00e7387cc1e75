/**
 * Wiring for the knowledge base: the vector store chosen by settings, the retriever, the ingestion job kind
 * and the search_knowledge tool, built from one place (the REST routes are api/routes/knowledge.ts).
 */
import type { Tool } from '../call/tool-types.js';
import type { RootSql } from '../db/sql.js';
import type { JobKind } from '../jobs/queue.js';
import type { Embedder } from '../providers/types.js';
import { ingestJobKind, INGEST_JOB_KIND } from './ingest.js';
import { IngestPool } from './ingest-pool.js';
import { PgVectorStore } from './pg-vector-store.js';
import { QdrantVectorStore } from './qdrant-vector-store.js';
import { Retriever } from './retrieve.js';
import { searchKnowledgeTool } from './tool.js';
import type { VectorStore } from './vector-store.js';

export interface KnowledgeSettings {
  QDRANT_URL?: string | undefined;
  QDRANT_API_KEY?: string | undefined;
  QDRANT_COLLECTION: string;
  UPLOAD_MAX_BYTES: number;
  CHUNK_SIZE: number;
  CHUNK_OVERLAP: number;
  INGEST_CONCURRENCY: number;
  INGEST_MAX_EXPANDED_BYTES: number;
  INGEST_MAX_XML_BYTES: number;
  INGEST_MAX_PAGES: number;
  INGEST_MAX_CHARS: number;
  INGEST_MAX_CHUNKS: number;
  INGEST_WORKER_MEMORY_MB: number;
  INGEST_TIMEOUT_MS: number;
  RETRIEVAL_TOP_K: number;
  /** Default DEFAULT_KNOWLEDGE_QUOTAS.maxChunksPerBot. */
  KNOWLEDGE_MAX_CHUNKS_PER_BOT?: number;
}

export interface Knowledge {
  store: VectorStore;
  retriever: Retriever;
  /** Spread into JobWorker `kinds`. */
  jobKinds: Record<string, JobKind>;
  tool: Tool;
  /** The ingestion worker processes (started on the first document; idle ones never hold the process open). */
  pool: IngestPool;
}

export function createKnowledge(deps: {
  sql: RootSql; embedder: Embedder; settings: KnowledgeSettings;
  /** The database for ingestion jobs, which nobody waits on (a longer query deadline); default `sql`. */
  backgroundSql?: RootSql;
}): Knowledge {
  const { sql, embedder, settings } = deps;
  const store: VectorStore = settings.QDRANT_URL
    ? new QdrantVectorStore({ url: settings.QDRANT_URL, apiKey: settings.QDRANT_API_KEY, collection: settings.QDRANT_COLLECTION, dimensions: embedder.dimensions })
    : new PgVectorStore({ sql, dimensions: embedder.dimensions });
  // Neural embedders put unrelated texts closer together than the hashing embedder does.
  const retriever = new Retriever({ sql, embedder, store, topK: settings.RETRIEVAL_TOP_K, minVectorScore: embedder.name === 'local-hash' ? 0.2 : 0.3 });
  // One long-lived worker process per concurrent ingestion job: parsing, chunking and local embedding stay off
  // the event loop that carries calls.
  const pool = new IngestPool({ size: settings.INGEST_CONCURRENCY, memoryMb: settings.INGEST_WORKER_MEMORY_MB, timeoutMs: settings.INGEST_TIMEOUT_MS });
  const limits = {
    maxExpandedBytes: settings.INGEST_MAX_EXPANDED_BYTES,
    maxXmlBytes: settings.INGEST_MAX_XML_BYTES,
    maxPages: settings.INGEST_MAX_PAGES,
    maxChars: settings.INGEST_MAX_CHARS,
    maxChunks: settings.INGEST_MAX_CHUNKS,
  };
  const ingest = ingestJobKind({
    sql: deps.backgroundSql ?? sql, embedder, store, chunkSize: settings.CHUNK_SIZE, chunkOverlap: settings.CHUNK_OVERLAP, concurrency: settings.INGEST_CONCURRENCY, pool, limits,
    ...(settings.KNOWLEDGE_MAX_CHUNKS_PER_BOT ? { maxChunksPerBot: settings.KNOWLEDGE_MAX_CHUNKS_PER_BOT } : {}),
  });
  return {
    store,
    retriever,
    jobKinds: { [INGEST_JOB_KIND]: invalidatingAfter(ingest, retriever) },
    tool: searchKnowledgeTool(retriever),
    pool,
  };
}

/** After an ingestion commits, this process's retriever must not keep believing the bot has no chunks. */
function invalidatingAfter(kind: JobKind, retriever: Retriever): JobKind {
  return {
    ...kind,
    handler: async (payload, ctx) => {
      try {
        await kind.handler(payload, ctx);
      } finally {
        retriever.invalidate();
      }
    },
  };
}

export { INGEST_JOB_KIND } from './ingest.js';
export type { BotRetriever, BotScope, RetrievedChunk } from './retrieve.js';
