/**
 * Composition root: builds every service from the config and wires them into the app. main.ts runs it for
 * the process; end-to-end tests run it on port 0.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { createMetrics, installBacklogMetrics, useClusterMetrics } from './metrics.js';
import { bookingRoutes } from './api/routes/bookings.js';
import { accountRoutes } from './api/routes/index.js';
import { knowledgeRoutes } from './api/routes/knowledge.js';
import { buildApp } from './app.js';
import { createBookingService } from './bookings/service.js';
import { bookingTools } from './bookings/tools.js';
import { logBotWarnings } from './bots/capabilities.js';
import type { Config } from './config.js';
import type { Database } from './db/connect.js';
import { openServerDatabase } from './db/server-database.js';
import { migrate } from './db/migrate.js';
import { backgroundHandle } from './db/param-guard.js';
import { JobWorker, type JobKind } from './jobs/queue.js';
import { PHONE_BACKFILL_JOB, phoneBackfillJob } from './db/phone-backfill.js';
import { ZONE_BACKFILL_JOB, zoneBackfillJob } from './db/zone-backfill.js';
import { createKnowledge } from './knowledge/index.js';
import { LocalEmbedder } from './providers/embeddings/local.js';
import { OpenAiEmbedder } from './providers/embeddings/openai.js';
import type { Logger } from './log.js';
import { checkLocalSpeech } from './providers/local-speech-check.js';
import { ProviderRegistry } from './telephony/provider-registry.js';
import { LocalSttProvider } from './providers/stt/local.js';
import { LocalTtsProvider } from './providers/tts/local.js';
import { persistentSecret } from './secrets-file.js';
import { loggableOrigin, startInBackground, startStep, StartStepError, type BackgroundStart } from './startup.js';
import { CallRunner } from './telephony/call-runner.js';
import { CallOwnership } from './telephony/call-ownership.js';
import { ANNOUNCED_IDLE_POLL_MS, listenForWork } from './db/work-notifications.js';
import { listenForCallEnds } from './telephony/call-end-notices.js';
import { twilioMediaRoute } from './telephony/twilio/media-route.js';
import { ProviderPrewarmer } from './telephony/prewarm.js';
import { OutboundDialer } from './telephony/twilio/outbound.js';
import { TwilioRestClient } from './telephony/twilio/rest.js';
import { twilioVoiceRoutes } from './telephony/twilio/voice-routes.js';
import { outboundCallRoutes } from './api/routes/outbound-calls.js';
import { webCallRoutes } from './api/routes/web-calls.js';
import { webhookRoutes } from './api/routes/webhooks.js';
import { databaseCounter } from './api/rate-limit-store.js';
import { ANALYZE_CALL_JOB, analyzeCallJob } from './outcomes/analyze-call.js';
import { ERASURE_SWEEP_JOB, erasureSweepJob } from './privacy/erasure-sweep.js';
import { SKIP_WAITING_JOB, skipWaitingJob } from './campaigns/skip-waiting.js';
import { REWAKE_DEFERRED_JOB, rewakeDeferredJob } from './campaigns/rewake-deferred.js';
import { createAnalyzer } from './outcomes/llm-analyzer.js';
import { loadAnalysisPrompt } from './outcomes/prompt.js';
import { validateWebhookUrl } from './webhooks/url-guard.js';
import { WebhookWorker } from './webhooks/worker.js';
import { webCallSocketRoute } from './telephony/web/socket-route.js';
import { closeAbandonedWebCalls } from './telephony/web/tokens.js';
import { webCallPageRoute } from './web/page-route.js';
import { TWILIO_FORMAT } from './audio/format.js';
import { analyticsWorker } from './analytics/rollup.js';
import { usageRollupWorker } from './usage/rollup.js';
import { campaignStatsWorker } from './campaigns/stats.js';
import { retentionWorker } from './privacy/retention.js';
import { embeddedVacuumWorker } from './db/embedded-vacuum.js';
import { campaignRoutes } from './api/routes/campaigns.js';
import { CampaignScheduler } from './campaigns/scheduler.js';
import { uploadCheckSlots } from './campaigns/upload-check.js';
import { personalizeForContact } from './campaigns/personalize.js';
import { listNumberAskedNotToBeCalled } from './campaigns/dnc-backstop.js';
import { campaignTools } from './campaigns/tools.js';
import { VoicemailAudio } from './campaigns/voicemail-audio.js';
import { settleWithin } from './util/settle-within.js';
import { recordingServices } from './recordings/settings.js';
import { BudgetGuard } from './usage/budget.js';
import { pricesFrom } from './usage/prices.js';
import { allowedPrefixesOf, policedTransfer } from './telephony/dial-policy.js';

export interface RunningServer {
  app: FastifyInstance;
  db: Database;
  runner: CallRunner;
  /** http://host:port actually bound. */
  url: string;
  /** The Twilio auth token in use (generated in DATA_DIR when unset, for the simulator). */
  twilioAuthToken: string;
  adminToken: string;
  /** The vector store's set-up, retried in the background while the server serves calls (src/startup.ts). */
  vectorStore: BackgroundStart;
  stop(): Promise<void>;
}

/** A secret from the config, or one generated once into DATA_DIR (the log names the file, never the value). */
function secretOrGenerated(config: Config, log: Logger, value: string | undefined, variable: string, file: string): string {
  if (value) return value;
  let s: ReturnType<typeof persistentSecret>;
  try {
    s = persistentSecret(config.DATA_DIR, file);
  } catch (err) {
    throw new StartStepError(`${variable} (unset: generated into DATA_DIR)`, `DATA_DIR or ${variable}`, err);
  }
  if (s.created) log.warn({ variable, file: s.path }, `${variable} not set; generated one into DATA_DIR`);
  return s.value;
}

export interface StartOptions {
  port?: number;
  /** An open database to use instead of opening one from the config (tests); the caller closes it. */
  database?: Database;
  /**
   * The database from openServerDatabase, already opening (main.ts starts it before loading this module, so the
   * two overlap); the server closes it.
   */
  openingDatabase?: Promise<Database>;
  /** In a PROCESSES > 1 worker: the channel to the primary, so /metrics answers for every process (src/cluster.ts). */
  clusterIpc?: Parameters<typeof useClusterMetrics>[1];
  /** In a PROCESSES > 1 worker: its number, which labels its process and nodejs metrics (src/metrics.ts). */
  worker?: number;
  /** How long provider sessions opened at the voice webhook wait for their media stream (default 15 s; tests). */
  prewarmTtlMs?: number;
  /** How often the embedded database's vacuum reads its statistics (default 60 s; tests). */
  vacuumPollMs?: number;
}

/**
 * Builds every service from the config and listens. main.ts runs it for the process; the end-to-end tests run
 * the same function (with fake vendors' URLs in the config and a test database), so they exercise this wiring.
 */
export async function startServer(config: Config, log: Logger, options: StartOptions = {}): Promise<RunningServer> {
  // A step that fails names its dependency and setting (main.ts prints the message); never the setting's value.
  const databaseSetting = config.DATABASE_URL ? 'DATABASE_URL' : 'DATA_DIR';
  const db = options.database ?? await startStep('database', databaseSetting, () => options.openingDatabase ?? openServerDatabase(config, log));
  const sql = db.sql;
  log.info({ database: db.kind, ...(db.kind === 'pglite' ? { dataDir: config.DATA_DIR } : {}) }, 'database open');
  const { applied } = await startStep('database migrations', databaseSetting, () => migrate(sql));
  if (applied.length) log.info({ applied }, 'migrations applied');

  const adminToken = secretOrGenerated(config, log, config.ADMIN_TOKEN, 'ADMIN_TOKEN', 'admin-token');
  const callTokenSecret = secretOrGenerated(config, log, config.CALL_TOKEN_SECRET, 'CALL_TOKEN_SECRET', 'call-token-secret');
  // Without a real Twilio token, a development token lets the simulator sign requests; real Twilio traffic
  // fails its signature check until TWILIO_AUTH_TOKEN is set.
  const twilioAuthToken = secretOrGenerated(config, log, config.TWILIO_AUTH_TOKEN, 'TWILIO_AUTH_TOKEN', 'twilio-auth-token');
  const twilioRest =
    config.TWILIO_ACCOUNT_SID && config.TWILIO_AUTH_TOKEN
      ? new TwilioRestClient({ accountSid: config.TWILIO_ACCOUNT_SID, authToken: config.TWILIO_AUTH_TOKEN, baseUrl: config.TWILIO_API_URL })
      : null;
  const allowedPrefixes = allowedPrefixesOf(config.OUTBOUND_ALLOWED_PREFIXES);
  const transferPolicy = { allowedPrefixes, allowPremiumRate: config.OUTBOUND_ALLOW_PREMIUM_RATE };
  const twilioControl = twilioRest ? { transfer: policedTransfer(transferPolicy, (callSid, to) => twilioRest.transferCall(callSid, to)) } : null;
  const dialer = twilioRest
    ? new OutboundDialer({
        sql, rest: twilioRest, publicOrigin: config.PUBLIC_URL,
        maxActivePerCompany: config.OUTBOUND_MAX_ACTIVE_PER_COMPANY,
        allowedPrefixes,
        allowPremiumRate: config.OUTBOUND_ALLOW_PREMIUM_RATE,
      })
    : null;

  const metrics = createMetrics(options.worker !== undefined ? { worker: String(options.worker) } : {});
  if (options.clusterIpc) useClusterMetrics(metrics, options.clusterIpc);
  const providers = new ProviderRegistry(config, log, {
    stt: new LocalSttProvider({ logger: log }),
    tts: new LocalTtsProvider({ englishEngine: config.LOCAL_TTS_ENGINE === 'espeak-ng' ? 'espeak' : 'flite' }),
  });
  log.info({ defaults: providers.defaults }, 'providers');
  // The server runs without the Debian speech packages; calls that need them then fail politely. Say so now.
  checkLocalSpeech().then((status) => {
    if (status.missing.length) {
      log.warn({ missing: status.missing, install: status.installCommand }, `local speech is incomplete; install with: ${status.installCommand}`);
    }
  }, (err: unknown) => log.warn({ err: String(err) }, 'checking the local speech packages failed'));

  // One budget check (and cache) for every path that starts a call; the recording store and Twilio's recordings.
  const budget = new BudgetGuard(sql, pricesFrom(config));
  const recordings = recordingServices(config);

  const bookings = createBookingService({ holdSec: config.BOOKING_HOLD_SEC });
  const callTools = bookingTools({ service: bookings, holdSec: config.BOOKING_HOLD_SEC, db: sql });

  const embedder = config.OPENAI_API_KEY
    ? new OpenAiEmbedder({ apiKey: config.OPENAI_API_KEY, baseUrl: config.OPENAI_BASE_URL, model: config.OPENAI_EMBEDDING_MODEL })
    : new LocalEmbedder();
  // Work nobody waits on gets a longer query deadline than requests and calls (db/param-guard.ts).
  const backgroundSql = backgroundHandle(sql);
  const knowledge = createKnowledge({ sql, backgroundSql, embedder, settings: config });
  // Calls barely need retrieval: an unreachable vector store must not stop the server from starting. Until it
  // answers, retrieval and ingestion meet it as an outage (a turn answers without documents; a job retries).
  const vectorStore = startInBackground(() => knowledge.store.init(), log, {
    dependency: 'vector store',
    fields: { store: knowledge.store.name, ...(config.QDRANT_URL ? { QDRANT_URL: loggableOrigin(config.QDRANT_URL) } : {}) },
    meanwhile: 'calls go on without document retrieval and ingestion jobs retry',
    onReady: () => metrics.vectorStoreReady.set(1),
  });

  // Post-call analysis uses the server's LLM (the same choice as calls: DEFAULT_LLM, else by key), the offline
  // analyzer when that is the local engine.
  const analyzer = createAnalyzer({ llm: providers.cloudLlm(), prompt: await loadAnalysisPrompt() });
  const jobKinds: Record<string, JobKind> = { ...knowledge.jobKinds, [ANALYZE_CALL_JOB]: analyzeCallJob({ sql: backgroundSql, analyzer, backstops: [listNumberAskedNotToBeCalled] }),
    [ERASURE_SWEEP_JOB]: erasureSweepJob({ sql: backgroundSql }), [SKIP_WAITING_JOB]: skipWaitingJob({ sql: backgroundSql }),
    [REWAKE_DEFERRED_JOB]: rewakeDeferredJob({ sql: backgroundSql }),
    // Numbers stored before their canonical form was enforced, queued once by migration 0430 (src/db/phone-backfill.ts).
    [PHONE_BACKFILL_JOB]: phoneBackfillJob({ sql: backgroundSql, log }),
    // Booking zones stored as typed before their canonical spelling was enforced, queued once by migration 0440.
    [ZONE_BACKFILL_JOB]: zoneBackfillJob({ sql: backgroundSql }) };
  installBacklogMetrics(metrics, sql, { jobKinds: Object.keys(jobKinds) });
  // New work is announced (db/work-notifications.ts): idle workers poll slowly.
  const idlePoll = { idlePollMs: ANNOUNCED_IDLE_POLL_MS };
  // A silent call no server holds is asked of Twilio: its final status callback may have been lost.
  const ownership = new CallOwnership(backgroundSql, log, { ...(twilioRest ? { telephony: (sid: string) => twilioRest.fetchCall(sid) } : {}) });
  await startStep('database (call ownership)', databaseSetting, () => ownership.start({ sweep: config.WORKERS_ENABLED }));
  const webhookDelivery = { timeoutMs: config.WEBHOOK_TIMEOUT_MS, allowHttp: config.WEBHOOK_ALLOW_HTTP, allowPrivate: config.WEBHOOK_ALLOW_PRIVATE };
  const webhooks = config.WORKERS_ENABLED
    ? new WebhookWorker(backgroundSql, {
        ...webhookDelivery, ...idlePoll, maxAgeMs: config.WEBHOOK_MAX_AGE_HOURS * 3_600_000, log, owner: ownership,
        onAttempt: (outcome, latencyMs) => {
          metrics.webhookAttempts.inc({ outcome });
          if (latencyMs !== null) metrics.webhookAttemptDuration.observe(latencyMs / 1000);
        },
      })
    : null;
  // Job and delivery leases record this instance; those of instances it finds lost are taken over at once.
  const worker = config.WORKERS_ENABLED ? new JobWorker(backgroundSql, { kinds: jobKinds, log, owner: ownership, ...idlePoll }) : null;
  // Outbound campaigns: dials through the same OutboundDialer (src/campaigns/scheduler.ts).
  const campaigns = config.WORKERS_ENABLED && dialer ? new CampaignScheduler({ sql: backgroundSql, dialer, log, budget, ...idlePoll }) : null;
  // Keeps the analytics rollup current (buckets marked dirty by triggers; see src/analytics/rollup.ts).
  const analyticsRollup = config.WORKERS_ENABLED ? analyticsWorker(backgroundSql, log) : null;
  // Keeps the usage rollup current the same way (src/usage/rollup.ts).
  const usageRollup = config.WORKERS_ENABLED ? usageRollupWorker(backgroundSql, log) : null;
  // Folds the campaign statistics' deltas into their totals (src/campaigns/stats.ts).
  const campaignStatsFold = config.WORKERS_ENABLED ? campaignStatsWorker(backgroundSql, log) : null;
  // Purges calls past each company's retention_days (src/privacy/retention.ts).
  const retention = config.WORKERS_ENABLED ? retentionWorker(backgroundSql, log, { recordings }) : null;
  // Embedded PGlite has no autovacuum: this vacuums its churned tables (src/db/embedded-vacuum.ts); null on PostgreSQL.
  // Not shared work but this process's own database's upkeep (no other process can reach it), so it runs with or
  // without WORKERS_ENABLED: the API, calls and heartbeats churn tables too (rate_limit_counts, instances, calls).
  if (!config.WORKERS_ENABLED && db.kind === 'pglite') {
    log.warn('WORKERS_ENABLED=false with the embedded database: no other process can reach it, so ingestion, post-call analysis, webhook deliveries, campaigns, rollups and retention will not run');
  }
  const vacuum = embeddedVacuumWorker({ kind: db.kind, sql: backgroundSql }, log, options.vacuumPollMs ? { pollMs: options.vacuumPollMs } : {});

  const prewarmer = new ProviderPrewarmer({ providersFor: (bot) => providers.forBot(bot), log, ...(options.prewarmTtlMs ? { ttlMs: options.prewarmTtlMs } : {}) });
  const runner = new CallRunner({
    sql,
    log,
    metrics,
    instanceId: ownership.instanceId,
    recordings,
    onUsageWritten: (companyId) => budget.forget(companyId),
    personalize: (call, bot) => (call.direction === 'outbound' ? personalizeForContact(sql, call.id, bot) : Promise.resolve(bot)),
    providersFor: (bot) => providers.forBot(bot),
    adoptPrewarmed: (callId, set) => prewarmer.adopt(callId, set),
    toolsFor: (bot) => [knowledge.tool, ...(bot.config.booking && bot.config.booking.enabled !== false ? callTools : []), ...campaignTools(sql)],
    retrieveFor: (bot, onUsage) => {
      const retriever = knowledge.retriever.forBot({ companyId: bot.company_id, botId: bot.id, language: bot.language }, onUsage);
      retriever.warm().catch((err: unknown) => log.warn({ err: String(err) }, 'reading whether the bot has documents failed'));
      return (text, signal) => retriever.search(text, signal);
    },
  });

  // Every route the server serves: the company's own routes, then the features built above; then the public ones.
  const tenantRoutes: FastifyPluginAsync[] = [
    ...accountRoutes({
      sql, config, budget, recordings,
      validateWebhookUrl: async (url) => {
        await validateWebhookUrl(url, { allowHttp: config.WEBHOOK_ALLOW_HTTP, allowPrivate: config.WEBHOOK_ALLOW_PRIVATE });
      },
    }),
    bookingRoutes({ sql, bookings }),
    knowledgeRoutes({
      sql, store: knowledge.store, retriever: knowledge.retriever, maxUploadBytes: config.UPLOAD_MAX_BYTES,
      quotas: {
        maxDocumentsPerCompany: config.KNOWLEDGE_MAX_DOCUMENTS_PER_COMPANY,
        maxBytesPerCompany: config.KNOWLEDGE_MAX_BYTES_PER_COMPANY,
        maxChunksPerBot: config.KNOWLEDGE_MAX_CHUNKS_PER_BOT,
      },
      onEnqueued: () => worker?.kick(),
    }),
    webCallRoutes({ sql, publicOrigin: config.PUBLIC_URL, tokenTtlSec: config.WEB_CALL_TOKEN_TTL_SEC, maxActivePerCompany: config.WEB_CALLS_MAX_ACTIVE_PER_COMPANY, budget }),
    outboundCallRoutes({ sql, dialer, budget }),
    campaignRoutes({
      sql, dialingAvailable: dialer !== null, onChange: () => campaigns?.kick(), uploadChecks: uploadCheckSlots(config.UPLOAD_CHECKS_MAX_CONCURRENT),
      maxOpenPerCompany: config.CAMPAIGNS_MAX_OPEN_PER_COMPANY, maxContacts: config.CAMPAIGN_CONTACTS_MAX,
    }),
    // Test events of the minute count across processes and instances on one PostgreSQL, as the rate limit does.
    webhookRoutes({ sql, delivery: webhookDelivery, owner: ownership, ...(config.DATABASE_URL ? { testCounter: databaseCounter(sql) } : {}) }),
  ];
  const publicRoutes: FastifyPluginAsync[] = [
    twilioVoiceRoutes({
      sql, authToken: twilioAuthToken, publicOrigin: config.PUBLIC_URL, callTokenSecret,
      prewarm: (callId, bot) => prewarmer.warm(callId, bot, { input: TWILIO_FORMAT, output: TWILIO_FORMAT }),
      rateLimitPerMin: config.TWILIO_RATE_LIMIT_PER_MIN,
      budget,
      liveCalls: runner,
      // Stopping: a new call streams to PUBLIC_URL only where another instance is there to take it.
      takesNewCalls: async () => !runner.draining || ownership.anotherInstanceAlive().catch(() => false),
      // Campaign voicemail in the bot's own voice (the registry's TTS for the bot), played from a token URL.
      voicemail: new VoicemailAudio({ sql, callTokenSecret, publicOrigin: config.PUBLIC_URL, ttsFor: (bot) => providers.forBot(bot) }),
    }),
    twilioMediaRoute({ sql, authToken: twilioAuthToken, publicOrigin: config.PUBLIC_URL, callTokenSecret, runner, metrics, twilioControl }),
    webCallSocketRoute({ sql, runner, metrics, publicOrigin: config.PUBLIC_URL, budget }),
    webCallPageRoute(),
  ];

  const app = await buildApp({
    config, sql, log, adminToken, metrics, tenantRoutes, publicRoutes,
    health: { draining: () => runner.draining, databaseInProcess: !config.DATABASE_URL },
    // Processes and instances on one PostgreSQL share each company's rate limit and each client's failed authentications.
    sharedRateLimits: Boolean(config.DATABASE_URL),
  });

  worker?.start();
  webhooks?.start();
  // A listener that cannot start leaves the workers to their idle polls (work then starts within 5 s).
  const workListener = config.WORKERS_ENABLED
    ? await listenForWork(db, (what) => {
      if (what === null || what === 'webhooks') webhooks?.kick();
      if (what === null || what === 'campaigns') campaigns?.kick();
      if (what === null) worker?.kick();
      else if (what.startsWith('job:')) worker?.kick(what.slice('job:'.length));
    }).catch((err: unknown) => {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'listening for new work failed: idle workers poll every 5 s');
      return null;
    })
    : null;
  // Every instance runs calls, workers or not: the end of a call it runs, wherever it was ended, ends its session.
  const callEndListener = await listenForCallEnds(db, runner, log).catch((err: unknown) => {
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'listening for call ends failed: a call ended on another instance runs here until its media socket closes');
    return null;
  });
  campaigns?.start();
  analyticsRollup?.start();
  usageRollup?.start();
  campaignStatsFold?.start();
  retention?.start();
  vacuum?.start();
  // Expired holds and abandoned web calls: background work like the workers above, so only where they run.
  const holdSweeper = config.WORKERS_ENABLED
    ? setInterval(() => {
      bookings.expireStaleHolds(sql).catch((err: unknown) => log.warn({ err }, 'expiring stale holds failed'));
      closeAbandonedWebCalls(sql).catch((err: unknown) => log.warn({ err }, 'closing abandoned web calls failed'));
    }, 60_000)
    : null;
  holdSweeper?.unref();

  const port = options.port ?? config.PORT;
  const address = await startStep(`listening on ${config.HOST}:${port}`, 'HOST, PORT', () => app.listen({ port, host: config.HOST }));
  log.info({ address, publicUrl: config.PUBLIC_URL }, 'Parley listening');
  logBotWarnings(sql, config, log).catch((err: unknown) => log.warn({ err: String(err) }, 'listing bot warnings failed'));

  return {
    app,
    db,
    runner,
    twilioAuthToken,
    adminToken,
    vectorStore,
    url: address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1'),
    async stop() {
      const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS;
      const left = () => Math.max(0, deadline - Date.now());
      if (holdSweeper) clearInterval(holdSweeper);
      vectorStore.stop();
      // Live calls say goodbye and hang up first (closing the server would cut their sockets), then the server
      // stops accepting and finishes in-flight requests, workers finish their jobs, and the database closes.
      await campaigns?.stop(left()); // no new dials while live calls say goodbye
      await runner.shutdown(left());
      await settleWithin(app.close(), left());
      await settleWithin(prewarmer.close(), left());
      await workListener?.stop();
      await callEndListener?.stop();
      await Promise.all([worker?.stop(left()), webhooks?.stop(left()), analyticsRollup?.stop(left()), usageRollup?.stop(left()), campaignStatsFold?.stop(left()), retention?.stop(left()), vacuum?.stop(left())]);
      await recordings.close();
      await knowledge.pool.close();
      await ownership.stop();
      if (!options.database) await db.close();
    },
  };
}
