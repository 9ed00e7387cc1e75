/**
 * A company's data as JSON Lines: one object per line with a `type` — company, bot, call (with its transcript,
 * outcome and recording reference), booking, campaign, campaign_contact, dnc_number, audit, usage (the usage
 * records: per call and kind, and knowledge ingestion's embedding tokens) — read with postgres.js cursors (one
 * batch of rows in memory at a time), each batch yielded as one chunk. The consumer pulls: nothing is read from
 * the database faster than the client takes it. Every query is scoped by the company id.
 */
import { transcriptOf } from '../db/calls.js';
import type { Db } from '../db/sql.js';

export const EXPORT_TYPES = ['company', 'bot', 'call', 'booking', 'campaign', 'campaign_contact', 'dnc_number', 'audit', 'usage'] as const;
export type ExportType = (typeof EXPORT_TYPES)[number];

type Row = Record<string, unknown>;
interface Cursorable { cursor(rows: number): AsyncIterable<Row[]> }

function queryFor(sql: Db, type: ExportType, companyId: string, withRecordingUrls: boolean): Cursorable {
  const q = (() => {
    switch (type) {
      case 'company':
        return sql`select id, name, webhook_url, webhook_events, retention_days, monthly_budget::float8 as monthly_budget, is_active, created_at, updated_at from companies where id = ${companyId}`;
      case 'bot':
        return sql`select id, name, phone_number, language, config, is_active, created_at, updated_at from bots where company_id = ${companyId} order by created_at, id`;
      case 'call':
        return sql`
          select c.id, c.bot_id, c.direction, c.from_number, c.to_number, c.status, c.started_at, c.answered_at, c.ended_at,
            c.duration_sec, c.failure_reason, ${withRecordingUrls ? sql`c.recording_url` : sql`null::text`} as recording_url, ${transcriptOf(sql)} as transcript,
            -- The recording itself is not in the export: its reference, and where the API streams it.
            case when c.recording_sid is null and c.recording_key is null then null else json_build_object(
              'source', case when c.recording_key is not null then 'parley' else 'twilio' end, 'twilio_recording_sid', c.recording_sid,
              'duration_sec', c.recording_duration_sec, 'channels', c.recording_channels, 'api_path', '/v1/calls/' || c.id || '/recording') end as recording,
            case when o.call_id is null then null else json_build_object('type', o.outcome_type, 'confidence', o.confidence,
              'summary', o.summary, 'extracted_data', o.extracted_data, 'analyzer', o.analyzer, 'created_at', o.created_at) end as outcome
          from calls c left join outcomes o on o.call_id = c.id
          where c.company_id = ${companyId} order by c.started_at desc, c.id desc`;
      case 'booking':
        return sql`
          select id, bot_id, call_id, service_id, service_name, resource_id, resource_name, starts_at, ends_at, status,
            customer_name, customer_phone, price, currency, notes, created_at, updated_at
          from bookings where company_id = ${companyId} order by created_at desc, id desc`;
      case 'campaign':
        return sql`select id, bot_id, name, status, starts_at, ends_at, created_at from campaigns where company_id = ${companyId} order by created_at desc, id desc`;
      case 'campaign_contact':
        return sql`
          select id, campaign_id, phone, name, time_zone, variables, state, attempts, last_outcome, skip_reason, created_at, updated_at
          from campaign_contacts where company_id = ${companyId} order by campaign_id, id`;
      case 'dnc_number':
        return sql`select phone, source, reason, call_id, created_at from dnc_numbers where company_id = ${companyId} order by phone`;
      case 'audit':
        return sql`
          select id, actor, action, resource_id, changed_fields, details, status_code, request_id, ip, created_at
          from audit_log where company_id = ${companyId} order by id desc`;
      case 'usage':
        // Stored units (stt_audio_ms, tts_chars, tokens); telephony minutes are the calls' duration_sec.
        return sql`
          select 'call' as source, call_id, null::uuid as document_id, bot_id, started_at as at, kind, provider, model, quantity::text as quantity
          from call_usage where company_id = ${companyId}
          union all
          select 'ingest', null, document_id, bot_id, occurred_at, kind, provider, model, quantity::text
          from ingest_usage where company_id = ${companyId}
          order by at, kind, provider, model`;
    }
  })();
  return q as unknown as Cursorable;
}

/** 64-bit integers (audit ids) as strings, like the API's other responses. */
const jsonValue = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? value.toString() : value);

export interface ExportOptions {
  batchSize?: number;
  types?: readonly ExportType[];
  /** Twilio's recording URLs (which may download the audio without credentials): only for a key that may read recordings. */
  withRecordingUrls: boolean;
}

/** The company's data as JSONL chunks (one chunk per cursor batch of `batchSize` rows). */
export async function* exportJsonl(sql: Db, companyId: string, options: ExportOptions): AsyncGenerator<string> {
  const batchSize = options.batchSize ?? 500;
  for (const type of options.types ?? EXPORT_TYPES) {
    for await (const rows of queryFor(sql, type, companyId, options.withRecordingUrls).cursor(batchSize)) {
      let chunk = '';
      for (const row of rows) chunk += `${JSON.stringify({ type, ...row }, jsonValue)}\n`;
      yield chunk;
    }
  }
}
