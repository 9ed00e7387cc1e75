/**
 * The CPU-heavy half of ingestion, with no database and no I/O: parse the bytes (within the limits), cut the
 * blocks into chunks, and embed them with the local hashing embedder when that is the embedder in use. It runs
 * in an ingestion worker process (ingest-worker.ts), never on the event loop that carries calls; results go back
 * in batches so no single message is large.
 */
import { embedOne } from '../providers/embeddings/local.js';
import { chunkBlocks, embeddingText, type TextChunk } from './chunk.js';
import type { DocumentKind } from './detect-type.js';
import type { IngestLimits } from './limits.js';
import { parseDocument } from './parse.js';
import { chunkId } from './repo.js';

export interface ProcessTask {
  /** Chunk ids are derived from it (repo.ts chunkId), here rather than on the main thread. */
  documentId: string;
  kind: DocumentKind;
  bytes: Uint8Array;
  chunkSize: number;
  chunkOverlap: number;
  limits: IngestLimits;
  /** Embed with the local hashing embedder at this many dimensions; null when the caller embeds (a cloud embedder). */
  localEmbedDimensions: number | null;
}

export type IdentifiedChunk = TextChunk & { id: string };

export interface ChunkBatch {
  chunks: IdentifiedChunk[];
  /** chunks.length × dimensions floats, row by row; null when not embedded here. */
  vectors: Float32Array | null;
}

export interface ProcessSummary {
  pageCount: number | null;
  chunkCount: number;
}

/** Chunks per result message. */
export const BATCH_CHUNKS = 200;

/**
 * A turn of the event loop between batches: the batches already sent drain to the parent as they go, and the
 * worker hears its parent leave ('disconnect') within a batch rather than after the whole document.
 */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function processDocument(task: ProcessTask, onBatch: (batch: ChunkBatch) => void): Promise<ProcessSummary> {
  const parsed = await parseDocument(task.kind, task.bytes, task.limits);
  const chunks = chunkBlocks(parsed.blocks, { size: task.chunkSize, overlap: task.chunkOverlap, maxChunks: task.limits.maxChunks });
  parsed.blocks.length = 0; // the blocks are no longer needed; let them go before embedding
  const dims = task.localEmbedDimensions;
  for (let i = 0; i < chunks.length; i += BATCH_CHUNKS) {
    const slice = chunks.slice(i, i + BATCH_CHUNKS).map((c) => ({ ...c, id: chunkId(task.documentId, c.ordinal) }));
    let vectors: Float32Array | null = null;
    if (dims !== null) {
      vectors = new Float32Array(slice.length * dims);
      slice.forEach((c, j) => vectors!.set(embedOne(embeddingText(c), dims), j * dims));
    }
    onBatch({ chunks: slice, vectors });
    await yieldToEventLoop();
  }
  return { pageCount: parsed.pageCount, chunkCount: chunks.length };
}
