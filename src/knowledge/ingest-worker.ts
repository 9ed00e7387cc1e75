/**
 * Entry point of an ingestion worker thread (started by ingest-pool.ts): runs processDocument for one task at a
 * time and posts its batches back. The thread has its own heap limit; if a document exhausts it, or runs past
 * the timeout, the pool terminates the thread and records the document as failed, and the main thread, which
 * carries the calls, never notices.
 */
import { parentPort } from 'node:worker_threads';
import { DocumentParseError } from './limits.js';
import { processDocument, type IdentifiedChunk, type ProcessTask } from './process-document.js';

export type WorkerRequest = { type: 'task'; id: number; task: ProcessTask };

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'batch'; id: number; chunks: IdentifiedChunk[]; vectors: Float32Array | null }
  | { type: 'done'; id: number; pageCount: number | null; chunkCount: number }
  /** permanent: the document itself is at fault (a DocumentParseError), so retrying cannot help. */
  | { type: 'failed'; id: number; message: string; permanent: boolean };

const port = parentPort;
if (!port) throw new Error('ingest-worker.ts runs only as a worker thread');

const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

port.on('message', (msg: WorkerRequest) => {
  if (msg.type !== 'task') return;
  const { id, task } = msg;
  processDocument(task, (batch) => post({ type: 'batch', id, ...batch }, batch.vectors ? [batch.vectors.buffer as ArrayBuffer] : []))
    .then((summary) => post({ type: 'done', id, ...summary }))
    .catch((err: unknown) => {
      const permanent = err instanceof DocumentParseError;
      const message = err instanceof Error ? err.message : String(err);
      post({ type: 'failed', id, message: message.slice(0, 1000), permanent });
    });
});

post({ type: 'ready' });
