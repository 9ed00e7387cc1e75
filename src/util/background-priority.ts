/**
 * Background CPU work — document ingestion, language-model builds, upload checks — runs at a lower scheduling
 * priority than the call loop, so that on a busy machine the kernel hands the CPU to live calls first and the
 * background work takes what is left (a document of crafted text once held a core for its whole deadline, beside
 * the calls). Linux keeps the nice value per thread: setpriority() on a thread id reaches that thread only, and
 * threads inherit it from the thread that creates them.
 */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { isMainThread } from 'node:worker_threads';

/** The nice value of background work (the call loop runs at the default, 0). */
export const BACKGROUND_NICE = 10;

/** Lowers every thread of this process (a worker process, at its start). Never throws. */
export function lowerThisProcessPriority(): void {
  try {
    if (process.platform !== 'linux') {
      setPriority(BACKGROUND_NICE);
      return;
    }
    // The threads Node and V8 started before this script ran keep their own nice values: each is set.
    for (const tid of readdirSync('/proc/self/task')) setPriority(Number(tid), BACKGROUND_NICE);
  } catch {
    // Not permitted, or no /proc: the work still runs, at the default priority.
  }
}

/**
 * Lowers the calling worker thread only. Linux alone makes that possible (elsewhere setpriority() reaches the
 * whole process, the call loop with it, so nothing is done); on the main thread nothing is done either.
 */
export function lowerThisThreadPriority(): void {
  if (process.platform !== 'linux' || isMainThread) return;
  try {
    setPriority(BACKGROUND_NICE);
  } catch {
    // Not permitted: the work still runs, at the default priority.
  }
}
