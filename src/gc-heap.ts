/**
 * How a server process's garbage collector is run where call loops fill the cores. V8 by default hands marking,
 * scavenging, compaction and sweeping to helper threads: a gain while cores sit idle, a loss once every core
 * runs a call loop — a parallel phase's helpers then take turns with the loops on the same cores, and a pause
 * lasts until the last of them is scheduled. CALL_LOOP_GC_FLAGS (what GC_THREADS=main gives each process) keep
 * every pause and the marking on the process's own thread, and leave only sweeping (memory pages and the
 * ArrayBuffers of socket reads) to a background thread, which runs in the loop's idle time: at 200 calls on one
 * core each scavenge took 4.5–5.2 ms instead of 5.8–6.6 ms with all of it on the loop (`--single-threaded-gc`;
 * docs/benchmarks.md, session 7). Concurrent marking stays off: on a shared core its thread held the loop ~100 ms
 * around a full collection.
 *
 * A process that marks on its own thread also sizes its heap here. V8 sets the old generation's next limit from
 * how fast it collects against how fast the program promotes objects, and marking on one thread measures slow, so
 * V8 keeps that heap tight: at 200 calls with turns a full collection — 15–20 ms during which no call on the
 * process moves — came every 2–5 s, from the turns' short-lived state (a turn's audio, marks and promises outlive
 * two scavenges, then die). Letting the heap grow to 3× what survived the last full collection makes those pauses
 * rare (12 → 2 in a 70 s run) for ~40 MB more RSS at that load. V8 reads the flag each time it sets the limit, so
 * setting it as the process starts is enough; a value given on the command line wins.
 */
import { setFlagsFromString } from 'node:v8';

/** Pauses and marking on the process's own (call-loop) thread, sweeping in the background (see above). */
export const CALL_LOOP_GC_FLAGS: readonly string[] = [
  '--no-parallel-scavenge',
  '--no-parallel-marking',
  '--no-parallel-compaction',
  '--no-parallel-pointer-update',
  '--no-concurrent-marking',
  // V8 11 aborts when the C++ heap marks concurrently while the JavaScript heap does not.
  '--no-cppheap-concurrent-marking',
];

/** V8's stricter form: all of the collector's work on the process's own thread, sweeping included. */
export const SINGLE_THREADED_GC_FLAG = '--single-threaded-gc';

/** The old generation may grow to (1 + 200 %) = 3× what survived the last full collection. */
export const HEAP_GROWTH_FLAG = '--heap-growing-percent=200';

/** V8 reads `--a_b` as `--a-b`. */
const flagName = (arg: string): string => arg.split('=')[0]!.replace(/_/g, '-');

/** Whether node was started to mark on its own thread: CALL_LOOP_GC_FLAGS, or --single-threaded-gc. */
export function marksOnCallLoop(execArgv: readonly string[] = process.execArgv): boolean {
  const names = execArgv.map(flagName);
  return names.includes(SINGLE_THREADED_GC_FLAG) || names.includes('--no-concurrent-marking');
}

/** Sets HEAP_GROWTH_FLAG when this process marks on its own thread; returns the flag it set, or null. */
export function tuneHeapGrowth(execArgv: readonly string[] = process.execArgv, set: (flag: string) => void = setFlagsFromString): string | null {
  const names = execArgv.map(flagName);
  if (!marksOnCallLoop(execArgv)) return null;
  if (names.includes(flagName(HEAP_GROWTH_FLAG))) return null;
  set(HEAP_GROWTH_FLAG);
  return HEAP_GROWTH_FLAG;
}
