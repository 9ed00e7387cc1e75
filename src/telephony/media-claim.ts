/**
 * A call has at most one media session (Twilio stream or web-call socket), enforced by the database: the first
 * socket to present a valid token sets `calls.media_started_at` in one conditional UPDATE; any other socket with
 * the same token — at the same moment, on this or another instance — finds it set and is refused.
 */
import { liveStatuses } from '../db/calls.js';
import type { Db } from '../db/sql.js';

/** True for exactly one caller per call; false when the call already had a session or is no longer live. */
export async function claimMediaStart(db: Db, callId: string, twilioCallSid: string | null = null): Promise<boolean> {
  const rows = await db`
    update calls set media_started_at = now(), updated_at = now()
    where id = ${callId} and media_started_at is null and status = any(${liveStatuses()})
      and (${twilioCallSid}::text is null or twilio_call_sid = ${twilioCallSid})
    returning id`;
  return rows.length > 0;
}
