/**
 * A small pool of long-lived ingestion worker processes (ingest-worker.ts, child processes with an IPC channel), so
 * parsing, chunking and local embedding never run on the event loop that carries calls, nor in its memory. Each
 * process starts once and serves one document at a time; every document has a deadline (`timeoutMs`) and a memory
 * budget (`memoryMb`). A process that overruns, crashes or outgrows its memory is killed and replaced on the next
 * document, and the document's promise rejects with an IngestWorkerError saying why; the server lives on.
 *
 * Why processes and not worker threads: a thread's resourceLimits cap only its V8 heap, while the bytes pdf.js
 * decompresses live in ArrayBuffers outside it, in the server's own process — a 1 MB PDF of compressed spaces
 * took the server past 3 GB. A process's whole memory can be measured and capped and belongs to one document:
 *  - its V8 heap is limited to `memoryMb` (--max-old-space-size);
 *  - its resident memory (heap, buffers, native allocations) is read from /proc/<pid>/status while it works
 *    (every SAMPLE_MS, and once more before a result is accepted). The peak (VmHWM) is what is compared, so growth
 *    between two looks is not missed: over what the idle process held when it reported ready plus `memoryMb`, it
 *    is killed and the document fails with reason 'memory';
 *  - a kernel limit backs this up where `prlimit` (util-linux) is at hand: RLIMIT_DATA of a few times the budget,
 *    so even a process the pool could not watch in time (a blocked event loop) cannot take the machine's memory,
 *    and RLIMIT_CORE 0, so a heap-limit abort writes no core file;
 *  - a process that ends a document holding more than half its budget is retired, so a document never inherits
 *    its predecessor's garbage, nor is failed for it.
 * Where /proc is missing (not Linux) only the heap limit and the deadline apply.
 *
 * A worker does not outlive the server: its own watchdog thread (ingest-worker.ts) ends it when its parent is gone
 * (a crashed or killed server) or its task is past the deadline, however busy its main thread is.
 *
 * The worker file is ingest-worker.ts under tsx and vitest (the process is started with tsx's loader) and
 * ingest-worker.js in the built dist/.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { WorkerReply, WorkerRequest } from './ingest-worker.js';
import { DocumentParseError, WORKER_OVER_BUDGET, WORKER_PAST_DEADLINE } from './limits.js';
import type { IdentifiedChunk, ProcessTask } from './process-document.js';

export interface IngestPoolOptions {
  /** Worker processes at most (documents processed at once); default 1. */
  size?: number;
  /**
   * Memory one document may use, MB; default 1024: the worker's V8 heap limit, and how far its whole process (heap,
   * buffers, native memory) may grow beyond what it held idle.
   */
  memoryMb?: number;
  /** Deadline for one document, from the moment it is handed to a worker; default 120 s. */
  timeoutMs?: number;
  /**
   * Test hook: source of a replacement worker (CommonJS, run with `node -e`) in place of ingest-worker. It talks to
   * the pool with process.on('message') and process.send; an uncaught exception is reported to the pool as a crash.
   */
  workerSource?: string;
}

export interface ProcessResult {
  chunks: IdentifiedChunk[];
  /** One vector per chunk when the local embedder ran in the worker, else null. */
  vectors: Float32Array[] | null;
  pageCount: number | null;
}

/**
 * The worker process died or was stopped. `permanent`: the document is to blame (memory, time, a crash while
 * reading it), so the same bytes would fail again; otherwise (the worker could not start) a retry may succeed.
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

/** How often a busy worker's memory is read. */
const SAMPLE_MS = 50;
/** A worker that has not reported ready by then is given up (reason 'start'). */
const START_TIMEOUT_MS = 60_000;
/** The kernel's cap on a worker's writable memory (RLIMIT_DATA): what it had when ready + this many budgets + slack. */
const DATA_LIMIT_BUDGETS = 4;
const DATA_LIMIT_SLACK_MB = 256;
/** Bytes of the worker's stderr kept to tell why it died. */
const STDERR_TAIL = 8192;

const fmtDuration = (ms: number): string => (ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`);

/** Exceptions the eval'd test worker reports like ingest-worker does. */
const SOURCE_PRELUDE = `process.on('uncaughtException', (err) => {
  process.send({ type: 'crash', message: String(err && err.message || err).slice(0, 1000) }, () => process.exit(70));
});
process.on('disconnect', () => process.exit(0));
`;

function workerArgs(options: IngestPoolOptions, memoryMb: number): string[] {
  const flags = [`--max-old-space-size=${memoryMb}`];
  if (options.workerSource) return [...flags, '-e', SOURCE_PRELUDE + options.workerSource];
  if (import.meta.url.endsWith('.ts')) {
    // Under tsx or vitest: the child loads TypeScript through tsx's loader, resolved from here (not from its cwd).
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    return [...flags, '--import', tsx, fileURLToPath(new URL('./ingest-worker.ts', import.meta.url)), String(memoryMb)];
  }
  return [...flags, fileURLToPath(new URL('./ingest-worker.js', import.meta.url)), String(memoryMb)];
}

interface ProcMemory {
  /** Resident now, KB. */
  rssKb: number;
  /** Resident at the peak of the process's life so far, KB. */
  peakKb: number;
  /** Private writable memory, mapped (what RLIMIT_DATA counts), KB. */
  dataKb: number;
}

function readMemory(pid: number): ProcMemory | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  const m = { rssKb: field('VmRSS'), peakKb: field('VmHWM'), dataKb: field('VmData') };
  return Number.isFinite(m.rssKb) && Number.isFinite(m.peakKb) ? m : null;
}

let prlimitMissing = process.platform !== 'linux';

/** Sets the kernel's limits of a worker; resolves either way (without prlimit the memory watch still applies). */
function capWorker(pid: number, dataBytes: number | null): Promise<void> {
  if (prlimitMissing) return Promise.resolve();
  const args = ['--pid', String(pid), '--core=0'];
  if (dataBytes !== null) args.push(`--data=${dataBytes}`);
  return new Promise((resolve) => {
    execFile('prlimit', args, { timeout: 5000 }, (err) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') prlimitMissing = true;
      resolve();
    });
  });
}

/** One worker process and what the pool knows about it. */
class WorkerProcess {
  readonly proc: ChildProcess;
  /** Resident memory (KB) above which the process is killed: what it held idle + the budget; null: not watched. */
  limitKb: number | null = null;
  /** The highest resident memory seen, KB. */
  peakKb = 0;
  /** The message of an uncaught exception it reported before exiting. */
  crashMessage: string | null = null;
  private stderr = '';
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(options: IngestPoolOptions, memoryMb: number) {
    this.proc = spawn(process.execPath, workerArgs(options, memoryMb), {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
      windowsHide: true,
    });
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-STDERR_TAIL);
    });
    this.proc.on('message', (m: WorkerReply) => {
      if (m.type === 'crash') this.crashMessage = m.message;
    });
    this.closed = new Promise((resolve) => {
      this.proc.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal }));
      // A process that could not be spawned emits 'error' and (since Node 16) 'close'; a later 'error' (a failed
      // kill or send) changes nothing here.
      this.proc.on('error', () => {});
    });
    (this.proc.stderr as unknown as { unref?: () => void }).unref?.();
    this.hold(false);
  }

  /** Whether it keeps the server's event loop alive: while it has work, not while idle. */
  hold(on: boolean): void {
    if (on) {
      this.proc.ref();
      this.proc.channel?.ref();
    } else {
      this.proc.unref();
      this.proc.channel?.unref();
    }
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  /** Reads its memory; true when it has been over its limit at any moment (the peak is kept by the kernel). */
  overLimit(): boolean {
    if (this.limitKb === null || this.pid === undefined) return false;
    const m = readMemory(this.pid);
    if (m) this.peakKb = Math.max(this.peakKb, m.peakKb);
    return this.peakKb > this.limitKb;
  }

  kill(): void {
    if (!this.exited) this.proc.kill('SIGKILL');
  }

  /** Whether its stderr says it ran out of memory (V8's heap limit, or an allocation the kernel refused). */
  get diedOfMemory(): boolean {
    return this.stderr.includes(WORKER_OVER_BUDGET) || /JavaScript heap out of memory|Reached heap limit|Fatal process out of memory|allocation failed/i.test(this.stderr);
  }

  /** Whether it ended itself past its task's deadline (its watchdog's backup of the pool's own timer). */
  get diedPastDeadline(): boolean {
    return this.stderr.includes(WORKER_PAST_DEADLINE);
  }

  /** The last line it wrote to stderr (for a start failure). */
  get lastWords(): string {
    return this.stderr.trim().split('\n').at(-1)?.slice(0, 200) ?? '';
  }
}

interface Slot {
  worker: WorkerProcess | null;
  ready: Promise<void> | null;
  busy: boolean;
}

export class IngestPool {
  private readonly slots: Slot[];
  private readonly waiting: Array<(slot: Slot) => void> = [];
  private nextId = 1;
  private closed = false;
  /** Worker processes started so far (a replacement after a crash counts again). */
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

  /** Parses, chunks and (local embedder) embeds one document in a worker process. */
  async run(task: ProcessTask, signal?: AbortSignal): Promise<ProcessResult> {
    if (this.closed) throw new Error('The ingestion pool is closed');
    signal?.throwIfAborted();
    const slot = await this.acquire(signal);
    let worker: WorkerProcess | null = null;
    try {
      worker = this.workerOf(slot);
      worker.hold(true);
      await slot.ready;
      signal?.throwIfAborted();
      return await this.runOn(slot, worker, task, signal);
    } finally {
      worker?.hold(false);
      this.release(slot);
    }
  }

  /** Kills every worker process (idle ones are unref'd and never hold the process open anyway). */
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
    if (w) {
      w.kill();
      if (w.pid !== undefined) await w.closed;
    }
  }

  /** The slot's worker, started (once) if it has none; slot.ready resolves when the process has loaded its code. */
  private workerOf(slot: Slot): WorkerProcess {
    // One that died while idle (its parent's channel broke, say) is not handed the next document.
    if (slot.worker?.exited) {
      slot.worker = null;
      slot.ready = null;
    }
    if (!slot.worker) {
      const worker = new WorkerProcess(this.options, this.memoryMb);
      this.started++;
      slot.worker = worker;
      slot.ready = new Promise<void>((resolve, reject) => {
        let answered = false;
        const onMessage = (m: WorkerReply) => {
          if (m.type !== 'ready' || answered) return;
          cleanup();
          // Its budget is counted from what it holds now, idle, with its code loaded (as its watchdog counts it).
          const idle = worker.pid === undefined ? null : readMemory(worker.pid);
          const budgetKb = this.memoryMb * 1024;
          if (idle) worker.limitKb = m.limitKb ?? idle.rssKb + budgetKb;
          const dataBytes = idle && Number.isFinite(idle.dataKb) ? (idle.dataKb + DATA_LIMIT_BUDGETS * budgetKb + DATA_LIMIT_SLACK_MB * 1024) * 1024 : null;
          void capWorker(worker.pid!, dataBytes).then(resolve);
        };
        const onError = (err: Error) => {
          if (answered) return;
          cleanup();
          worker.kill();
          reject(new IngestWorkerError(`The ingestion worker could not start: ${err.message}`, 'start'));
        };
        const onSpawnError = (err: Error) => onError(err);
        const timer = setTimeout(() => onError(new Error(`no answer within ${fmtDuration(START_TIMEOUT_MS)}`)), START_TIMEOUT_MS);
        timer.unref();
        const cleanup = () => {
          answered = true;
          clearTimeout(timer);
          worker.proc.off('message', onMessage);
          worker.proc.off('error', onSpawnError);
        };
        worker.proc.on('message', onMessage);
        worker.proc.once('error', onSpawnError);
        void worker.closed.then(({ code, signal }) => {
          const why = signal ? `killed by ${signal}` : `exited with code ${code}`;
          onError(new Error(worker.lastWords ? `${why}: ${worker.lastWords}` : why));
        });
      });
      // A worker that fails to start is dropped so the next document tries a fresh one.
      slot.ready.catch(() => {
        if (slot.worker === worker) void this.kill(slot);
      });
    }
    return slot.worker;
  }

  private memoryError(): IngestWorkerError {
    return new IngestWorkerError(
      `Indexing stopped: reading the document needed more than ${this.memoryMb} MB of memory (limit INGEST_WORKER_MEMORY_MB)`,
      'memory',
    );
  }

  private timeoutError(): IngestWorkerError {
    return new IngestWorkerError(`Indexing stopped: reading the document took longer than ${fmtDuration(this.timeoutMs)} (limit INGEST_TIMEOUT_MS)`, 'timeout');
  }

  private runOn(slot: Slot, worker: WorkerProcess, task: ProcessTask, signal?: AbortSignal): Promise<ProcessResult> {
    const id = this.nextId++;
    const chunks: IdentifiedChunk[] = [];
    let vectors: Float32Array[] | null = task.localEmbedDimensions === null ? null : [];
    return new Promise<ProcessResult>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, result?: ProcessResult, killWorker = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(sampler);
        signal?.removeEventListener('abort', onAbort);
        worker.proc.off('message', onMessage);
        if (killWorker || err instanceof IngestWorkerError) void this.kill(slot);
        else if (slot.worker === worker) this.retireIfHeavy(slot, worker);
        if (err) reject(err);
        else resolve(result!);
      };
      const onMessage = (m: WorkerReply) => {
        if (m.type === 'ready' || m.type === 'crash' || m.id !== id) return;
        if (m.type === 'batch') {
          chunks.push(...m.chunks);
          if (vectors && m.vectors) {
            const dims = task.localEmbedDimensions!;
            for (let j = 0; j < m.chunks.length; j++) vectors.push(m.vectors.subarray(j * dims, (j + 1) * dims));
          } else vectors = null;
          return;
        }
        // The document is judged by the peak of the process's memory, however quickly it finished.
        if (m.type === 'failed' && m.memory) finish(this.memoryError());
        else if (worker.overLimit()) finish(this.memoryError());
        else if (m.type === 'done') finish(null, { chunks, vectors, pageCount: m.pageCount });
        else finish(m.permanent ? new DocumentParseError(m.message) : new Error(`Ingestion failed: ${m.message}`));
      };
      void worker.closed.then(({ code, signal: sig }) => {
        if (settled) return;
        if (worker.diedOfMemory || worker.peakKb > (worker.limitKb ?? Infinity)) finish(this.memoryError());
        else if (worker.diedPastDeadline) finish(this.timeoutError());
        else if (worker.crashMessage !== null) {
          finish(new IngestWorkerError(`Indexing stopped: the document parser crashed (${worker.crashMessage.split('\n')[0]!.slice(0, 200)})`, 'crash'));
        } else {
          finish(new IngestWorkerError(`Indexing stopped: the document parser crashed (${sig ? `killed by ${sig}` : `exit code ${code}`})`, 'crash'));
        }
      });
      const onAbort = () => finish((signal!.reason as Error) ?? new Error('aborted'), undefined, true);
      const timer = setTimeout(() => finish(this.timeoutError()), this.timeoutMs);
      const sampler = setInterval(() => {
        if (worker.overLimit()) finish(this.memoryError());
      }, SAMPLE_MS);
      worker.proc.on('message', onMessage);
      signal?.addEventListener('abort', onAbort, { once: true });
      // The worker gets its own copy of the bytes (the IPC channel serializes them), and the deadline, which its
      // watchdog enforces too: were this process to die or stall, the worker still ends.
      const request: WorkerRequest = { type: 'task', id, task, timeoutMs: this.timeoutMs };
      worker.proc.send(request, (err) => {
        if (err) finish(new IngestWorkerError(`Indexing stopped: the document parser crashed (${err.message.slice(0, 200)})`, 'crash'));
      });
    });
  }

  /** A worker that holds more than half its budget after a document is let go; the next document starts afresh. */
  private retireIfHeavy(slot: Slot, worker: WorkerProcess): void {
    if (worker.limitKb === null || worker.pid === undefined) return;
    const now = readMemory(worker.pid);
    if (now && now.rssKb > worker.limitKb - (this.memoryMb * 1024) / 2) void this.kill(slot);
  }
}

let shared: IngestPool | null = null;

/** A process-wide pool with default settings, for callers that bring none (scripts, tests). */
export function defaultIngestPool(): IngestPool {
  shared ??= new IngestPool({ size: 2 });
  return shared;
}
