/**
 * Entry point of an ingestion worker process (a child process started by ingest-pool.ts, with an IPC channel):
 * runs processDocument for one task at a time and sends its batches back. The pool watches the process's whole
 * memory (the V8 heap, which has its own limit, and the buffers outside it, where pdf.js puts decompressed streams)
 * and its time; a document that exceeds either gets the process killed and is recorded as failed, and the server,
 * which carries the calls, never notices.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { lowerThisProcessPriority } from '../util/background-priority.js';
import { DocumentParseError, WORKER_OVER_BUDGET } from './limits.js';
import { processDocument, type IdentifiedChunk, type ProcessTask } from './process-document.js';

export type WorkerRequest = { type: 'task'; id: number; task: ProcessTask };

export type WorkerReply =
  /** limitKb: the resident memory at which the watchdog kills the process; null when there is none. */
  | { type: 'ready'; limitKb?: number | null }
  | { type: 'batch'; id: number; chunks: IdentifiedChunk[]; vectors: Float32Array | null }
  | { type: 'done'; id: number; pageCount: number | null; chunkCount: number }
  /**
   * permanent: the document itself is at fault (a DocumentParseError), so retrying cannot help. memory: an
   * allocation failed (the process hit its kernel memory limit); the pool fails the document for memory.
   */
  | { type: 'failed'; id: number; message: string; permanent: boolean; memory?: boolean }
  /** An uncaught exception: the process exits right after sending this. */
  | { type: 'crash'; message: string };

if (!process.send) throw new Error('ingest-worker.ts runs only as a child process of the ingestion pool (with an IPC channel)');

lowerThisProcessPriority();

const post = (reply: WorkerReply) => process.send!(reply);

/** An allocation refused by the process's memory limit (RLIMIT_DATA), as V8 reports it to JavaScript. */
const outOfMemory = (err: unknown): boolean => err instanceof RangeError && /allocation failed|out of memory/i.test(err.message);

process.on('uncaughtException', (err) => {
  const message = err instanceof Error ? err.message : String(err);
  const reply: WorkerReply = { type: 'crash', message: message.slice(0, 1000) };
  process.send!(reply, () => process.exit(70));
});
// The pool closed the channel (it closed, or its process died): nothing is left to work for.
process.on('disconnect', () => process.exit(0));

/**
 * The process's own memory watchdog: a thread that reads /proc/self/status every 50 ms, whatever the main thread is
 * busy with (pdf.js inflating a stream does not yield) and whatever the server's event loop is doing. Once the
 * peak resident memory passes the limit it says so on stderr and kills the process. The pool watches the same
 * figure from outside, and the kernel caps it further out (RLIMIT_DATA); this one reacts first and in time.
 */
const WATCHDOG = `const { parentPort, workerData: { pid, marker } } = require('node:worker_threads');
const { readFileSync, writeSync } = require('node:fs');
let limitKb = Infinity;
parentPort.on('message', (kb) => { limitKb = kb; });
setInterval(() => {
  let peakKb;
  try { peakKb = Number(/^VmHWM:\\s*(\\d+) kB/m.exec(readFileSync('/proc/self/status', 'latin1'))[1]); } catch { return; }
  if (!(peakKb > limitKb)) return;
  writeSync(2, '\\n' + marker + ' (peak ' + peakKb + ' kB, limit ' + limitKb + ' kB)\\n');
  process.kill(pid, 'SIGKILL');
}, 50);`;

const residentKb = (): number => {
  try {
    return Number(/^VmRSS:\s*(\d+) kB/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1]);
  } catch {
    return NaN;
  }
};

/**
 * Starts the watchdog with a limit of what the process holds now, idle (code loaded, watchdog running), plus the
 * budget; resolves to that limit, or null where there is no /proc (not Linux: the heap limit and deadline apply).
 */
async function startWatchdog(budgetMb: number): Promise<number | null> {
  if (!Number.isFinite(residentKb()) || !(budgetMb > 0)) return null;
  const watchdog = new Worker(WATCHDOG, { eval: true, workerData: { pid: process.pid, marker: WORKER_OVER_BUDGET } });
  watchdog.unref();
  await once(watchdog, 'online');
  const limitKb = residentKb() + budgetMb * 1024;
  watchdog.postMessage(limitKb);
  return limitKb;
}

process.on('message', (msg: WorkerRequest) => {
  if (msg.type !== 'task') return;
  const { id, task } = msg;
  processDocument(task, (batch) => post({ type: 'batch', id, ...batch }))
    .then((summary) => post({ type: 'done', id, ...summary }))
    .catch((err: unknown) => {
      const permanent = err instanceof DocumentParseError;
      const message = err instanceof Error ? err.message : String(err);
      post({ type: 'failed', id, message: message.slice(0, 1000), permanent, memory: outOfMemory(err) });
    });
});

// The budget (MB) is the pool's memoryMb, given as the first argument.
void startWatchdog(Number(process.argv[2]))
  .catch(() => null)
  .then((limitKb) => post({ type: 'ready', limitKb }));
