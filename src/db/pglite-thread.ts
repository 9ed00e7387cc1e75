/**
 * Starts the embedded database's worker thread (pglite-worker.ts), which runs PGlite and its pglite-socket
 * server, and answers with the loopback address postgres.js connects to. Start-up fails with a
 * PGliteStartError saying why (PGlite's own error, a data directory in use, or no answer within the deadline)
 * rather than hanging. Once started, a thread that ends other than through close() calls `onDeath`: the
 * database is gone, and nothing may carry on without it.
 *
 * The worker file is pglite-worker.ts under tsx and vitest (loaded through tsx's ESM hooks inside the thread)
 * and pglite-worker.js in the built dist/ (util/module-worker.ts).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../util/module-worker.js';
import type { CompiledModules, PGliteThreadMessage, PGliteThreadRequest, PGliteWorkerData, WasmModule } from './pglite-protocol.js';

export interface PGliteThreadOptions {
  /** PGlite's data directory, or 'memory://'. */
  dataDir: string;
  /** Make a new data directory a cluster first, in the thread (PGliteWorkerData.prepareDataDir). */
  prepareDataDir?: boolean;
  /** The thread ended while the database was open (crash, out of memory, terminated); called at most once. */
  onDeath: (err: Error) => void;
  /** Deadline for opening the database, initdb and crash recovery included; default 120 s. */
  startTimeoutMs?: number;
  /**
   * The thread's JavaScript heap limit (V8 old generation), MB; default 512, over ten times the most it used while
   * `npm run bench:ingest` indexed 37,240 chunks (34 MB). Running out ends the thread (onDeath). PostgreSQL's own
   * memory is WASM linear memory, outside this limit: at most 2 GB (PGlite's build), sized by its settings.
   */
  heapMb?: number;
  /** Channels the database listens on from the start (PGliteWorkerData.channels); default none. */
  channels?: string[];
  /** Each notification on those channels, as its transaction commits. */
  onNotification?: (channel: string, payload: string) => void;
}

export interface PGliteThread {
  host: string;
  port: number;
  /** The thread itself; tests end it to play a crash. */
  readonly worker: Worker;
  /**
   * Stops the socket server and shuts PostgreSQL down cleanly, then ends the thread. With `dumpDataDir`, answers
   * the data directory as a tar, taken after a checkpoint before the shutdown (for an in-memory database).
   */
  close(options?: { dumpDataDir?: boolean }): Promise<Uint8Array | undefined>;
}

/** The embedded database could not be opened; the message says why. */
export class PGliteStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PGliteStartError';
  }
}

const CLOSE_TIMEOUT_MS = 15_000;
const fmtDuration = (ms: number): string => (ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`);

function spawnWorker(workerData: PGliteWorkerData, heapMb: number): Worker {
  const resourceLimits = { maxOldGenerationSizeMb: heapMb };
return startModuleWorker(import.meta.url, 'pglite-worker', { workerData, resourceLimits });
}

/** Node's global WebAssembly API, typed here because this project's lib (ES2023, no DOM) does not declare it. */
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;
let compiled: Promise<CompiledModules | undefined> | null = null;

/**
 * PGlite's WASM (pglite.wasm 9 MB, initdb.wasm), compiled once per process and handed to every thread: PGlite
 * caches its compiled modules per thread only, and a thread left to compile its own took about a second longer
 * to open a database (measured on a memory:// open; tests open one per file, some several). Compiling is
 * asynchronous, off the event loop. Should it fail, each thread compiles its own.
 */
function compiledModules(): Promise<CompiledModules | undefined> {
  compiled ??= (async () => {
    const dist = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
    const [pglite, initdb] = await Promise.all(
      ['pglite.wasm', 'initdb.wasm'].map(async (file) => wasm.compile(await readFile(join(dist, file)))),
    );
    return { pglite: pglite!, initdb: initdb! };
  })().catch(() => undefined);
  return compiled;
}

const describeExit = (err: Error | null, code: number): string => {
  if ((err as { code?: string } | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY') return 'it ran out of JavaScript heap';
  if (err) return `it crashed: ${err.message.split('\n')[0]!.slice(0, 300)}`;
  return `it exited with code ${code}`;
};

export async function startPGliteThread(options: PGliteThreadOptions): Promise<PGliteThread> {
  const startTimeoutMs = options.startTimeoutMs ?? 120_000;
  // The thread starts at once (its code loads, its data directory is prepared) while the modules compile here.
  const workerData: PGliteWorkerData = { dataDir: options.dataDir, channels: options.channels ?? [], ...(options.prepareDataDir ? { prepareDataDir: true } : {}) };
  const worker = spawnWorker(workerData, options.heapMb ?? 512);
  void compiledModules().then((modules) => worker.postMessage({ type: 'modules', ...(modules ? { modules } : {}) } satisfies PGliteThreadRequest));
  let lastError: Error | null = null;
  worker.on('error', (err) => {
    lastError = err;
  });
  const exited = new Promise<number>((r) => worker.once('exit', r));

  return new Promise<PGliteThread>((resolve, reject) => {
    const fail = (message: string) => {
      cleanup();
      void worker.terminate();
      reject(new PGliteStartError(`The embedded database (PGlite, ${options.dataDir}) could not start: ${message}`));
    };
    const onMessage = (m: PGliteThreadMessage) => {
      if (m.type === 'failed') fail(m.message);
      else if (m.type === 'ready') {
        cleanup();
        resolve(opened(worker, exited, m, options, () => lastError));
      }
    };
    const onExit = (code: number) => fail(`its thread ended before it was ready (${describeExit(lastError, code)})`);
    const timer = setTimeout(() => fail(`no answer within ${fmtDuration(startTimeoutMs)}`), startTimeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('exit', onExit);
  });
}

function opened(
  worker: Worker,
  exited: Promise<number>,
  address: { host: string; port: number },
  options: PGliteThreadOptions,
  lastError: () => Error | null,
): PGliteThread {
  let closing: Promise<Uint8Array | undefined> | null = null;
  const { onNotification } = options;
  if (onNotification) {
    worker.on('message', (m: PGliteThreadMessage) => {
      if (m.type === 'notification') onNotification(m.channel, m.payload);
    });
  }
  void exited.then((code) => {
    if (!closing) {
      options.onDeath(new Error(`The embedded database's thread (PGlite, ${options.dataDir}) ended while the database was open: ${describeExit(lastError(), code)}`));
    }
  });

  const close = async (dumpDataDir: boolean): Promise<Uint8Array | undefined> => {
    let reply: Extract<PGliteThreadMessage, { type: 'closed' }> | null = null;
    const onMessage = (m: PGliteThreadMessage) => {
      if (m.type === 'closed') reply = m;
    };
    worker.on('message', onMessage);
    worker.postMessage({ type: 'close', dumpDataDir } satisfies PGliteThreadRequest);
    const timer = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    worker.off('message', onMessage);
    const confirmed = reply as Extract<PGliteThreadMessage, { type: 'closed' }> | null;
    if (!confirmed) throw new Error(`The embedded database did not confirm a clean shutdown (its thread ended first, or not within ${CLOSE_TIMEOUT_MS / 1000} s)`);
    if (confirmed.error) throw new Error(`The embedded database did not shut down cleanly: ${confirmed.error}`);
    if (dumpDataDir && !confirmed.dataDirTar) throw new Error('The embedded database shut down without the dump of its data directory');
    return confirmed.dataDirTar;
  };

  return { host: address.host, port: address.port, worker, close: (o) => (closing ??= close(o?.dumpDataDir ?? false)) };
}
