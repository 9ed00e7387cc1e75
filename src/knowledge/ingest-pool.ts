/**
 * A small pool of long-lived ingestion worker threads (ingest-worker.ts), so parsing, chunking and local
 * embedding never run on the event loop that carries calls. Each thread starts once and serves one document at
 * a time; it has a heap limit (`memoryMb`, V8's maxOldGenerationSizeMb) and every document a deadline
 * (`timeoutMs`). A thread that runs out of memory, crashes or overruns is terminated and replaced on the next
 * document, and the document's promise rejects with an IngestWorkerError saying why; the process lives on.
 *
 * The worker file is ingest-worker.ts under tsx and vitest (loaded through tsx's ESM hooks inside the thread)
 * and ingest-worker.js in the built dist/.
 */
import { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../util/module-worker.js';
import type { WorkerReply, WorkerRequest } from './ingest-worker.js';
import { DocumentParseError } from './limits.js';
import type { IdentifiedChunk, ProcessTask } from './process-document.js';

export interface IngestPoolOptions {
  /** Worker threads at most (documents processed at once); default 1. */
  size?: number;
  /** Heap limit of each thread, MB; default 1024. */
  memoryMb?: number;
  /** Deadline for one document, from the moment it is handed to a thread; default 120 s. */
  timeoutMs?: number;
  /** Test hook: source of a replacement worker (CommonJS, run with eval) in place of ingest-worker. */
  workerSource?: string;
}

export interface ProcessResult {
  chunks: IdentifiedChunk[];
  /** One vector per chunk when the local embedder ran in the worker, else null. */
  vectors: Float32Array[] | null;
  pageCount: number | null;
}

/**
 * The worker thread died or was stopped. `permanent`: the document is to blame (memory, time, a crash while
 * reading it), so the same bytes would fail again; otherwise (the thread could not start) a retry may succeed.
 */
export class IngestWorkerError extends Error {
  constructor(
    message: string,
    readonly reason: 'memory' | 'timeout' | 'crash' | 'start',
  ) {
    super(message);
    this.name = 'IngestWorkerError';
  }

  get permanent(): boolean {
    return this.reason !== 'start';
  }
}

const fmtDuration = (ms: number): string => (ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`);

function spawnWorker(options: IngestPoolOptions): Worker {
  const resourceLimits = { maxOldGenerationSizeMb: options.memoryMb ?? 1024, stackSizeMb: 4 };
  if (options.workerSource) return new Worker(options.workerSource, { eval: true, resourceLimits });
return startModuleWorker(import.meta.url, 'ingest-worker', { resourceLimits });
}

interface Slot {
  worker: Worker | null;
  ready: Promise<void> | null;
  busy: boolean;
}

export class IngestPool {
  private readonly slots: Slot[];
  private readonly waiting: Array<(slot: Slot) => void> = [];
  private nextId = 1;
  private closed = false;
  /** Threads started so far (a replacement after a crash counts again). */
  started = 0;

  constructor(private readonly options: IngestPoolOptions = {}) {
    this.slots = Array.from({ length: Math.max(1, options.size ?? 1) }, () => ({ worker: null, ready: null, busy: false }));
  }

  get memoryMb(): number {
    return this.options.memoryMb ?? 1024;
  }

  get timeoutMs(): number {
    return this.options.timeoutMs ?? 120_000;
  }

  /** Parses, chunks and (local embedder) embeds one document in a worker thread. */
  async run(task: ProcessTask, signal?: AbortSignal): Promise<ProcessResult> {
    if (this.closed) throw new Error('The ingestion pool is closed');
    signal?.throwIfAborted();
    const slot = await this.acquire(signal);
    try {
      const worker = await this.workerOf(slot);
      signal?.throwIfAborted();
      return await this.runOn(slot, worker, task, signal);
    } finally {
      this.release(slot);
    }
  }

  /** Terminates every thread (idle threads are unref'd and never hold the process open anyway). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => this.kill(s)));
  }

  private acquire(signal?: AbortSignal): Promise<Slot> {
    const free = this.slots.find((s) => !s.busy);
    if (free) {
      free.busy = true;
      return Promise.resolve(free);
    }
    return new Promise<Slot>((resolve, reject) => {
      const take = (slot: Slot) => {
        signal?.removeEventListener('abort', onAbort);
        slot.busy = true;
        resolve(slot);
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(take);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(take);
    });
  }

  private release(slot: Slot): void {
    slot.busy = false;
    const next = this.waiting.shift();
    if (next) next(slot);
  }

  private async kill(slot: Slot): Promise<void> {
    const w = slot.worker;
    slot.worker = null;
    slot.ready = null;
    if (w) await w.terminate().catch(() => {});
  }

  /** The slot's thread, started (once) if it has none; resolves when the thread has loaded its code. */
  private workerOf(slot: Slot): Promise<Worker> {
    if (!slot.worker) {
      const worker = spawnWorker(this.options);
      this.started++;
      worker.unref();
      slot.worker = worker;
      slot.ready = new Promise<void>((resolve, reject) => {
        const onMessage = (m: WorkerReply) => {
          if (m.type !== 'ready') return;
          cleanup();
          resolve();
        };
        const onError = (err: Error) => {
          cleanup();
          reject(new IngestWorkerError(`The ingestion worker could not start: ${err.message}`, 'start'));
        };
        const onExit = (code: number) => onError(new Error(`exited with code ${code}`));
        const cleanup = () => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
        worker.on('message', onMessage);
        worker.once('error', onError);
        worker.once('exit', onExit);
      });
      // A thread that fails to start is dropped so the next document tries a fresh one.
      slot.ready.catch(() => {
        if (slot.worker === worker) void this.kill(slot);
      });
    }
    const worker = slot.worker;
    return slot.ready!.then(() => worker);
  }

  private runOn(slot: Slot, worker: Worker, task: ProcessTask, signal?: AbortSignal): Promise<ProcessResult> {
    const id = this.nextId++;
    const chunks: IdentifiedChunk[] = [];
    let vectors: Float32Array[] | null = task.localEmbedDimensions === null ? null : [];
    return new Promise<ProcessResult>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, result?: ProcessResult, killWorker = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (killWorker || err instanceof IngestWorkerError) void this.kill(slot);
        if (err) reject(err);
        else resolve(result!);
      };
      const onMessage = (m: WorkerReply) => {
        if (m.type === 'ready' || m.id !== id) return;
        if (m.type === 'batch') {
          chunks.push(...m.chunks);
          if (vectors && m.vectors) {
            const dims = task.localEmbedDimensions!;
            for (let j = 0; j < m.chunks.length; j++) vectors.push(m.vectors.subarray(j * dims, (j + 1) * dims));
          } else vectors = null;
        } else if (m.type === 'done') {
          finish(null, { chunks, vectors, pageCount: m.pageCount });
        } else {
          finish(m.permanent ? new DocumentParseError(m.message) : new Error(`Ingestion failed: ${m.message}`));
        }
      };
      let lastError: Error | null = null;
      const onError = (err: Error) => {
        lastError = err;
        if ((err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
          finish(new IngestWorkerError(`Indexing stopped: reading the document needed more than ${this.memoryMb} MB of memory (limit INGEST_WORKER_MEMORY_MB)`, 'memory'));
        } else {
          finish(new IngestWorkerError(`Indexing stopped: the document parser crashed (${err.message.split('\n')[0]!.slice(0, 200)})`, 'crash'));
        }
      };
      const onExit = (code: number) => {
        if (!lastError) finish(new IngestWorkerError(`Indexing stopped: the document parser crashed (exit code ${code})`, 'crash'));
      };
      const onAbort = () => finish((signal!.reason as Error) ?? new Error('aborted'), undefined, true);
      const timer = setTimeout(
        () => finish(new IngestWorkerError(`Indexing stopped: reading the document took longer than ${fmtDuration(this.timeoutMs)} (limit INGEST_TIMEOUT_MS)`, 'timeout')),
        this.timeoutMs,
      );
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      signal?.addEventListener('abort', onAbort, { once: true });
      // The thread gets its own copy of the bytes, transferred (not cloned again).
      const bytes = new Uint8Array(task.bytes);
      const request: WorkerRequest = { type: 'task', id, task: { ...task, bytes } };
      worker.postMessage(request, [bytes.buffer]);
    });
  }
}

let shared: IngestPool | null = null;

/** A process-wide pool with default settings, for callers that bring none (scripts, tests). */
export function defaultIngestPool(): IngestPool {
  shared ??= new IngestPool({ size: 2 });
  return shared;
}
