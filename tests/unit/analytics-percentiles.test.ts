/**
 * Percentiles read from the analytics histograms (src/analytics/buckets.ts) stay within the values seen: a value is
 * interpolated within its bucket, but never below the smallest nor above the largest value the range counted.
 */
import { describe, expect, it } from 'vitest';
import { DURATION_BOUNDS_SEC, LATENCY_BOUNDS_MS, histogramQuantile } from '../../src/analytics/buckets.js';

/** The histogram of `values` over `bounds` (each bound a bucket's inclusive upper edge; the last bucket open). */
function histogram(values: number[], bounds: readonly number[]): number[] {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  for (const v of values) {
    const i = bounds.findIndex((b) => v <= b);
    counts[i === -1 ? bounds.length : i]! += 1;
  }
  return counts;
}

const seen = (values: number[]) => ({ min: Math.min(...values), max: Math.max(...values) });
const quantile = (values: number[], bounds: readonly number[], q: number) => histogramQuantile(histogram(values, bounds), bounds, seen(values), q);

describe('histogram percentiles', () => {
  it('a single value is every percentile', () => {
    for (const [value, bounds] of [[2, DURATION_BOUNDS_SEC], [7, DURATION_BOUNDS_SEC], [3700, DURATION_BOUNDS_SEC], [144, LATENCY_BOUNDS_MS], [31_000, LATENCY_BOUNDS_MS]] as const) {
      for (const q of [0.01, 0.5, 0.95, 1]) expect(quantile([value], bounds, q), `${value} at ${q}`).toBe(value);
    }
  });

  it('never reads above the largest value nor below the smallest', () => {
    // Response times 277, 144, 369, 229 ms once gave a p95 of 380 ms: the 300–400 ms bucket is read as 300–369.
    const latencies = [277, 144, 369, 229];
    expect(quantile(latencies, LATENCY_BOUNDS_MS, 0.95)).toBe(355);
    expect(quantile(latencies, LATENCY_BOUNDS_MS, 1)).toBe(369);
    expect(quantile(latencies, LATENCY_BOUNDS_MS, 0.01)).toBeGreaterThanOrEqual(144);
    // Calls of 31 and 33 s sit in the 30–45 s bucket, read as 31–33 s (not a p50 of 37.5 s, a p95 of 44 s).
    expect(quantile([31, 33], DURATION_BOUNDS_SEC, 0.5)).toBe(32);
    expect(quantile([31, 33], DURATION_BOUNDS_SEC, 0.95)).toBe(33);
    for (const q of [0.01, 0.25, 0.5, 0.75, 0.95, 0.99, 1]) {
      for (const values of [latencies, [101, 102, 103], [5, 5, 6], [450, 4500, 45_000]]) {
        const p = quantile(values, LATENCY_BOUNDS_MS, q)!;
        expect(p >= Math.min(...values) && p <= Math.max(...values), `${values} at ${q}: ${p}`).toBe(true);
      }
    }
  });

  it('interpolates within a bucket as before where the values seen lie beyond it on both sides', () => {
    // The middle value's bucket, 200–300 ms, between values below and above it.
    expect(quantile([150, 250, 350], LATENCY_BOUNDS_MS, 0.5)).toBe(250);
    expect(quantile([100, 229, 277, 400], LATENCY_BOUNDS_MS, 0.5)).toBe(250);
  });

  it('is null for an empty histogram', () => {
    expect(histogramQuantile(histogram([], LATENCY_BOUNDS_MS), LATENCY_BOUNDS_MS, { min: 0, max: 60_000 }, 0.5)).toBeNull();
  });
});
