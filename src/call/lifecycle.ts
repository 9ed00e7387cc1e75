/**
 * The end of a call's row: end time, duration, status, reason, the call.ended event and the analysis job, in
 * one transaction, exactly once whoever ends it first (the live session, a sweep of calls whose server was
 * lost). A call already ended is left as it is.
 */
import type { Db } from '../db/sql.js';
import { enqueueJob } from '../jobs/queue.js';
import { emitEvent } from '../webhooks/emit.js';

export interface CallEnd {
  status: 'completed' | 'failed';
  /** Why the call ended (caller_hangup, bot_end_call, silence, max_duration, transferred, provider_failure, server_lost…). */
  reason: string;
}

/** Ends the call inside `tx` (a transaction); false when it had already ended. */
export async function endCallInTx(tx: Db, call: { callId: string; companyId: string }, result: CallEnd): Promise<boolean> {
  const rows = await tx<{ duration_sec: number; bot_id: string | null }[]>`
    update calls set
      ended_at = now(),
      duration_sec = greatest(0, round(extract(epoch from now() - coalesce(answered_at, started_at))))::int,
      status = ${result.status},
      failure_reason = ${result.status === 'failed' ? result.reason : null},
      updated_at = now()
    where id = ${call.callId} and company_id = ${call.companyId} and ended_at is null
    returning duration_sec, bot_id`;
  const row = rows[0];
  if (!row) return false;
  await emitEvent(tx, {
    companyId: call.companyId,
    type: 'call.ended',
    data: { call_id: call.callId, bot_id: row.bot_id, status: result.status, reason: result.reason, duration_sec: row.duration_sec },
    orderingKey: call.callId,
  });
  await enqueueJob(tx, { kind: 'analyze_call', payload: { callId: call.callId }, dedupeKey: `analyze:${call.callId}` });
  return true;
}
