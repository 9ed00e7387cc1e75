/** Entry of the thread that checks one upload (upload-check.ts). */
import { workerData } from 'node:worker_threads';
import { serveWorkerTask } from '../util/worker-task.js';
import { checkUpload, type UploadCheckTask } from './upload-check.js';

serveWorkerTask(checkUpload, workerData as UploadCheckTask);
