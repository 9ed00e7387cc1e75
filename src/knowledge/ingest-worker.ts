/**
 * Entry point of an ingestion worker process (a child process started by ingest-pool.ts, with an IPC channel):
 * runs processDocument for one task at a time and sends its batches back. The pool watches the process's whole
 * memory (the V8 heap, which has its own limit, and the buffers outside it, where pdf.js puts decompressed streams)
 * and its time; a document that exceeds either gets the process killed and is recorded as failed, and the server,
 * which carries the calls, never notices.
 *
 * The process also ends itself, from a watchdog thread that runs whatever the main thread is busy with: when its
 * parent is gone (a crashed server leaves no one to kill it, and the main thread, deep in a document, may not
 * get to its 'disconnect' handler for minutes), when the task under way is past its deadline (the parent's own
 * timer is the first line; this one holds if the parent is gone or stalled), and when its memory passes the budget.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { lowerThisProcessPriority } from '../util/background-priority.js';
import { DocumentParseError, WORKER_OVER_BUDGET, WORKER_PAST_DEADLINE } from './limits.js';
import { processDocument, type IdentifiedChunk, type ProcessTask } from './process-document.js';

/** timeoutMs: the task's deadline, from when the worker receives it (the pool's INGEST_TIMEOUT_MS). */
export type WorkerRequest = { type: 'task'; id: number; task: ProcessTask; timeoutMs: number };

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
 * The parent this process was started by, read first thing: once the process's parent is another (it was
 * re-parented to init or a subreaper), the server is gone.
 */
const parentPid = process.ppid;

/**
 * The deadline of the task under way (epoch ms; 0 while idle), written by the main thread when a task starts and
 * ends, read by the watchdog thread: shared memory, so the watchdog sees it however long the main thread is busy.
 */
const taskDeadline = new BigInt64Array(new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT));

/**
 * The worker's own deadline comes this long after the pool's, which it only backs up: normally the pool's timer
 * fires first and says why; past this, the parent is stalled or gone.
 */
const DEADLINE_GRACE_MS = 2_000;

/**
 * The process's own watchdog: a thread that looks every 50 ms, whatever the main thread is busy with (pdf.js
 * inflating a stream, chunking and embedding a large text: neither yields) and whatever the server's event loop is
 * doing, and kills the process (it says why on stderr first) when
 *  - its parent is gone (process.ppid changed): nobody is waiting for the result, and nobody would kill it;
 *  - the task under way is past its deadline (taskDeadline);
 *  - its peak resident memory (/proc/self/status) passed the limit, once the main thread has sent one. The pool
 *    watches the same figure from outside, and the kernel caps it further out (RLIMIT_DATA); this one reacts first.
 * A SIGKILL of the process: process.exit() in a thread would end only the thread.
 */
const WATCHDOG = `const { parentPort, workerData: { pid, parentPid, taskDeadline, markers } } = require('node:worker_threads');
const { readFileSync, writeSync } = require('node:fs');
let limitKb = Infinity;
parentPort.on('message', (kb) => { limitKb = kb; });
const die = (why) => {
  writeSync(2, '\\n' + why + '\\n');
  process.kill(pid, 'SIGKILL');
};
const peakKb = () => {
  try { return Number(/^VmHWM:\\s*(\\d+) kB/m.exec(readFileSync('/proc/self/status', 'latin1'))[1]); } catch { return NaN; }
};
setInterval(() => {
  if (process.ppid !== parentPid) return die(markers.orphaned + ' (parent ' + parentPid + ' is gone)');
  const deadline = Number(Atomics.load(taskDeadline, 0));
  if (deadline > 0 && Date.now() > deadline) return die(markers.pastDeadline + ' (' + (Date.now() - deadline) + ' ms past)');
  if (limitKb === Infinity) return;
  const peak = peakKb();
  if (peak > limitKb) die(markers.overBudget + ' (peak ' + peak + ' kB, limit ' + limitKb + ' kB)');
}, 50);`;

const residentKb = (): number => {
  try {
    return Number(/^VmRSS:\s*(\d+) kB/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1]);
  } catch {
    return NaN;
  }
};

/**
 * Starts the watchdog and gives it a memory limit of what the process holds now, idle (code loaded, watchdog
 * running), plus the budget; resolves to that limit, or null where memory is not watched (no /proc, not Linux:
 * the heap limit applies; or no budget). The parent and deadline checks run either way.
 */
async function startWatchdog(budgetMb: number): Promise<number | null> {
  const markers = { orphaned: 'ingest-worker: parent gone, exiting', pastDeadline: WORKER_PAST_DEADLINE, overBudget: WORKER_OVER_BUDGET };
  const watchdog = new Worker(WATCHDOG, { eval: true, workerData: { pid: process.pid, parentPid, taskDeadline, markers } });
  watchdog.unref();
  await once(watchdog, 'online');
  if (!Number.isFinite(residentKb()) || !(budgetMb > 0)) return null;
  const limitKb = residentKb() + budgetMb * 1024;
  watchdog.postMessage(limitKb);
  return limitKb;
}

/** Tells the watchdog the deadline of the task that starts now; timeoutMs null: the task ended. */
function setTaskDeadline(timeoutMs: number | null): void {
  Atomics.store(taskDeadline, 0, timeoutMs === null ? 0n : BigInt(Date.now() + timeoutMs + DEADLINE_GRACE_MS));
}

process.on('message', (msg: WorkerRequest) => {
  if (msg.type !== 'task') return;
  const { id, task, timeoutMs } = msg;
  setTaskDeadline(timeoutMs);
  processDocument(task, (batch) => post({ type: 'batch', id, ...batch }))
    .then((summary) => post({ type: 'done', id, ...summary }))
    .catch((err: unknown) => {
      const permanent = err instanceof DocumentParseError;
      const message = err instanceof Error ? err.message : String(err);
      post({ type: 'failed', id, message: message.slice(0, 1000), permanent, memory: outOfMemory(err) });
    })
    .finally(() => setTaskDeadline(null));
});

// The budget (MB) is the pool's memoryMb, given as the first argument.
void startWatchdog(Number(process.argv[2]))
  .catch(() => null)
  .then((limitKb) => post({ type: 'ready', limitKb }));
