/** A worker task (util/worker-task.ts) that answers its own thread's nice value, as the kernel reports it. */
import { readFileSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { serveWorkerTask } from '../../src/util/worker-task.js';

/** Field 19 of /proc/thread-self/stat (after the command name, which may hold spaces). */
export function threadNice(): number {
  const stat = readFileSync('/proc/thread-self/stat', 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

serveWorkerTask(threadNice, workerData as null);
