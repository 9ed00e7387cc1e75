import type { Worker } from 'node:cluster';
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ClusterMetrics } from '../../src/cluster-metrics.js';
import { METRICS_SNAPSHOT, type MetricsSnapshotRequest } from '../../src/metrics.js';

/** A worker process stand-in: a registry with one counter, answering the primary's snapshot requests when told to. */
function fakeWorker(id: number, metrics: ClusterMetrics, count: number) {
  const registry = new Registry();
  new Counter({ name: 'parley_test_requests_total', help: 'requests', registers: [registry] }).inc(count);
  const asked: number[] = [];
  const worker = { id, isConnected: () => true, send: (m: MetricsSnapshotRequest) => void asked.push(m.id) } as unknown as Worker;
  const answer = async () => metrics.onMessage({ type: METRICS_SNAPSHOT, id: asked.shift()!, metrics: await registry.getMetricsAsJSON() });
  return { worker, answer };
}

const total = (text: string): number => Number(/^parley_test_requests_total (\d+)/m.exec(text)?.[1]);

describe('ClusterMetrics', () => {
  it('counts a worker that answered a scrape and exited before the scrape ended once, not twice', async () => {
    const metrics = new ClusterMetrics(60_000);
    const a = fakeWorker(1, metrics, 10);
    const b = fakeWorker(2, metrics, 10);
    const scrape = metrics.render([a.worker, b.worker]);
    await a.answer();
    await new Promise((r) => setImmediate(r));
    // A exits (its 'exit' event) while B has not answered yet.
    metrics.retire(1);
    await b.answer();
    expect(total(await scrape)).toBe(20);
    // And the next scrape, of B alone, counts A's as retired: the sum never goes down.
    const next = metrics.render([b.worker]);
    await b.answer();
    expect(total(await next)).toBe(20);
  });
});
