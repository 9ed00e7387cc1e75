/**
 * Starts and tracks live calls on any transport: picks the bot's providers, builds its tools and recorder,
 * runs a CallSession, and ends every call politely on shutdown. A web call of a bot with `recording.enabled` is
 * recorded here (src/recordings: a transport decorator spooling a stereo WAV, stored when the call ends); Twilio
 * records its own calls (voice-routes.ts).
 */
import { sessionInputsFor } from '../call/provider-sessions.js';
import { limitsOf, recordingOf } from '../bots/config-schema.js';
import { startCallRecording, type ActiveRecording, type Recordings } from '../recordings/call-recording.js';
import { countCallEnded, countProviderFailures, observeCallLatency, type Metrics } from '../metrics.js';
import { CallSession } from '../call/call-session.js';
import { endCallInTx } from '../call/lifecycle.js';
import type { CallEndReason } from '../call/end-reasons.js';
import { PgCallRecorder } from '../call/recorder.js';
import { ToolRegistry } from '../call/tool-registry.js';
import { ShownPassages } from '../call/shown-passages.js';
import { currentDocumentVersions } from '../knowledge/repo.js';
import type { PromptPassage } from '../knowledge/retrieve.js';
import { builtInTools } from '../call/tools/index.js';
import type { CallContext, Tool } from '../call/tool-types.js';
import type { BotRow } from '../db/bots.js';
import type { CallRow } from '../db/calls.js';
import type { RootSql } from '../db/sql.js';
import type { Logger } from '../log.js';
import { agentSystemPrompt } from '../prompts.js';
import type { ProviderSet } from '../providers/types.js';
import { RecognitionContext, withExpectedInput } from '../providers/stt/recognition-context.js';
import type { CallTransport } from './transport.js';
import { transferTargetRefusal } from './transfer-target.js';
import { settleWithin } from '../util/settle-within.js';
import { CallUsageMeter, countingProviders } from '../usage/counting.js';
import { writeCallUsage } from '../usage/repo.js';
import type { EmbeddingUsage } from '../usage/ingest-usage.js';
import { retryWhileUnreachable } from '../db/retry.js';
import { backgroundHandle } from '../db/param-guard.js';


export interface CallRunnerDeps {
  sql: RootSql;
  log: Logger;
  metrics: Metrics;
  providersFor(bot: BotRow): ProviderSet;
  /** Hands the call the provider sessions opened ahead for it, if any (see prewarm.ts). */
  adoptPrewarmed?(callId: string, providers: ProviderSet): ProviderSet;
  /** Feature tools for a bot (knowledge search, bookings); the built-ins are always there. */
  toolsFor?(bot: BotRow): Tool[];
  /** Knowledge for the prompt of one turn. */
  /** `onUsage` hears the embedding tokens of each question the call looks up (added to the call's usage). */
  retrieveFor?(bot: BotRow, onUsage: (usage: EmbeddingUsage) => void): ((text: string, signal: AbortSignal) => Promise<readonly PromptPassage[] | null>) | undefined;
  /** This server instance, recorded on each call it runs (see call-ownership.ts). */
  instanceId?: string;
  /** The bot as this call should meet it (a campaign fills its contact's variables into greeting and prompt). */
  personalize?(call: CallRow, bot: BotRow): Promise<BotRow>;
  /** Where web-call recordings go; without it web calls are not recorded. */
  recordings?: Recordings;
  /** Told when a call's usage was written, so the company's cached month cost is read again (usage/budget.ts). */
  onUsageWritten?(companyId: string): void;
}

export class CallRunner {
  private readonly active = new Map<string, CallSession>();

  constructor(private readonly deps: CallRunnerDeps) {}

  get activeCount(): number {
    return this.active.size;
  }

  /** The calls whose sessions run here. */
  activeCallIds(): string[] {
    return [...this.active.keys()];
  }

  /**
   * Ends the session of a call whose row another party ended (Twilio's final status callback, the sweep: see
   * call-end-notices.ts) through the session's own end: at once, with no goodbye (nobody is left to hear it), its
   * provider streams closed. The row is not ended twice. False when the call's session does not run here.
   */
  endLiveSession(callId: string, reason: CallEndReason): boolean {
    const session = this.active.get(callId);
    if (!session) return false;
    void session.end(reason, { immediate: true });
    return true;
  }

  /**
   * Runs a call to its end. The call row and bot are already authorised by the transport's token. A call whose
   * session cannot be set up or run (a provider that cannot be built, a crash) is ended here, `server_error`, at
   * once — not left queued for the sweep to call `not_started` — and the error rethrown to the route.
   */
  async run(callTransport: CallTransport, call: CallRow, botRow: BotRow): Promise<CallSession> {
    const { sql, metrics } = this.deps;
    const { session, transport, log, meter, recording, bot } = await this.prepare(callTransport, call, botRow)
      .catch(async (err: unknown) => {
        await this.endUnrunCall(call, botRow, 'server_error: the call could not be started');
        throw err;
      });
    this.active.set(call.id, session);
    metrics.activeCalls.inc({ transport: transport.kind });
    try {
      const running = session.start();
      // A call that reaches a server already shutting down is told so and ended, like the calls it had
      // (before, it was answered and then cut without a word when the process exited).
      if (this.draining) void session.end('server_shutdown');
      await running;
      log.info({ reason: session.endReason }, 'call ended');
    } catch (err) {
      log.error({ err }, 'call session crashed');
      await this.endUnrunCall(call, bot, 'server_error: the call session crashed');
    } finally {
      this.active.delete(call.id);
      metrics.activeCalls.dec({ transport: transport.kind });
      observeCallLatency(metrics, session);
      countCallEnded(metrics, session);
      // Billed whatever the database was doing when the call ended: written once it can be reached again.
      // The background deadline: a write given up at the API's short one could land before its retry, billed twice.
      const usageSql = backgroundHandle(sql);
      await retryWhileUnreachable(() => writeCallUsage(usageSql, { callId: call.id, companyId: bot.company_id }, meter.items()))
        .then(() => this.deps.onUsageWritten?.(bot.company_id), (err: unknown) => log.error({ err }, 'writing the call usage failed'));
      if (recording) await recording.save(sql).catch((err: unknown) => log.error({ err }, 'storing the call recording failed'));
    }
    return session;
  }

  /** Everything a call's session needs, the session built (not started). */
  private async prepare(callTransport: CallTransport, call: CallRow, botRow: BotRow) {
    const { sql, metrics } = this.deps;
    const personalized = this.deps.personalize ? await this.deps.personalize(call, botRow).catch(() => botRow) : botRow;
    const log = this.deps.log.child({ callId: call.id, botId: personalized.id, transport: callTransport.kind });
    let recording: ActiveRecording | null = null;
    let bot = personalized;
    const recordingConfig = recordingOf(personalized.config);
    if (callTransport.kind === 'web' && this.deps.recordings && recordingConfig.enabled) {
      recording = await startCallRecording(this.deps.recordings, { callId: call.id, companyId: personalized.company_id }, callTransport)
        .catch((err: unknown) => {
          log.error({ err }, 'starting the call recording failed; the call goes on unrecorded');
          return null;
        });
      // Twilio speaks the notice in TwiML before the stream; a web call hears it as the start of the greeting.
      if (recording && recordingConfig.notice) {
        bot = { ...personalized, config: { ...personalized.config, greeting: `${recordingConfig.notice} ${personalized.config.greeting}` } };
      }
    }
    const transport = recording?.transport ?? callTransport;
    const chosen = this.deps.providersFor(bot);
    // Counted: what the call consumes (STT audio, LLM tokens, TTS characters), written once when it ends.
    const meter = new CallUsageMeter();
    const onEmbeddingUsage = (u: EmbeddingUsage): void => meter.add('embedding_tokens', u.provider, u.model, u.tokens);
    const providers = countingProviders(this.deps.adoptPrewarmed?.(call.id, chosen) ?? chosen, meter);
    // What the bot just asked, set by the booking flow (through the tools' CallContext) and read by the recognizer.
    const recognition = new RecognitionContext();
    const context: CallContext = {
      recognition,
      callId: call.id,
      botId: bot.id,
      companyId: bot.company_id,
      callerNumber: call.direction === 'outbound' ? call.to_number : call.from_number,
      bot: { id: bot.id, name: bot.name, language: bot.language, config: bot.config },
      onEmbeddingUsage,
      // What the model was shown of the bot's documents, checked against them before each LLM request.
      passages: new ShownPassages((ids) => currentDocumentVersions(sql, bot.company_id, bot.id, ids)),
      // The bot's own numbers: the one it has now (active_bot_id, looked up) and the one this call is on.
      transferTargetRefusal: (to) => transferTargetRefusal(sql, {
        companyId: bot.company_id, botId: bot.id,
        botNumbers: [bot.phone_number, call.direction === 'outbound' ? call.from_number : call.to_number],
      }, to),
    };
    const sessionInputs = sessionInputsFor(bot, providers);
    const session = new CallSession({
      transport,
      stt: withExpectedInput(providers.stt, recognition),
      llm: providers.llm,
      tts: providers.tts,
      tools: new ToolRegistry([...builtInTools(), ...(this.deps.toolsFor?.(bot) ?? [])], {
        onFailure: (tool, err) => log.error({ err, tool }, 'a tool failed during the call'),
      }),
      context,
      recorder: new PgCallRecorder({ sql, callId: call.id, companyId: bot.company_id, botId: bot.id, log, instanceId: this.deps.instanceId ?? null }),
      limits: limitsOf(bot.config),
      systemPrompt: agentSystemPrompt({
        name: bot.name,
        language: bot.language,
        companyPrompt: bot.config.systemPrompt ?? '',
        timezone: (bot.config.booking as { timezone?: string } | undefined)?.timezone,
      }),
      language: bot.language,
      // The same voice and keyterms as the sessions opened ahead at the voice webhook (telephony/prewarm.ts).
      voice: sessionInputs.voice,
      keyterms: sessionInputs.keyterms,
      retrieveContext: this.deps.retrieveFor?.(bot, onEmbeddingUsage),
      log,
      sttModel: providers.sttModel,
      ttsModel: providers.ttsModel,
      onProviderFailure: countProviderFailures(metrics, providers),
    });
    log.info({ stt: providers.stt.name, llm: providers.llm.name, tts: providers.tts.name }, 'call started');
    return { session, transport, log, meter, recording, bot };
  }

  /** Ends through the lifecycle a call whose session never ran or crashed (once; a no-op for a call already ended). */
  private async endUnrunCall(call: CallRow, bot: BotRow, reason: CallEndReason): Promise<void> {
    await this.deps.sql.begin((tx) => endCallInTx(tx, { callId: call.id, companyId: bot.company_id }, { status: 'failed', reason }, { by: 'session' }))
      .catch((err: unknown) => this.deps.log.error({ err, callId: call.id }, 'ending the call that could not run failed'));
  }

  /** Set by shutdown(): calls that start from now on are ended at once (with the shutdown goodbye). */
  draining = false;

  /**
   * Ends every live call (goodbye, then hang up) and waits up to `timeoutMs` — for the calls that start meanwhile
   * too (the server still listens while its calls say goodbye; /readyz is 503 so new ones go elsewhere).
   */
  async shutdown(timeoutMs: number): Promise<void> {
    this.draining = true;
    const deadline = Date.now() + timeoutMs;
    while (this.active.size > 0 && Date.now() < deadline) {
      await settleWithin([...this.active.values()].map((s) => s.end('server_shutdown')), Math.max(0, deadline - Date.now()));
      if (this.active.size > 0) await new Promise((r) => setTimeout(r, 20));
    }
  }
}
