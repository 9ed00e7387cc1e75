/**
 * Deleting recordings whose call was purged (retention) or erased: the transaction that removes a call's
 * recording reference also queues it here (enqueueRecordingDeletions), and drainRecordingDeletions deletes the
 * object from the store or Twilio after commit, retrying with backoff until it succeeds — so a store or Twilio
 * outage delays a deletion, never forgets it. The retention worker drains on every poll; erasure drains at once.
 */
import type { Db, RootSql } from '../db/sql.js';
import { backoffDelayMs } from '../util/backoff.js';
import type { RecordingStore } from './store.js';
import type { TwilioRecordings } from './twilio-recordings.js';

export interface RecordingDeleter {
  store: RecordingStore | null;
  /** Null when Twilio REST credentials are not configured: Twilio recordings wait (and are retried) until they are. */
  twilio: Pick<TwilioRecordings, 'delete'> | null;
}

/** Queues the recordings of the company's calls `callIds` (those that have one) for deletion, inside `tx`. */
export async function enqueueRecordingDeletions(tx: Db, companyId: string, callIds: string[]): Promise<number> {
  if (callIds.length === 0) return 0;
  const rows = await tx`
    insert into recording_deletions (company_id, recording_key, recording_sid)
    select company_id, recording_key, recording_sid from calls
    where company_id = ${companyId} and id = any(${callIds}::uuid[]) and (recording_key is not null or recording_sid is not null)`;
  return rows.count;
}

/** How long a claimed deletion is left to its claimer before another worker may take it (a crash mid-delete). */
const CLAIM_LEASE_MS = 5 * 60_000;

/**
 * Deletes due queued recordings (up to `limit`); how many were deleted. The rows are claimed with a lease in one
 * short statement and the store / Twilio are called outside any transaction: a slow store never holds a database
 * connection (embedded PGlite has exactly one).
 */
export async function drainRecordingDeletions(
  sql: RootSql,
  deleter: RecordingDeleter,
  /** `signal`: stop before the next recording (those left are claimed for CLAIM_LEASE_MS, then due again). */
  options: { limit?: number; companyId?: string; signal?: AbortSignal } = {},
): Promise<number> {
  const company = options.companyId ?? null;
  const due = await sql<{ id: string; recording_key: string | null; recording_sid: string | null; attempts: number }[]>`
    update recording_deletions set next_attempt_at = now() + ${CLAIM_LEASE_MS} * interval '1 millisecond'
    where id = any(array(
      select id from recording_deletions
      where next_attempt_at <= now() and (${company}::uuid is null or company_id = ${company}::uuid)
      order by next_attempt_at limit ${options.limit ?? 50} for update skip locked))
    returning id::text, recording_key, recording_sid, attempts`;
  let deleted = 0;
  for (const d of due) {
    if (options.signal?.aborted) break;
    try {
      if (d.recording_key) {
        if (!deleter.store) throw new Error('no recording store configured');
        await deleter.store.delete(d.recording_key);
      }
      if (d.recording_sid) {
        if (!deleter.twilio) throw new Error('Twilio REST credentials are not configured');
        await deleter.twilio.delete(d.recording_sid);
      }
      await sql`delete from recording_deletions where id = ${d.id}::bigint`;
      deleted++;
    } catch (err) {
      const delay = backoffDelayMs(d.attempts + 1, { baseMs: 60_000, maxMs: 6 * 3_600_000, jitter: 0.2 });
      await sql`
        update recording_deletions set attempts = attempts + 1, next_attempt_at = now() + ${delay} * interval '1 millisecond',
          last_error = ${(err instanceof Error ? err.message : String(err)).slice(0, 300)}
        where id = ${d.id}::bigint`;
    }
  }
  return deleted;
}
