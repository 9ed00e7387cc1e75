/**
 * Entry point of the thread that builds one language model (started by local-lm.ts): receives a BuildRequest
 * through workerData, builds, posts the result (or the error) and ends. The call path never waits on the CPU.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { buildLanguageModel, type BuildRequest, type BuiltModel } from './local-lm-build.js';

export type LmWorkerReply = { ok: true; model: BuiltModel } | { ok: false; message: string };

const port = parentPort;
if (!port) throw new Error('local-lm-worker.ts runs only as a worker thread');
try {
  port.postMessage({ ok: true, model: buildLanguageModel(workerData as BuildRequest) } satisfies LmWorkerReply);
} catch (err) {
  port.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) } satisfies LmWorkerReply);
}
