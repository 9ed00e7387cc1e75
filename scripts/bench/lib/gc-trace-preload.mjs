/* global process, performance, setInterval -- Node globals; the benchmark's server child loads this with --import. */
/**
 * `bench:calls --gc-trace`: each server process (a forked worker too) appends to `$PARLEY_BENCH_GC_TRACE.<pid>`
 * one line per garbage collection (`<epoch ms> gc <kind> <pause ms>`, kind as perf_hooks names it: 1 minor,
 * 4 major, 8 incremental, 16 weak callbacks) and per stall of its event loop (`<epoch ms> gap <ms>`: a 5 ms
 * timer that ran over 15 ms late). scripts/bench/lib/gc-trace.ts reads them and sets the full collections beside
 * the worst turns. Plain JavaScript: the server may run as plain node (dist/main.js).
 */
import { appendFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';

const base = process.env.PARLEY_BENCH_GC_TRACE;
if (base) {
  const file = `${base}.${process.pid}`;
  let lines = [];
  const flush = () => {
    if (lines.length === 0) return;
    appendFileSync(file, lines.join('\n') + '\n');
    lines = [];
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) lines.push(`${(performance.timeOrigin + e.startTime).toFixed(1)} gc ${e.detail?.kind ?? 0} ${e.duration.toFixed(2)}`);
  }).observe({ entryTypes: ['gc'] });
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    if (now - last > 15) lines.push(`${(performance.timeOrigin + last).toFixed(1)} gap ${(now - last - 5).toFixed(1)}`);
    last = now;
  }, 5).unref();
  setInterval(flush, 1000).unref();
  process.on('exit', flush);
}
