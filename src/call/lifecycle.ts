/**
 * A call row's lifecycle, in one place: created (by the voice webhook, the outbound dialer, a web-call token),
 * answered (its media session started), turns appended, ended. Every path that ends a call — the live session,
 * a Twilio status callback, the dialer when Twilio refuses, an unused web-call token, the sweep of calls whose
 * server was lost — ends it here: end time, duration, status, reason, the `call.ended` event (one payload
 * everywhere) and the analysis job, in one transaction, exactly once, whoever comes first. A call a machine answered
 * ends with the machine's reason whoever ends it (machine-answer.ts).
 */
import { endCallHolds } from '../bookings/repo.js';
import { insertCall, liveStatuses, type CallDirection, type CallRow, type EndedCallStatus, type LiveCallStatus } from '../db/calls.js';
import type { Db } from '../db/sql.js';
import { enqueueJob } from '../jobs/queue.js';
import { callRedactRules } from '../privacy/call-rules.js';
import { redact, type RedactRule } from '../privacy/redact.js';
import { emitEvent } from '../webhooks/emit.js';
import type { CallEndReason } from './end-reasons.js';
import type { TranscriptTurn } from './types.js';
import { storableJson } from '../util/storable-text.js';

export interface CallEnd {
  status: EndedCallStatus;
  /** Why the call ended: one of CALL_END_REASONS (./end-reasons.ts), with detail after a colon or not. */
  reason: CallEndReason;
}

/** Who ends the call. Anyone but the session itself may end it while the session still writes its last turns. */
export type CallEnder = 'session' | 'telephony' | 'dialer' | 'expiry' | 'sweep' | 'admin';

/** A session still winding down writes its last turns after another party ended the row: the analysis waits. */
export const ANALYSIS_SETTLE_MS = 10_000;

export function createCall(
  db: Db,
  call: { companyId: string | null; botId: string | null; direction: CallDirection; twilioCallSid?: string | null; from?: string | null; to?: string | null; status: LiveCallStatus },
): Promise<CallRow> {
  return insertCall(db, call);
}

/** A call refused before it began (no bot for the number): stored ended, owned by no tenant, no events. */
export function recordRefusedCall(db: Db, call: { twilioCallSid: string; from: string | null; to: string | null; reason: string }): Promise<CallRow> {
  return insertCall(db, { companyId: null, botId: null, direction: 'inbound', twilioCallSid: call.twilioCallSid, from: call.from, to: call.to, status: 'failed', failureReason: call.reason });
}

/** Its media session started: in_progress, answered, owned by `instanceId`; `call.started` once. */
export async function answerCall(tx: Db, call: { callId: string; companyId: string; botId: string; instanceId: string | null }): Promise<void> {
  const rows = await tx`
    update calls set status = 'in_progress', answered_at = coalesce(answered_at, now()),
      media_started_at = coalesce(media_started_at, now()), instance_id = ${call.instanceId}, updated_at = now()
    where id = ${call.callId} and company_id = ${call.companyId} and status = any(${liveStatuses()})
    returning id`;
  if (rows.length > 0) {
    await emitEvent(tx, { companyId: call.companyId, type: 'call.started', data: { call_id: call.callId, bot_id: call.botId }, orderingKey: call.callId });
  }
}

/**
 * One small insert per completed turn (never per frame). The text, the safety details and the phrases left unsaid
 * are stored redacted as the call's bot asks (`config.privacy.redact`, cards by default; read once per call) unless
 * `redact` gives the rules.
 */
export async function appendTurn(db: Db, call: { callId: string; companyId: string; redact?: readonly RedactRule[] }, turn: TranscriptTurn): Promise<void> {
  const rules = call.redact ?? await callRedactRules(db, call);
  // A NUL or a broken surrogate in what was said (typed, recognised or generated) would lose the whole turn.
  const clean = storableJson(turn);
  // The safe-speech check's details quote what it kept from being said (often a third party's number or address):
  // redacted like the text.
  const stored = rules.length
    ? {
        ...clean,
        text: redact(clean.text, rules),
        ...(clean.safety ? { safety: clean.safety.map((f) => (f.detail ? { ...f, detail: redact(f.detail, rules) } : f)) } : {}),
        ...(clean.unsaid ? { unsaid: clean.unsaid.map((t) => redact(t, rules)) } : {}),
      }
    : clean;
  // A row of its own (migrations/0160_call_turns.sql): the thousandth turn costs what the first did. The call's
  // row is checked against the tenant and touched (updated_at) in the same statement; a call whose number was
  // erased while it went on keeps nothing more of it.
  await db`
    with c as (update calls set updated_at = now() where id = ${call.callId} and company_id = ${call.companyId} and erased_at is null returning id)
    insert into call_turns (call_id, turn) select c.id, ${db.json(stored as never)} from c`;
}

/**
 * Ends the call inside `tx` (a transaction); false when it had already ended. `durationSec` is the telephony's
 * own figure when it has one; otherwise the time connected (0 for a call never answered).
 */
export async function endCallInTx(
  tx: Db,
  call: { callId: string; companyId: string },
  result: CallEnd,
  options: { by: CallEnder; durationSec?: number | null },
): Promise<boolean> {
  const rows = await tx<{ duration_sec: number; bot_id: string | null; had_media: boolean; end_reason: CallEndReason }[]>`
    update calls set
      ended_at = now(),
      -- The telephony's own figure, else the time connected: from the answer to now, or for a sweep (which finds a
      -- call long after its server or its caller went) to the call's last sign of life (updated_at before this
      -- update); a call never answered was never connected and lasted nothing billable.
      duration_sec = coalesce(${options.durationSec ?? null}::int, case when answered_at is null then 0
        else greatest(0, round(extract(epoch from ${options.by === 'sweep' ? tx`updated_at` : tx`now()`} - answered_at)))::int end),
      status = ${result.status},
      failure_reason = coalesce(failure_reason, ${result.status === 'completed' ? null : result.reason}),
      -- A machine answered (call/machine-answer.ts): its reason, whoever ends the call (Twilio reports it completed).
      end_reason = coalesce(machine_end_reason, ${result.reason}),
      updated_at = now()
    where id = ${call.callId} and company_id = ${call.companyId} and ended_at is null
    returning duration_sec, bot_id, (media_started_at is not null) as had_media, end_reason`;
  const row = rows[0];
  if (!row) return false;
  await endCallHolds(tx, { callId: call.callId }, { to: 'expired', reason: 'call ended before the booking was confirmed' });
  await emitEvent(tx, {
    companyId: call.companyId,
    type: 'call.ended',
    data: { call_id: call.callId, bot_id: row.bot_id, status: result.status, reason: row.end_reason, duration_sec: row.duration_sec },
    orderingKey: call.callId,
  });
  const settle = options.by !== 'session' && row.had_media ? ANALYSIS_SETTLE_MS : 0;
  await enqueueJob(tx, { kind: 'analyze_call', payload: { callId: call.callId }, dedupeKey: `analyze:${call.callId}`, ...(settle ? { runAt: new Date(Date.now() + settle) } : {}) });
  return true;
}

/**
 * Ends every live call of a company the operator has just disabled (admin PATCH /companies/:id): a disabled company's
 * keys stop working and its numbers stop answering, and its calls under way end now too rather than talk on for it.
 * A call in conversation ends `completed`, one not yet answered `canceled`, both `bot_disabled` with why. The
 * sessions hear of it as of any end another party makes (parley_call_ended, call-end-notices.ts): they stop at once,
 * their transcript as stored turn by turn. In the disabling transaction; returns how many were ended.
 */
export async function endLiveCallsOfCompany(tx: Db, companyId: string): Promise<number> {
  const live = await tx<{ id: string; status: string }[]>`
    select id, status from calls
    where company_id = ${companyId} and ended_at is null and status = any(${liveStatuses()})
    -- The analytics buckets' key order, as the sweep (call-ownership.ts): concurrent enders never wait in a circle.
    order by company_id, bot_id, started_at, id
    for update`;
  let n = 0;
  for (const call of live) {
    const status = call.status === 'in_progress' ? 'completed' : 'canceled';
    if (await endCallInTx(tx, { callId: call.id, companyId }, { status, reason: 'bot_disabled: the company was disabled during the call' }, { by: 'admin' })) n++;
  }
  return n;
}
