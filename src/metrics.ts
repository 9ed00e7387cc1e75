/** Prometheus metrics, for every layer (HTTP, calls, webhooks): one registry per app instance (tests build many apps in one process). */
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CallEndReasonCode } from './call/end-reasons.js';
import type { RootSql } from './db/sql.js';
import { isAccountFailure } from './errors.js';

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  activeCalls: Gauge<'transport'>;
  callTurnLatency: Histogram<'stage'>;
  malformedFrames: Counter<'transport'>;
  /** Twilio media streams' skipped sequenceNumbers, added once per call at its end (telephony/twilio/sequence-gaps.ts). */
  mediaSequenceGaps: Counter<string>;
  mediaMessagesLost: Counter<string>;
  bargeInToClear: Histogram<string>;
  /** Per barge-in, from the caller's speech onset: stage = onset_to_quiet | onset_to_commit | onset_to_resume. */
  bargeIn: Histogram<'stage'>;
  webhookAttempts: Counter<'outcome'>;
  webhookAttemptDuration: Histogram<string>;
  /** 1 once the vector store answered its set-up (collection, indexes); 0 while the server retries it in the background. */
  vectorStoreReady: Gauge<string>;
  /** Calls ended, by the category of their end reason (endReasonLabel: a fixed set). */
  callsEnded: Counter<'reason'>;
  /** Provider failures during calls (a session that failed or would not open), by provider name and stage. */
  providerErrors: Counter<'provider' | 'stage'>;
  /** Of those, the ones that refused the account (401/402/403): the provider is down until an operator acts. */
  providerAccountFailures: Counter<'provider' | 'stage'>;
  /** Of those, the ones followed by a reconnect (the reconnect budget had time left). */
  providerReconnects: Counter<'provider' | 'stage'>;
  /** What /metrics answers; unset = this registry. In a PROCESSES > 1 worker: the whole cluster's (useClusterMetrics). */
  render?: () => Promise<string>;
}

export interface MetricsOptions {
  /**
   * In a PROCESSES > 1 worker: its number (as the log lines' `worker`), a label on the process and nodejs metrics so
   * the cluster's /metrics keeps each process's values apart instead of averaging them.
   */
  worker?: string;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'parley_', ...(options.worker ? { labels: { worker: options.worker } } : {}) });
  // prom-client leaves a process's start time out of a cluster's sum; with the worker label it stays apart per
  // process, and a restarted one shows (its series is new).
  const startTime = options.worker ? registry.getSingleMetric('parley_process_start_time_seconds') : undefined;
  if (startTime) (startTime as unknown as { aggregator: string }).aggregator = 'first';
  return {
    registry,
    httpDuration: new Histogram({
      name: 'parley_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status_code'],
      // Up to 300 s: an export or an upload runs for minutes (HTTP_REQUEST_TIMEOUT_MS), and past the last bucket all look alike.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300],
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
    mediaSequenceGaps: new Counter({ name: 'parley_media_sequence_gaps_total', help: 'Places where a Twilio media stream skipped sequenceNumbers (messages Twilio never sent), counted at each call\'s end', registers: [registry] }),
    mediaMessagesLost: new Counter({ name: 'parley_media_messages_lost_total', help: 'Twilio media stream messages skipped (20 ms of caller audio each when media), counted at each call\'s end', registers: [registry] }),
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
    callsEnded: new Counter({
      name: 'parley_calls_ended_total',
      help: `Calls ended, by reason: ${END_REASONS.join(', ')}, provider_failure_stt|llm|tts, unknown (the session crashed), other`,
      labelNames: ['reason'],
      registers: [registry],
    }),
    providerErrors: new Counter({
      name: 'parley_provider_errors_total',
      help: 'Provider failures during calls (a session that failed or would not open), by provider and stage (stt, llm, tts)',
      labelNames: ['provider', 'stage'],
      registers: [registry],
    }),
    providerAccountFailures: new Counter({
      name: 'parley_provider_account_failures_total',
      help: 'Provider failures during calls that refused the account (HTTP 401/402/403: key rejected, credits spent, plan forbids): the provider is down for every call until an operator acts. By provider and stage',
      labelNames: ['provider', 'stage'],
      registers: [registry],
    }),
    providerReconnects: new Counter({
      name: 'parley_provider_reconnects_total',
      help: 'Provider failures during calls followed by a reconnect (within the reconnect budget), by provider and stage',
      labelNames: ['provider', 'stage'],
      registers: [registry],
    }),
  };
}

/** The categories of CallSession end reasons (call-session.ts); the text after a colon (an LLM's words, a close code) is dropped. */
const END_REASONS = ['caller_hangup', 'bot_end_call', 'transferred', 'silence', 'max_duration', 'server_shutdown', 'protocol_error'] as const satisfies readonly CallEndReasonCode[];
const PROVIDER_STAGES = ['stt', 'llm', 'tts'] as const;
export type ProviderStage = (typeof PROVIDER_STAGES)[number];

/** A call's end reason as a bounded label value: its category, `provider_failure_<stage>`, `unknown` (none) or `other`. */
export function endReasonLabel(reason: string | null): string {
  if (reason === null) return 'unknown';
  const [category = '', detail = ''] = reason.split(':').map((part) => part.trim());
  if (category === 'provider_failure') return (PROVIDER_STAGES as readonly string[]).includes(detail) ? `provider_failure_${detail}` : 'other';
  return (END_REASONS as readonly string[]).includes(category) ? category : 'other';
}

/** Counts a call that ended (call once per call, at its end). */
export function countCallEnded(metrics: Metrics, session: { endReason: string | null }): void {
  metrics.callsEnded.inc({ reason: endReasonLabel(session.endReason) });
}

/**
 * What a call session reports its provider failures to (CallSessionOptions.onProviderFailure): counted by the
 * provider's name and the stage, as a reconnect when one follows, and as an account failure when it was one. Called
 * per failure, never per frame.
 */
export function countProviderFailures(
  metrics: Metrics,
  providers: Record<ProviderStage, { name: string }>,
): (stage: ProviderStage, reconnecting: boolean, err?: unknown) => void {
  return (stage, reconnecting, err) => {
    const labels = { provider: providers[stage].name, stage };
    metrics.providerErrors.inc(labels);
    if (isAccountFailure(err)) metrics.providerAccountFailures.inc(labels);
    if (reconnecting) metrics.providerReconnects.inc(labels);
  };
}

/** How long the database-derived gauges are reused between scrapes: a scraper polling fast cannot hammer the database. */
export const BACKLOG_CACHE_MS = 5_000;
/** Rows one backlog query reads at most; past it the gauges read "at least this many" (and the oldest among them). */
export const BACKLOG_SCAN_LIMIT = 100_000;

interface Backlog {
  webhooks: { pending: number; oldestSec: number };
  jobs: Array<{ kind: string; depth: number; oldestSec: number }>;
}

/** One bounded query each: the webhook outbox's pending events, and the job queue's unfinished jobs by kind. */
async function readBacklog(sql: RootSql): Promise<Backlog> {
  const [webhooks] = await sql<{ pending: number; oldest_sec: number }[]>`
    select count(*)::int as pending, coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as oldest_sec
    from (select created_at from webhook_events where status = 'pending' limit ${BACKLOG_SCAN_LIMIT}) p`;
  const jobs = await sql<{ kind: string; depth: number; oldest_sec: number }[]>`
    select kind, count(*)::int as depth, extract(epoch from now() - min(created_at))::float8 as oldest_sec
    from (select kind, created_at from jobs where status in ('queued', 'running') limit ${BACKLOG_SCAN_LIMIT}) j
    group by kind`;
  return {
    webhooks: { pending: webhooks?.pending ?? 0, oldestSec: webhooks?.oldest_sec ?? 0 },
    jobs: jobs.map((j) => ({ kind: j.kind, depth: j.depth, oldestSec: j.oldest_sec })),
  };
}

/** `load` at most once per `ms` (concurrent callers share one run); null when it failed. */
function cachedFor<T>(ms: number, load: () => Promise<T>, now: () => number): () => Promise<T | null> {
  let cached: { at: number; value: Promise<T | null> } | null = null;
  return () => {
    if (!cached || now() - cached.at >= ms) cached = { at: now(), value: load().catch(() => null) };
    return cached.value;
  };
}

/**
 * The webhook backlog and the job queue, read from the database when /metrics is scraped (cached BACKLOG_CACHE_MS):
 * parley_webhook_pending_events, parley_webhook_oldest_pending_seconds, parley_jobs_queued{kind} (queued, waiting to
 * retry, or running), parley_jobs_oldest_seconds{kind}. `jobKinds` are reported at 0 when none is waiting. A failed
 * read leaves them out of that scrape. Every process reads the same database: across PROCESSES the cluster view
 * takes the largest, not the sum.
 */
export function installBacklogMetrics(metrics: Metrics, sql: RootSql, o: { jobKinds: string[]; cacheMs?: number; now?: () => number }): void {
  const backlog = cachedFor(o.cacheMs ?? BACKLOG_CACHE_MS, () => readBacklog(sql), o.now ?? Date.now);
  const gauge = <L extends string>(name: string, help: string, labelNames: L[], set: (g: Gauge<L>, b: Backlog) => void) =>
    new Gauge<L>({
      name, help, labelNames, aggregator: 'max', registers: [metrics.registry],
      async collect() {
        this.reset();
        const b = await backlog();
        if (b) set(this, b);
      },
    });
  const byKind = (b: Backlog, value: (j: Backlog['jobs'][number]) => number): Map<string, number> =>
    new Map([...o.jobKinds.map((k): [string, number] => [k, 0]), ...b.jobs.map((j): [string, number] => [j.kind, value(j)])]);
  gauge('parley_webhook_pending_events', 'Webhook events waiting to be delivered (pending, including those waiting to retry)', [], (g, b) => g.set(b.webhooks.pending));
  gauge('parley_webhook_oldest_pending_seconds', 'Age of the oldest pending webhook event (0: none pending)', [], (g, b) => g.set(b.webhooks.oldestSec));
  gauge('parley_jobs_queued', 'Background jobs not finished (queued, waiting to retry, or running), by kind', ['kind'], (g, b) => {
    for (const [kind, depth] of byKind(b, (j) => j.depth)) g.set({ kind }, depth);
  });
  gauge('parley_jobs_oldest_seconds', 'Age of the oldest unfinished job, by kind (0: none)', ['kind'], (g, b) => {
    for (const [kind, age] of byKind(b, (j) => j.oldestSec)) g.set({ kind }, age);
  });
}

/** `guard`: checks a scrape's credentials before it is answered (METRICS_TOKEN); none = /metrics is open. */
export function installHttpMetrics(app: FastifyInstance, metrics: Metrics, guard?: onRequestAsyncHookHandler): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true } as object, ...(guard ? { onRequest: guard } : {}) }, async (_request, reply) => {
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

/** IPC between a cluster worker and the primary (src/cluster.ts, src/cluster-metrics.ts) for one cluster-wide /metrics. */
export const METRICS_REQUEST = 'parley:metrics-request';
export const METRICS_RESPONSE = 'parley:metrics-response';
export interface MetricsRequest { type: typeof METRICS_REQUEST; id: number }
export interface MetricsResponse { type: typeof METRICS_RESPONSE; id: number; text?: string; error?: string }
/** The primary asking a worker for its registry (at each scrape), and the answer. */
export const METRICS_SNAPSHOT_REQUEST = 'parley:metrics-snapshot-request';
export const METRICS_SNAPSHOT = 'parley:metrics-snapshot';
export interface MetricsSnapshotRequest { type: typeof METRICS_SNAPSHOT_REQUEST; id: number }
export interface MetricsSnapshot { type: typeof METRICS_SNAPSHOT; id: number; metrics: Awaited<ReturnType<Registry['getMetricsAsJSON']>> }

type Ipc = { send(message: MetricsRequest | MetricsSnapshot): unknown; on(event: 'message', fn: (m: unknown) => void): unknown };

/**
 * In a PROCESSES > 1 worker: this process's registry answers the primary's snapshot requests, and /metrics asks the
 * primary for the whole server's (src/cluster-metrics.ts) — counters and histograms summed, those of exited processes
 * included, gauges summed (parley_active_calls) or as each declares, the process and nodejs metrics per process.
 * `ipc` is the worker's process.
 */
export function useClusterMetrics(metrics: Metrics, ipc: Ipc, timeoutMs = 5000): void {
  let next = 0;
  const waiting = new Map<number, { resolve(text: string): void; reject(err: Error): void }>();
  ipc.on('message', (raw) => {
    const m = raw as Partial<MetricsResponse> | Partial<MetricsSnapshotRequest> | null;
    if (m?.type === METRICS_SNAPSHOT_REQUEST && typeof m.id === 'number') {
      const id = m.id;
      void metrics.registry.getMetricsAsJSON().then((snapshot) => ipc.send({ type: METRICS_SNAPSHOT, id, metrics: snapshot }), () => undefined);
      return;
    }
    if (!m || m.type !== METRICS_RESPONSE || typeof m.id !== 'number') return;
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    const r = m as Partial<MetricsResponse>;
    if (typeof r.text === 'string') w.resolve(r.text);
    else w.reject(new Error(`cluster metrics: ${r.error ?? 'no answer'}`));
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
