/** Prometheus metrics, for every layer (HTTP, calls, webhooks): one registry per app instance (tests build many apps in one process). */
import type { FastifyInstance } from 'fastify';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  activeCalls: Gauge<'transport'>;
  callTurnLatency: Histogram<'stage'>;
  malformedFrames: Counter<'transport'>;
  bargeInToClear: Histogram<string>;
  /** Per barge-in, from the caller's speech onset: stage = onset_to_quiet | onset_to_commit | onset_to_resume. */
  bargeIn: Histogram<'stage'>;
  webhookAttempts: Counter<'outcome'>;
  webhookAttemptDuration: Histogram<string>;
  /** 1 once the vector store answered its set-up (collection, indexes); 0 while the server retries it in the background. */
  vectorStoreReady: Gauge<string>;
  /** What /metrics answers; unset = this registry. In a PROCESSES > 1 worker: the whole cluster's (useClusterMetrics). */
  render?: () => Promise<string>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'parley_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    activeCalls: new Gauge({ name: 'parley_active_calls', help: 'Calls in progress', labelNames: ['transport'], registers: [registry] }),
    callTurnLatency: new Histogram({
      name: 'parley_call_turn_latency_seconds',
      help: 'Per-turn latency by stage (end of speech → …)',
      labelNames: ['stage'],
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5],
      registers: [registry],
    }),
    bargeInToClear: new Histogram({
      name: 'parley_barge_in_clear_seconds',
      help: 'Barge-in detected → clear sent to the transport',
      buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25],
      registers: [registry],
    }),
    bargeIn: new Histogram({
      name: 'parley_barge_in_seconds',
      help: 'Barge-in from the caller speech onset (VAD): onset_to_quiet (line cleared), onset_to_commit, onset_to_resume',
      labelNames: ['stage'],
      buckets: [0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2.5],
      registers: [registry],
    }),
    malformedFrames: new Counter({ name: 'parley_malformed_frames_total', help: 'Malformed or unexpected media frames', labelNames: ['transport'], registers: [registry] }),
    webhookAttempts: new Counter({
      name: 'parley_webhook_attempts_total',
      help: 'Webhook delivery attempts by outcome (delivered, retry = failed and rescheduled, dead, skipped)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    webhookAttemptDuration: new Histogram({
      name: 'parley_webhook_attempt_seconds',
      help: 'One webhook HTTP attempt, connect to last byte',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    vectorStoreReady: new Gauge({
      name: 'parley_vector_store_ready',
      help: '1 once the vector store answered its set-up at start (Qdrant: collection and indexes); 0 while the server retries it. A later outage shows in retrieval and ingestion, not here',
      // Across PROCESSES: 1 only when every process has it.
      aggregator: 'min',
      registers: [registry],
    }),
  };
}

export function installHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true } as object }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.render ? metrics.render() : metrics.registry.metrics();
  });
}

/** The per-turn stages, by their TurnLatency names → metric stage label (same names as the transcript's latency). */
const TURN_STAGES = [
  ['speechMs', 'speech'],
  ['sttFinalMs', 'stt_final'],
  ['endpointMs', 'endpoint'],
  ['llmFirstTokenMs', 'llm_first_token'],
  ['ttsFirstAudioMs', 'tts_first_audio'],
  ['responseMs', 'response'],
  ['totalMs', 'total'],
] as const;

/**
 * Observes a finished call's per-turn latencies and barge-ins (call once per call, at its end). Stages of
 * parley_call_turn_latency_seconds are the TurnLatency fields: speechMs → "speech", sttFinalMs → "stt_final", ….
 */
export function observeCallLatency(
  metrics: Metrics,
  session: {
    turnLatencies: ReadonlyArray<Partial<Record<(typeof TURN_STAGES)[number][0], number | null | undefined>>>;
    bargeIns: ReadonlyArray<{ onsetToQuietMs: number | null; outcome: 'committed' | 'resumed'; onsetToOutcomeMs: number; detectToClearMs: number }>;
  },
): void {
  for (const l of session.turnLatencies) {
    for (const [field, stage] of TURN_STAGES) {
      const v = l[field];
      if (typeof v === 'number') metrics.callTurnLatency.observe({ stage }, v / 1000);
    }
  }
  for (const b of session.bargeIns) {
    metrics.bargeInToClear.observe(b.detectToClearMs / 1000);
    if (b.onsetToQuietMs !== null) metrics.bargeIn.observe({ stage: 'onset_to_quiet' }, b.onsetToQuietMs / 1000);
    metrics.bargeIn.observe({ stage: b.outcome === 'committed' ? 'onset_to_commit' : 'onset_to_resume' }, b.onsetToOutcomeMs / 1000);
  }
}

/** IPC between a cluster worker and the primary (src/cluster.ts) for one cluster-wide /metrics. */
export const METRICS_REQUEST = 'parley:metrics-request';
export const METRICS_RESPONSE = 'parley:metrics-response';
export interface MetricsRequest { type: typeof METRICS_REQUEST; id: number }
export interface MetricsResponse { type: typeof METRICS_RESPONSE; id: number; text?: string; error?: string }

/**
 * In a PROCESSES > 1 worker: this process's registry answers the primary's aggregation requests (prom-client's
 * AggregatorRegistry protocol), and /metrics asks the primary for the sum over every process — counters and
 * histograms summed, gauges summed (parley_active_calls) or averaged as prom-client's default metrics declare.
 * `send` is process.send of the worker.
 */
export function useClusterMetrics(metrics: Metrics, ipc: { send(message: MetricsRequest): unknown; on(event: 'message', fn: (m: unknown) => void): unknown }, timeoutMs = 5000): void {
  AggregatorRegistry.setRegistries([metrics.registry]);
  new AggregatorRegistry(); // installs the worker's answer to the primary's requests
  let next = 0;
  const waiting = new Map<number, { resolve(text: string): void; reject(err: Error): void }>();
  ipc.on('message', (raw) => {
    const m = raw as Partial<MetricsResponse> | null;
    if (!m || m.type !== METRICS_RESPONSE || typeof m.id !== 'number') return;
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (typeof m.text === 'string') w.resolve(m.text);
    else w.reject(new Error(`cluster metrics: ${m.error ?? 'no answer'}`));
  });
  metrics.render = () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('cluster metrics: the primary did not answer'));
      }, timeoutMs);
      waiting.set(id, {
        resolve: (t) => (clearTimeout(timer), resolve(t)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      ipc.send({ type: METRICS_REQUEST, id });
    });
}
