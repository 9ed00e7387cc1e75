/**
 * The PROCESSES > 1 primary's view of the whole server's metrics: every live worker's registry (asked over IPC at
 * each scrape, useClusterMetrics in metrics.ts answering), summed by prom-client's aggregators, plus the counters and
 * histograms of the workers that have exited. Without those, a worker that died took its counts with it and the
 * server's counters went down (20 requests counted, 10 after one of two workers was restarted), which Prometheus
 * reads as a reset: rate() and increase() then count the survivors' whole totals again as new. A dead worker's
 * counts are kept as of the last scrape before it exited (what it counted after that is lost, never counted twice),
 * so the sums only go up. Series labelled with a worker (its process and nodejs metrics) leave with it; gauges too.
 */
import type { Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';
import { METRICS_SNAPSHOT, METRICS_SNAPSHOT_REQUEST, type MetricsSnapshot, type MetricsSnapshotRequest } from './metrics.js';

type Value = MetricValueWithName<string>;
type Snapshot = MetricObjectWithValues<Value>[];

/** Counters and histograms (never gauges), without the series of one process (those carry a `worker` label). */
function serverCounts(snapshot: Snapshot): Snapshot {
  return snapshot
    // At run time a metric's type is its name ('counter'), whatever prom-client's typings say.
    .filter((m) => ['counter', 'histogram'].includes(String(m.type)))
    .map((m) => ({ ...m, values: m.values.filter((v) => (v.labels as Record<string, unknown>).worker === undefined) }))
    .filter((m) => m.values.length > 0);
}

/** The sum of two snapshots' counts, series by series (a histogram's buckets, sum and count each). */
function addCounts(a: Snapshot, b: Snapshot): Snapshot {
  const byName = new Map<string, { metric: Snapshot[number]; values: Map<string, Value> }>();
  for (const metric of [...a, ...b]) {
    const entry = byName.get(metric.name) ?? { metric, values: new Map() };
    byName.set(metric.name, entry);
    for (const v of metric.values) {
      const key = `${v.metricName ?? ''}${JSON.stringify(Object.entries(v.labels).sort(([x], [y]) => (x < y ? -1 : 1)))}`;
      const had = entry.values.get(key);
      entry.values.set(key, { ...v, value: (had?.value ?? 0) + v.value });
    }
  }
  return [...byName.values()].map(({ metric, values }) => ({ ...metric, values: [...values.values()] }));
}

export class ClusterMetrics {
  /** Each live worker's registry as the last scrape read it. */
  private readonly last = new Map<number, Snapshot>();
  /** The counts of the workers that exited. */
  private retired: Snapshot = [];
  /** The ids of the workers that exited (node:cluster never gives an id twice). */
  private readonly exited = new Set<number>();
  private next = 0;
  private readonly waiting = new Map<number, (snapshot: Snapshot) => void>();

  constructor(private readonly timeoutMs = 5_000) {}

  /** The whole server's metrics as Prometheus text; rejects when a worker does not answer in time. */
  async render(workers: Worker[]): Promise<string> {
    const answers = await Promise.all(workers.map(async (w) => {
      const snapshot = await this.ask(w);
      if (!this.exited.has(w.id)) this.last.set(w.id, snapshot);
      return { id: w.id, snapshot };
    }));
    // A worker that answered and then exited before the others did is in `retired` now: its answer is left out,
    // or this scrape would count it twice (and the next one, without it, would go down).
    const live = answers.filter((a) => !this.exited.has(a.id)).map((a) => a.snapshot);
    return AggregatorRegistry.aggregate([...live, this.retired]).metrics();
  }

  /** A worker's message; true when it was a snapshot this asked for. */
  onMessage(message: unknown): boolean {
    const m = message as Partial<MetricsSnapshot> | null;
    if (!m || m.type !== METRICS_SNAPSHOT || typeof m.id !== 'number') return false;
    this.waiting.get(m.id)?.(m.metrics ?? []);
    return true;
  }

  /** A worker exited: its counts as of the last scrape stay in the server's. */
  retire(workerId: number): void {
    this.exited.add(workerId);
    const snapshot = this.last.get(workerId);
    this.last.delete(workerId);
    if (snapshot) this.retired = addCounts(this.retired, serverCounts(snapshot));
  }

  private ask(worker: Worker): Promise<Snapshot> {
    const id = this.next++;
    return new Promise<Snapshot>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`cluster metrics: server process ${worker.id} did not answer in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiting.set(id, (snapshot) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(snapshot);
      });
      if (worker.isConnected()) worker.send({ type: METRICS_SNAPSHOT_REQUEST, id } satisfies MetricsSnapshotRequest);
    });
  }
}
