/**
 * Heap sizing for a server process whose garbage collector works on the call-loop thread (node
 * --single-threaded-gc: GC_THREADS gives it to the processes that fill the cores; one process takes it on its
 * command line). V8 sets the old generation's next limit from how fast it collects against how fast the program
 * promotes objects, and collecting on one thread measures slow, so V8 keeps that heap tight: at 200 calls with
 * turns a full collection — 15–20 ms during which no call on the process moves — came every 2–5 s, from the
 * turns' short-lived state (a turn's audio, marks and promises outlive two scavenges, then die). Letting the heap
 * grow to 3× what survived the last full collection makes those pauses rare (12 → 2 in a 70 s run) for ~40 MB
 * more RSS at that load (docs/benchmarks.md). V8 reads the flag each time it sets the limit, so setting it as the
 * process starts is enough; a value given on the command line wins.
 */
import { setFlagsFromString } from 'node:v8';

/** V8's flag that keeps all of the garbage collector's work on the process's own (call-loop) thread. */
export const MAIN_THREAD_GC_FLAG = '--single-threaded-gc';

/** The old generation may grow to (1 + 200 %) = 3× what survived the last full collection. */
export const HEAP_GROWTH_FLAG = '--heap-growing-percent=200';

/** V8 reads `--a_b` as `--a-b`. */
const flagName = (arg: string): string => arg.split('=')[0]!.replace(/_/g, '-');

/** Sets HEAP_GROWTH_FLAG when this process collects on its main thread; returns the flag it set, or null. */
export function tuneHeapGrowth(execArgv: readonly string[] = process.execArgv, set: (flag: string) => void = setFlagsFromString): string | null {
  const names = execArgv.map(flagName);
  if (!names.includes(MAIN_THREAD_GC_FLAG)) return null;
  if (names.includes(flagName(HEAP_GROWTH_FLAG))) return null;
  set(HEAP_GROWTH_FLAG);
  return HEAP_GROWTH_FLAG;
}
