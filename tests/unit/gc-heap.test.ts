import { describe, expect, it } from 'vitest';
import { CALL_LOOP_GC_FLAGS, HEAP_GROWTH_FLAG, marksOnCallLoop, SINGLE_THREADED_GC_FLAG, tuneHeapGrowth } from '../../src/gc-heap.js';

describe('heap growth for a process that collects on its call loop', () => {
  const run = (argv: string[]): { returned: string | null; set: string[] } => {
    const set: string[] = [];
    const returned = tuneHeapGrowth(argv, (flag) => set.push(flag));
    return { returned, set };
  };

  it('lets the heap grow 3× when the collector marks on the main thread, with either set of flags, in either spelling', () => {
    for (const argv of [[...CALL_LOOP_GC_FLAGS], [SINGLE_THREADED_GC_FLAG], ['--import', 'tsx', '--single_threaded_gc'], ['--no_concurrent_marking']]) {
      expect(marksOnCallLoop(argv)).toBe(true);
      expect(run(argv)).toEqual({ returned: HEAP_GROWTH_FLAG, set: [HEAP_GROWTH_FLAG] });
    }
    expect(HEAP_GROWTH_FLAG).toBe('--heap-growing-percent=200');
  });

  it("leaves V8's own sizing to a process with helper threads, and an operator's value alone", () => {
    expect(run([])).toEqual({ returned: null, set: [] });
    expect(marksOnCallLoop(['--no-parallel-scavenge'])).toBe(false);
    expect(run(['--max-old-space-size=512'])).toEqual({ returned: null, set: [] });
    expect(run([SINGLE_THREADED_GC_FLAG, '--heap-growing-percent=50'])).toEqual({ returned: null, set: [] });
    expect(run([SINGLE_THREADED_GC_FLAG, '--heap_growing_percent=0'])).toEqual({ returned: null, set: [] });
  });
});
