/**
 * Messages between the main thread (pglite-thread.ts) and the embedded database's worker thread
 * (pglite-worker.ts). Queries never travel here: they go over the loopback socket, as to any PostgreSQL server.
 */
import type { PGliteOptions } from '@electric-sql/pglite';

/** A compiled WebAssembly.Module (typed through PGlite: this project's lib has no WebAssembly declarations). */
export type WasmModule = NonNullable<PGliteOptions['pgliteWasmModule']>;

export interface PGliteWorkerData {
  /** PGlite's data directory: `<DATA_DIR>/pglite`, or 'memory://'. */
  dataDir: string;
  /**
   * A new (or empty) data directory is first made a cluster here, in the thread (initialiseDataDir,
   * pglite-template.ts: a copy of the template, else initdb): its 40 MB of file copies then run beside the main
   * thread's own start-up instead of waiting on it. The caller holds the data directory's lock.
   */
  prepareDataDir?: boolean;
  /**
   * Channels the database LISTENs on from the start, before any client connects; their notifications come to the
   * main thread as messages (the socket's clients never see them delivered).
   */
  channels: string[];
}

/**
 * Main thread → worker. `dumpDataDir`: before PostgreSQL shuts down, a checkpoint and a tar of the whole data
 * directory (PGlite's dumpDataDir), sent back with 'closed' — how an in-memory cluster becomes files on disk.
 */
export type PGliteThreadRequest =
  | { type: 'close'; dumpDataDir?: boolean }
  /**
   * PGlite's WASM modules, compiled once per process (pglite-thread.ts), sent as soon as they are: the thread
   * prepares its data directory and loads its code meanwhile. Absent = the compile failed; the thread compiles its own.
   */
  | { type: 'modules'; modules?: CompiledModules };

export interface CompiledModules {
  pglite: WasmModule;
  initdb: WasmModule;
}

/** Worker → main thread. */
export type PGliteThreadMessage =
  /** The socket server listens on host:port. */
  | { type: 'ready'; host: string; port: number }
  /** PGlite could not open the data directory (or the socket server could not listen); the thread ends. */
  | { type: 'failed'; message: string }
  /** Socket server stopped and PostgreSQL shut down (error: what went wrong on the way); the thread ends. */
  | { type: 'closed'; error?: string; dataDirTar?: Uint8Array }
  /** A transaction that committed notified one of the channels listened on. */
  | { type: 'notification'; channel: string; payload: string };
