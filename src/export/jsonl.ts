/**
 * A company's data as JSON Lines: one object per line with a `type` — company, bot, call (with its transcript,
 * outcome and recording reference), booking, campaign, campaign_contact, dnc_number, audit, usage (the usage
 * records: per call and kind, and knowledge ingestion's embedding tokens) — yielded a line at a time. The consumer
 * pulls: nothing is read from the database faster than the client takes it. Every query is scoped by the company id.
 *
 * Memory is bounded by bytes, not rows: a row's size has no useful bound (a two-hour call is thousands of turns,
 * hundreds of KB), so a fixed row count per batch held anything from kilobytes to gigabytes. Each batch's row count
 * comes from the bytes the previous batch came to (nextBatchRows): about `batchBytes` of JSON when neighbouring rows
 * are alike, never fewer than 1 row nor more than `maxBatchRows`, and at most twice the previous batch, so one batch
 * of small rows does not open the door to hundreds of huge ones. Each type starts at one row. The same bound holds
 * for the event loop: one batch's result is parsed and its lines made in one step, and the export gives the loop
 * back between batches.
 *
 * Keyset pagination, never a cursor: each batch is one short query (`where (order columns) > / < (the last row's
 * values) order by … limit n`; contacts: one per campaign the batch spans, see contactsBatch) and no
 * connection or transaction is held between batches. A cursor would
 * hold its connection for as long as the client takes to read, and a client that stops reading would then block
 * every other query on PGlite's single connection (every tenant, every live call), or use up a pool slot for
 * good on PostgreSQL. Here a stalled client holds only its own socket and the unsent part of one batch.
 *
 * Every type's order is unique (it ends with a key), so no row is lost or repeated between batches. The keyset
 * values travel as text selected alongside the row (`_k0`, `_k1`, …, dropped from the output) and are bound as
 * text and cast on the server (`::text::timestamptz`): a timestamp read as, or bound through, a JavaScript Date
 * (connect.ts's serialiser for a timestamptz parameter) would lose its microseconds, and the comparison would
 * then repeat or skip rows. Each batch is its own snapshot: a row written during the export appears if its key
 * sorts after the batches already sent, a row deleted before its batch does not.
 */
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import { transcriptOf } from '../db/calls.js';
import type { Db } from '../db/sql.js';
import { webhookUrlShown } from '../webhooks/shown-url.js';

export const EXPORT_TYPES = ['company', 'bot', 'call', 'booking', 'campaign', 'campaign_contact', 'dnc_number', 'audit', 'usage'] as const;
export type ExportType = (typeof EXPORT_TYPES)[number];

type Row = Record<string, unknown>;
/** The last row's keyset values (text), in the order's column order; null before the first batch. */
type After = readonly string[] | null;

/** How many `_k<n>` columns each type's query selects. */
const KEY_COLUMNS: Record<ExportType, number> = {
  company: 0, bot: 2, call: 2, booking: 2, campaign: 2, campaign_contact: 2, dnc_number: 1, audit: 1, usage: 6,
};

/** One batch of `type`'s rows after `after`, at most `limit`, in the export's order. */
function batch(sql: Db, type: ExportType, companyId: string, withRecordingUrls: boolean, after: After, limit: number): Promise<Row[]> {
  const k = after ?? [];
  const q = (() => {
    switch (type) {
      case 'company':
        return sql`select id, name, webhook_url, webhook_events, retention_days, monthly_budget::float8 as monthly_budget, is_active, created_at, updated_at from companies where id = ${companyId}`;
      case 'bot':
        return sql`
          select id, name, phone_number, language, config, is_active, created_at, updated_at, created_at::text as _k0, id::text as _k1
          from bots where company_id = ${companyId}
            ${after ? sql`and (created_at, id) > (${k[0]!}::text::timestamptz, ${k[1]!}::uuid)` : sql``}
          order by created_at, id limit ${limit}`;
      case 'call':
        return sql`
          select c.id, c.bot_id, c.direction, c.from_number, c.to_number, c.status, c.started_at, c.answered_at, c.ended_at,
            c.duration_sec, c.failure_reason, c.end_reason, ${withRecordingUrls ? sql`c.recording_url` : sql`null::text`} as recording_url, ${transcriptOf(sql)} as transcript,
            -- The recording itself is not in the export: its reference, and where the API streams it.
            case when c.recording_sid is null and c.recording_key is null then null else json_build_object(
              'source', case when c.recording_key is not null then 'parley' else 'twilio' end, 'twilio_recording_sid', c.recording_sid,
              'duration_sec', c.recording_duration_sec, 'channels', c.recording_channels, 'api_path', '/v1/calls/' || c.id || '/recording') end as recording,
            case when o.call_id is null then null else json_build_object('type', o.outcome_type, 'confidence', o.confidence,
              'summary', o.summary, 'extracted_data', o.extracted_data, 'analyzer', o.analyzer, 'created_at', o.created_at) end as outcome,
            c.started_at::text as _k0, c.id::text as _k1
          from calls c left join outcomes o on o.call_id = c.id
          where c.company_id = ${companyId}
            ${after ? sql`and (c.started_at, c.id) < (${k[0]!}::text::timestamptz, ${k[1]!}::uuid)` : sql``}
          order by c.started_at desc, c.id desc limit ${limit}`;
      case 'booking':
        return sql`
          select id, bot_id, call_id, service_id, service_name, resource_id, resource_name, starts_at, ends_at, status,
            customer_name, customer_phone, price, currency, notes, created_at, updated_at, created_at::text as _k0, id::text as _k1
          from bookings where company_id = ${companyId}
            ${after ? sql`and (created_at, id) < (${k[0]!}::text::timestamptz, ${k[1]!}::uuid)` : sql``}
          order by created_at desc, id desc limit ${limit}`;
      case 'campaign':
        return sql`
          select id, bot_id, name, status, starts_at, ends_at, created_at, created_at::text as _k0, id::text as _k1
          from campaigns where company_id = ${companyId}
            ${after ? sql`and (created_at, id) < (${k[0]!}::text::timestamptz, ${k[1]!}::uuid)` : sql``}
          order by created_at desc, id desc limit ${limit}`;
      case 'campaign_contact':
        return contactsBatch(sql, companyId, after, limit);
      case 'dnc_number':
        // (company_id, phone) is the primary key: the phone is unique within the company.
        return sql`
          select phone, source, reason, call_id, created_at, phone as _k0
          from dnc_numbers where company_id = ${companyId}
            ${after ? sql`and phone > ${k[0]!}` : sql``}
          order by phone limit ${limit}`;
      case 'audit':
        return sql`
          select id, actor, action, resource_id, changed_fields, details, status_code, request_id, ip, created_at, id::text as _k0
          from audit_log where company_id = ${companyId}
            ${after ? sql`and id < ${k[0]!}::text::bigint` : sql``}
          order by id desc limit ${limit}`;
      case 'usage': {
        // Stored units (stt_audio_ms, tts_chars, tokens, telephony minutes); a purged call's usage has call_id null.
        // The quantity is a bigint count, a JSON number here as in GET /v1/usage: float8 holds it exactly below 2^53.
        // Ordered by at, kind, provider, model as ever, then by what makes a record unique: its source and its
        // row's id. Each side takes its own next `limit` rows first, so each reads from its (company_id, time)
        // index only what the batch needs. The keyset as each side sees it: the source is a constant there.
        const key = () => sql`(${k[0]!}::text::timestamptz, ${k[1]!}, ${k[2]!}, ${k[3]!}, ${k[4]!}, ${k[5]!}::text::bigint)`;
        const callsPast = after
          ? sql`and started_at >= ${k[0]!}::text::timestamptz and (started_at, kind, provider, model, 'call'::text, id) > ${key()}`
          : sql``;
        const ingestPast = after
          ? sql`and occurred_at >= ${k[0]!}::text::timestamptz and (occurred_at, kind, provider, model, 'ingest'::text, id) > ${key()}`
          : sql``;
        return sql`
          select source, call_id, document_id, bot_id, at, kind, provider, model, quantity,
            at::text as _k0, kind as _k1, provider as _k2, model as _k3, source as _k4, row_id::text as _k5
          from (
            (select 'call'::text as source, call_id, null::uuid as document_id, bot_id, started_at as at, kind, provider, model, quantity::float8 as quantity, id as row_id
            from call_usage where company_id = ${companyId} ${callsPast}
            order by started_at, kind, provider, model, id limit ${limit})
            union all
            (select 'ingest', null, document_id, bot_id, occurred_at, kind, provider, model, quantity::float8, id
            from ingest_usage where company_id = ${companyId} ${ingestPast}
            order by occurred_at, kind, provider, model, id limit ${limit})
          ) u
          order by at, kind, provider, model, source, row_id limit ${limit}`;
      }
    }
  })();
  return q as unknown as Promise<Row[]>;
}

/**
 * Contacts in (campaign_id, id) order. No index leads with (campaign_id, id), so `(campaign_id, id) > (…)` would sort
 * the rest of a campaign's contacts for every batch; instead one campaign at a time, `id > …` (the primary key
 * index), then on to the company's next campaign — a few short queries when a batch spans campaigns. Contacts
 * always carry their campaign's company (src/campaigns/repo.ts insertContacts, after the campaign is found for it).
 */
async function contactsBatch(sql: Db, companyId: string, after: After, limit: number): Promise<Row[]> {
  const rows: Row[] = [];
  let campaignId: string | undefined = after?.[0];
  let afterId: string | undefined = after?.[1];
  const nextCampaign = async (): Promise<string | undefined> => {
    const [next] = await sql<{ id: string }[]>`
      select id::text from campaigns where company_id = ${companyId} ${campaignId === undefined ? sql`` : sql`and id > ${campaignId}::uuid`}
      order by id limit 1`;
    return next?.id;
  };
  if (campaignId === undefined) campaignId = await nextCampaign();
  while (campaignId !== undefined && rows.length < limit) {
    const got = await sql<Row[]>`
      select id, campaign_id, phone, name, time_zone, variables, state, attempts, last_outcome, skip_reason, created_at, updated_at,
        campaign_id::text as _k0, id::text as _k1
      from campaign_contacts where company_id = ${companyId} and campaign_id = ${campaignId}::uuid
        ${afterId === undefined ? sql`` : sql`and id > ${afterId}::uuid`}
      order by id limit ${limit - rows.length}`;
    for (const row of got) rows.push(row);
    if (rows.length < limit) {
      campaignId = await nextCampaign();
      afterId = undefined;
    }
  }
  return rows;
}

/** 64-bit integers (audit ids) as strings, like the API's other responses. */
const jsonValue = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? value.toString() : value);

/** About this many bytes of JSON a batch comes to (the export's memory, and its longest step on the event loop). */
export const BATCH_BYTES = 2 * 1024 * 1024;
export const MAX_BATCH_ROWS = 500;

export interface ExportOptions {
  types?: readonly ExportType[];
  /** Twilio's recording URLs (which may download the audio without credentials): only for a key that may read recordings. */
  withRecordingUrls: boolean;
  /** The webhook URL whole (it may carry the receiver's token): only for a key holding settings:read; others see its origin. */
  withWebhookUrl: boolean;
  /** Bytes of JSON a batch aims at (default BATCH_BYTES). */
  batchBytes?: number;
  /** Rows a batch reads at most (default MAX_BATCH_ROWS). */
  maxBatchRows?: number;
}

/** One database batch: its type, its lines (each ends with a newline) and their size in UTF-8 bytes. */
export interface ExportBatch {
  type: ExportType;
  lines: string[];
  bytes: number;
}

/**
 * The next batch's row count after a full batch of `rows` rows whose lines came to `bytes`: as many as `batchBytes`
 * holds at that batch's bytes per row, at most twice `rows` and `maxBatchRows`, at least 1.
 */
export function nextBatchRows(rows: number, bytes: number, batchBytes: number, maxBatchRows: number): number {
  const fit = Math.floor(batchBytes / Math.max(1, bytes / rows));
  return Math.max(1, Math.min(fit, rows * 2, maxBatchRows));
}

function lineOf(type: ExportType, row: Row, keys: readonly string[], options: ExportOptions): string {
  for (const key of keys) delete row[key];
  if (type === 'company' && typeof row.webhook_url === 'string') row.webhook_url = webhookUrlShown(row.webhook_url, options.withWebhookUrl);
  return `${JSON.stringify({ type, ...row }, jsonValue)}\n`;
}

/** The company's data a database batch at a time (sized by bytes, see nextBatchRows); no connection held between batches. */
export async function* exportBatches(sql: Db, companyId: string, options: ExportOptions): AsyncGenerator<ExportBatch> {
  const batchBytes = options.batchBytes ?? BATCH_BYTES;
  const maxBatchRows = options.maxBatchRows ?? MAX_BATCH_ROWS;
  for (const type of options.types ?? EXPORT_TYPES) {
    const keys = Array.from({ length: KEY_COLUMNS[type] }, (_, i) => `_k${i}`);
    let after: After = null;
    let limit = 1;
    for (;;) {
      // Back to the event loop between batches: while the socket takes every line at once the export never waits on
      // it, and batches could otherwise follow each other in one task, ahead of live calls' audio and other requests.
      await nextLoopTurn();
      // The query's promise settles before the yield: no connection is held while the consumer takes the lines.
      const rows = await batch(sql, type, companyId, options.withRecordingUrls, after, limit);
      if (rows.length === 0) break;
      const last = rows[rows.length - 1]!;
      after = keys.map((key) => String(last[key]));
      const full = rows.length === limit;
      const lines = rows.map((row) => lineOf(type, row, keys, options));
      // The parsed rows are not needed past their lines: let them go while the consumer takes the lines.
      rows.length = 0;
      let bytes = 0;
      for (const line of lines) bytes += Buffer.byteLength(line);
      yield { type, lines, bytes };
      // The company is one row; a short batch is the last.
      if (keys.length === 0 || !full) break;
      limit = nextBatchRows(limit, bytes, batchBytes, maxBatchRows);
    }
  }
}

/** The company's data as JSONL: one line per row, each batch read by a short query that holds no connection after it. */
export async function* exportJsonl(sql: Db, companyId: string, options: ExportOptions): AsyncGenerator<string> {
  for await (const { lines } of exportBatches(sql, companyId, options)) {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      // A client that stops reading holds only the unsent rest of the batch.
      lines[i] = '';
      yield line;
    }
  }
}
