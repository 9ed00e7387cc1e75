/**
 * One piece of CPU work on a worker thread of its own — a thread started for it, with a heap limit and a
 * deadline, and terminated after, at a background priority (background-priority.ts) — so that an upload's parsing
 * and checking never holds the event loop that carries calls (a 10,000-row contact list took 110–150 ms there, a wide CSV over a second). The worker module
 * answers with serveWorkerTask(). A thread that runs out of memory, crashes or overruns rejects with a
 * WorkerTaskError; the process lives on. The promise settles once the thread has exited.
 *
 * Nothing here bounds how many run at once: a caller whose tasks a tenant can start waits for a turn first
 * (task-slots.ts; upload checks, campaigns/upload-check.ts). Language-model builds (providers/stt/local-lm.ts) are
 * bounded apart, by their cache (one at a time by default), so a burst of uploads never delays the models calls use.
 */
import { parentPort } from 'node:worker_threads';
import { lowerThisThreadPriority } from './background-priority.js';
import { startModuleWorker } from './module-worker.js';

export interface WorkerTaskLimits {
  /** Heap limit of the thread, MB. */
  memoryMb: number;
  /** Deadline of the task itself, ms: from the moment the thread has loaded its code and begins. */
  timeoutMs: number;
  /**
   * Deadline for the thread to load its code and begin, ms (default START_TIMEOUT_MS). Apart from the task's own:
   * a thread slow to start says the machine is busy (its priority is lowered; under tsx it compiles its modules),
   * not that the input was too much — overrunning it is reason 'start', which callers answer as a busy server.
   */
  startTimeoutMs?: number;
}

/** Default WorkerTaskLimits.startTimeoutMs: a thread starts in ~50 ms from dist/, seconds under tsx on a busy machine. */
export const START_TIMEOUT_MS = 30_000;

export class WorkerTaskError extends Error {
  constructor(
    message: string,
    readonly reason: 'memory' | 'timeout' | 'start' | 'crash',
  ) {
    super(message);
    this.name = 'WorkerTaskError';
  }
}

/**
 * What the worker posts: that it has begun (its code loaded), then the task's result, or the error it threw (its
 * message and an optional code).
 */
type Reply<O> = { begun: true } | { ok: true; value: O } | { ok: false; message: string; code?: string };

/** Error thrown by the task inside the thread, with its code (a ParleyError's) when it had one. */
export class WorkerTaskRejection extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'WorkerTaskRejection';
  }
}

/** Runs moduleName (next to callerUrl; see module-worker.ts) on `input` in a thread of its own. */
export function runWorkerTask<I, O>(callerUrl: string, moduleName: string, input: I, limits: WorkerTaskLimits): Promise<O> {
  const worker = startModuleWorker(callerUrl, moduleName, { workerData: input, resourceLimits: { maxOldGenerationSizeMb: limits.memoryMb, stackSizeMb: 4 } });
  return new Promise<O>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, value?: O): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Settled once the thread is gone, so that a caller bounding how many run at once (task-slots.ts) starts the
      // next only when this one's heap is freed.
      void worker.terminate().catch(() => {}).finally(() => (err ? reject(err) : resolve(value as O)));
    };
    const startTimeoutMs = limits.startTimeoutMs ?? START_TIMEOUT_MS;
    let timer = setTimeout(() => finish(new WorkerTaskError(`did not begin within ${startTimeoutMs} ms`, 'start')), startTimeoutMs);
    worker.on('message', (reply: Reply<O>) => {
      if ('begun' in reply) {
        clearTimeout(timer);
        timer = setTimeout(() => finish(new WorkerTaskError(`did not finish within ${limits.timeoutMs} ms`, 'timeout')), limits.timeoutMs);
      } else if (reply.ok) finish(null, reply.value);
      else finish(new WorkerTaskRejection(reply.message, reply.code));
    });
    worker.once('error', (err: Error & { code?: string }) =>
      finish(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new WorkerTaskError(`ran out of its ${limits.memoryMb} MB`, 'memory') : new WorkerTaskError(err.message, 'crash')),
    );
    worker.once('exit', (code) => finish(new WorkerTaskError(`the thread exited (code ${code})`, 'crash')));
  });
}

/** The worker side: computes `task(workerData)` and posts the result (or the error) back once. */
export function serveWorkerTask<I, O>(task: (input: I) => O, input: I): void {
  const port = parentPort;
  if (!port) throw new Error('serveWorkerTask runs only in a worker thread');
  lowerThisThreadPriority();
  port.postMessage({ begun: true } satisfies Reply<O>);
  let reply: Reply<O>;
  try {
    reply = { ok: true, value: task(input) };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = (e as { code?: unknown }).code;
    reply = { ok: false, message: e.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  port.postMessage(reply);
}
