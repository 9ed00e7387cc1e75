/**
 * Entry point of the thread that builds one language model (started by local-lm.ts through runWorkerTask):
 * builds from the BuildRequest in workerData and posts the result (or the error). The call path never waits on
 * the CPU.
 */
import { workerData } from 'node:worker_threads';
import { serveWorkerTask } from '../../util/worker-task.js';
import { buildLanguageModel, type BuildRequest } from './local-lm-build.js';

serveWorkerTask(buildLanguageModel, workerData as BuildRequest);
