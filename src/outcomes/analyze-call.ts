/**
 * The 'analyze_call' durable job: after a call ends, classify it, store the outcome and emit call.analyzed in
 * the same transaction. Idempotent: a call that already has an outcome is left alone (a job can run twice
 * after a crash), unless the payload says { force: true }.
 */
import { DateTime } from 'luxon';
import { transcriptOf } from '../db/calls.js';
import type { Db, RootSql } from '../db/sql.js';
import type { JobKind } from '../jobs/queue.js';
import { redact, redactDeep, redactRulesOf } from '../privacy/redact.js';
import { emitEvent } from '../webhooks/emit.js';
import type { OutcomeConfig } from './config-schema.js';
import { resolveOutcomeConfig } from './defaults.js';
import { analyzeOffline, isNotConnected } from './offline-analyzer.js';
import type { Analysis, AnalysisInput, Analyzer, TranscriptTurn } from './types.js';
import { storableJson, storableText } from '../util/storable-text.js';
import { writeCallUsage } from '../usage/repo.js';

export const ANALYZE_CALL_JOB = 'analyze_call';

interface CallRow {
  id: string;
  company_id: string | null;
  bot_id: string | null;
  direction: string;
  from_number: string | null;
  to_number: string | null;
  transcript: TranscriptTurn[] | null;
  language: 'en' | 'ru' | null;
  config: { outcomes?: OutcomeConfig } | null;
  status?: string | null;
  end_reason?: string | null;
  /** Its number was erased (src/privacy/erase.ts): nothing is analysed or sent about it. */
  erased?: boolean;
}

async function loadCall(db: Db, callId: string): Promise<CallRow | null> {
  const [row] = await db<CallRow[]>`
    select c.id, c.company_id, c.bot_id, c.direction, c.from_number, c.to_number, ${transcriptOf(db)} as transcript, b.language, b.config, c.status::text as status,
      c.erased_at is not null as erased,
      -- Why it ended, as stored with the end (calls ended before end_reason existed: the failure or the event's).
      coalesce(c.end_reason, c.failure_reason, (select e.body::jsonb->'data'->>'reason' from webhook_events e
        where e.company_id = c.company_id and e.type = 'call.ended' and e.ordering_key = c.id::text limit 1)) as end_reason
    from calls c left join bots b on b.id = c.bot_id
    where c.id = ${callId}`;
  return row ?? null;
}

/** The live booking (not a mere hold, not cancelled/expired) made during this call, if any: the latest. */
async function bookingOfCall(db: Db, companyId: string, callId: string): Promise<{ starts_at: Date; service_name: string; customer_name: string | null } | null> {
  const [row] = await db<{ starts_at: Date; service_name: string; customer_name: string | null }[]>`
    select starts_at, service_name, customer_name from bookings
    where call_id = ${callId} and company_id = ${companyId} and status not in ('held', 'expired', 'cancelled')
    order by created_at desc limit 1`;
  return row ?? null;
}

/** True when a booking (not a mere hold, not cancelled/expired) points at this call. */
export async function bookingMadeDuringCall(db: Db, companyId: string, callId: string): Promise<boolean> {
  return (await bookingOfCall(db, companyId, callId)) !== null;
}

export async function buildAnalysisInput(db: Db, call: CallRow & { company_id: string }): Promise<AnalysisInput> {
  const booking = await bookingOfCall(db, call.company_id, call.id);
  const zone = (call.config as { booking?: { timezone?: string } } | null)?.booking?.timezone ?? 'UTC';
  const local = booking ? DateTime.fromJSDate(booking.starts_at, { zone }) : null;
  return {
    language: call.language ?? 'en',
    transcript: Array.isArray(call.transcript) ? call.transcript : [],
    bookingMade: booking !== null,
    booking: booking && local?.isValid
      ? { date: local.toFormat('yyyy-MM-dd'), time: local.toFormat('HH:mm'), service: booking.service_name, name: booking.customer_name }
      : null,
    callerNumber: call.direction === 'outbound' ? call.to_number : call.from_number,
    outcomes: resolveOutcomeConfig(call.config?.outcomes),
    end: { status: call.status ?? null, reason: call.end_reason ?? null },
  };
}

async function store(sql: RootSql, call: CallRow & { company_id: string }, analysis: Analysis, force: boolean): Promise<boolean> {
  // Stored (and sent in call.analyzed) redacted as the bot asks: the summary and every string extracted.
  const rules = redactRulesOf(call.config as { privacy?: { redact?: string[] } } | null);
  // What the analyzer (an LLM) wrote is stored even with a NUL or a broken surrogate in it.
  const clean: Analysis = { ...analysis, summary: storableText(analysis.summary), extractedData: storableJson(analysis.extractedData) };
  const a: Analysis = rules.length ? { ...clean, summary: redact(clean.summary, rules), extractedData: redactDeep(clean.extractedData, rules) } : clean;
  return sql.begin(async (tx) => {
    // Erased while the analyzer thought: nothing is stored or sent.
    const [locked] = await tx<{ erased: boolean }[]>`select erased_at is not null as erased from calls where id = ${call.id} for update`;
    if (locked?.erased) return false;
    const [existing] = await tx`select 1 from outcomes where call_id = ${call.id}`;
    if (existing && !force) return false;
    await tx`
      insert into outcomes (call_id, company_id, outcome_type, confidence, summary, extracted_data, analyzer)
      values (${call.id}, ${call.company_id}, ${a.outcomeType}, ${a.confidence}, ${a.summary}, ${tx.json(a.extractedData as never)}, ${a.analyzer})
      on conflict (call_id) do update set outcome_type = excluded.outcome_type, confidence = excluded.confidence,
        summary = excluded.summary, extracted_data = excluded.extracted_data, analyzer = excluded.analyzer,
        webhook_sent = false, webhook_sent_at = null, webhook_response_code = null, created_at = now()`;
    await emitEvent(tx, {
      companyId: call.company_id,
      type: 'call.analyzed',
      orderingKey: call.id,
      data: {
        call_id: call.id,
        bot_id: call.bot_id,
        outcome: { type: a.outcomeType, confidence: a.confidence, summary: a.summary, extracted_data: a.extractedData, analyzer: a.analyzer },
      },
    });
    return true;
  });
}

/**
 * What else reads a call once it is over, with its analysis (passed in: e.g. the do-not-call backstop of
 * campaigns/dnc-backstop.ts, a layer above this one). Run once per call: not again on a forced re-analysis.
 */
export type CallBackstop = (db: Db, call: { id: string; companyId: string; otherParty: string | null }, transcript: readonly TranscriptTurn[]) => Promise<unknown>;

/** Analyses one call and stores the outcome; returns it, or null when there was nothing to do. */
export async function analyzeCall(
  sql: RootSql,
  analyzer: Analyzer,
  callId: string,
  options: { force?: boolean; signal?: AbortSignal; backstops?: readonly CallBackstop[] } = {},
): Promise<Analysis | null> {
  const call = await loadCall(sql, callId);
  if (!call?.company_id || call.erased) return null;
  const owned = { ...call, company_id: call.company_id };
  if (!options.force && (await sql`select 1 from outcomes where call_id = ${callId}`).length) return null;
  const input = await buildAnalysisInput(sql, owned);
  // Once per call: a forced re-analysis does not, say, list again a number the company has since taken off its list.
  if (!options.force) {
    for (const backstop of options.backstops ?? []) await backstop(sql, { id: owned.id, companyId: owned.company_id, otherParty: input.callerNumber }, input.transcript);
  }
  // Nobody was on the line: nothing for an LLM to read (and nothing to pay it for); the rules say so.
  // The LLM runs outside any transaction: nothing is locked while it thinks.
  const analysis = isNotConnected(input) ? { ...analyzeOffline(input), analyzer: 'offline (not connected)' } : await analyzer.analyze(input, options.signal);
  // What the LLM's answers consumed is the call's usage (billed whether or not the outcome is stored).
  if (analysis.usage?.length) {
    await writeCallUsage(sql, { callId: owned.id, companyId: owned.company_id }, analysis.usage);
  }
  return (await store(sql, owned, analysis, options.force ?? false)) ? analysis : null;
}

/** Offline analysis when the LLM stayed unavailable for every attempt of the job. */
export async function analyzeCallOffline(sql: RootSql, callId: string, reason: string, backstops?: readonly CallBackstop[]): Promise<Analysis | null> {
  const analyzer: Analyzer = { analyze: async (input) => ({ ...analyzeOffline(input), analyzer: `offline (fallback: ${reason})`.slice(0, 500) }) };
  return analyzeCall(sql, analyzer, callId, backstops ? { backstops } : {});
}

export function analyzeCallJob(deps: { sql: RootSql; analyzer: Analyzer; concurrency?: number; backstops?: readonly CallBackstop[] }): JobKind {
  return {
    concurrency: deps.concurrency ?? 2,
    handler: async (payload, ctx) => {
      if (typeof payload.callId !== 'string') throw new Error('analyze_call: payload.callId is required');
      await analyzeCall(deps.sql, deps.analyzer, payload.callId, { force: payload.force === true, signal: ctx.signal, ...(deps.backstops ? { backstops: deps.backstops } : {}) });
    },
    onGiveUp: async (payload, error) => {
      if (typeof payload.callId === 'string') await analyzeCallOffline(deps.sql, payload.callId, `LLM unavailable: ${error.message}`, deps.backstops);
    },
  };
}
