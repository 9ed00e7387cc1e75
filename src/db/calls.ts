import type { Db } from './sql.js';

/** Every status a call row can have; the live ones first, in the order a call moves through them. */
export const CALL_STATUSES = ['queued', 'ringing', 'in_progress', 'completed', 'failed', 'busy', 'no_answer', 'canceled'] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];
/** Statuses of a call that has not ended, in order: a status callback only ever moves a call forward. */
export const LIVE_CALL_STATUSES = ['queued', 'ringing', 'in_progress'] as const satisfies readonly CallStatus[];
export type LiveCallStatus = (typeof LIVE_CALL_STATUSES)[number];
export type EndedCallStatus = Exclude<CallStatus, LiveCallStatus>;
export const isLiveStatus = (s: string): s is LiveCallStatus => (LIVE_CALL_STATUSES as readonly string[]).includes(s);
/** Order of statuses: the live ones by their position, every ended one above them all (none replaces another). */
export const callStatusRank = (s: string): number => (isLiveStatus(s) ? LIVE_CALL_STATUSES.indexOf(s) : LIVE_CALL_STATUSES.length);
/** The live statuses as a query parameter (`status = any(${liveStatuses})`). */
export const liveStatuses = (): string[] => [...LIVE_CALL_STATUSES];
export type CallDirection = 'inbound' | 'outbound' | 'web';

/**
 * A company's calls of one direction that have not ended, for the per-company caps (outbound, web). Call rows live
 * longer than six hours only when something failed to end them (the ownership sweep ends those): not counted.
 * It takes the company's lock for that direction until the transaction ends: run it in the one that adds the next call,
 * so concurrent requests cannot all slip under the cap.
 */
export async function countLiveCalls(tx: Db, companyId: string, direction: CallDirection): Promise<number> {
  await tx`select pg_advisory_xact_lock(hashtext(${`${direction}:${companyId}`}))`;
  return countLiveCallsNow(tx, companyId, direction);
}

/**
 * The same count without the lock: a snapshot, for planning (the campaign claim), never for enforcing a cap.
 * `to`: only calls to that number; `except`: leave one call out (the one being placed).
 */
export async function countLiveCallsNow(db: Db, companyId: string, direction: CallDirection, only: { to?: string; except?: string } = {}): Promise<number> {
  const [row] = await db<{ n: number }[]>`
    select count(*)::int as n from calls
    where company_id = ${companyId} and direction = ${direction} and status = any(${liveStatuses()})
      and started_at > now() - interval '6 hours'
      ${only.to !== undefined ? db`and to_number = ${only.to}` : db``}
      ${only.except !== undefined ? db`and id <> ${only.except}` : db``}`;
  return row?.n ?? 0;
}

export interface TranscriptEntry {
  role: 'caller' | 'bot' | 'system';
  text: string;
  ts: string;
  latency?: Record<string, number | null>;
  interrupted?: boolean;
}

export interface CallRow {
  id: string;
  company_id: string | null;
  bot_id: string | null;
  direction: CallDirection;
  twilio_call_sid: string | null;
  from_number: string | null;
  to_number: string | null;
  status: CallStatus;
  started_at: Date;
  answered_at: Date | null;
  ended_at: Date | null;
  duration_sec: number | null;
  recording_url: string | null;
  failure_reason: string | null;
  /** Why the call ended (lifecycle.ts CallEnd.reason), whatever its status; null while live. */
  end_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

/** A call with its transcript (GET /v1/calls/:id). */
export type CallWithTranscript = CallRow & { transcript: TranscriptEntry[] };

/**
 * The transcript of the call aliased `c` in the enclosing query, as one jsonb array in the order the turns were
 * written (migrations/0160_call_turns.sql: a row per turn). Every reader of a transcript goes through this.
 */
export const transcriptOf = (db: Db) =>
  db`(select coalesce(jsonb_agg(t.turn order by t.id), '[]'::jsonb) from call_turns t where t.call_id = c.id)`;

export async function insertCall(
  db: Db,
  call: {
    companyId: string | null;
    botId: string | null;
    direction: CallDirection;
    twilioCallSid?: string | null;
    from?: string | null;
    to?: string | null;
    status?: CallStatus;
    failureReason?: string | null;
  },
): Promise<CallRow> {
  const ended = call.status === 'failed';
  const [row] = await db<CallRow[]>`
    insert into calls (company_id, bot_id, direction, twilio_call_sid, from_number, to_number, status, failure_reason, ended_at, duration_sec)
    values (${call.companyId}, ${call.botId}, ${call.direction}, ${call.twilioCallSid ?? null}, ${call.from ?? null},
            ${call.to ?? null}, ${call.status ?? 'queued'}, ${call.failureReason ?? null},
            ${ended ? db`now()` : null}, ${ended ? 0 : null})
    on conflict (twilio_call_sid) do update set updated_at = now()
    returning *`;
  return row!;
}

export interface CallFilters {
  botId?: string;
  status?: CallStatus;
  direction?: CallDirection;
  from?: Date;
  to?: Date;
}

/** Keyset pagination on (started_at desc, id desc); `after` is the last row of the previous page. */
export async function listCalls(
  db: Db,
  companyId: string,
  filters: CallFilters,
  page: { limit: number; after?: { startedAt: Date; id: string } },
): Promise<CallRow[]> {
  return db<CallRow[]>`
    select id, company_id, bot_id, direction, twilio_call_sid, from_number, to_number, status, started_at,
      answered_at, ended_at, duration_sec, recording_url, failure_reason, end_reason, created_at, updated_at
    from calls
    where company_id = ${companyId}
      ${filters.botId ? db`and bot_id = ${filters.botId}` : db``}
      ${filters.status ? db`and status = ${filters.status}` : db``}
      ${filters.direction ? db`and direction = ${filters.direction}` : db``}
      ${filters.from ? db`and started_at >= ${filters.from}` : db``}
      ${filters.to ? db`and started_at < ${filters.to}` : db``}
      ${page.after ? db`and (started_at, id) < (${page.after.startedAt}, ${page.after.id})` : db``}
    order by started_at desc, id desc
    limit ${page.limit}`;
}

export async function getCall(db: Db, companyId: string, id: string): Promise<CallWithTranscript | undefined> {
  const [row] = await db<CallWithTranscript[]>`select c.*, ${transcriptOf(db)} as transcript from calls c where c.id = ${id} and c.company_id = ${companyId}`;
  return row;
}

export async function getCallById(db: Db, id: string): Promise<CallRow | undefined> {
  const [row] = await db<CallRow[]>`select * from calls where id = ${id}`;
  return row;
}

export interface OutcomeRow {
  outcome_type: string;
  confidence: number;
  summary: string;
  extracted_data: Record<string, unknown>;
  analyzer: string;
  webhook_sent: boolean;
  webhook_sent_at: Date | null;
  webhook_response_code: number | null;
  created_at: Date;
}

export async function getOutcome(db: Db, callId: string): Promise<OutcomeRow | undefined> {
  const [row] = await db<OutcomeRow[]>`
    select outcome_type, confidence, summary, extracted_data, analyzer, webhook_sent, webhook_sent_at,
      webhook_response_code, created_at
    from outcomes where call_id = ${callId}`;
  return row;
}
