/**
 * Announcements of new work (migrations/0190_work_notifications.sql): a trigger notifies `parley_work` when a job
 * is queued ("job:<kind>"), a webhook event becomes pending ("webhooks") or a campaign or its contacts change
 * ("campaigns"); the database delivers it on commit to every listening instance (PostgreSQL) or to this process
 * (embedded PGlite, through its thread: connect.ts), which kicks the worker named. So workers start new work at
 * once and poll slowly when idle (LeasedPoller's idlePollMs) instead of asking the database every half second.
 */
import type { Database } from './connect.js';

export const WORK_CHANNEL = 'parley_work';

/**
 * A call whose media started has ended (migrations/0380_call_end_notices.sql): "<call id> <end reason code>", to
 * every instance, so the one running its session ends it (telephony/call-end-notices.ts).
 */
export const CALL_END_CHANNEL = 'parley_call_ended';

/** How long an idle worker waits between polls where announcements come; a missed one costs at most this. */
export const ANNOUNCED_IDLE_POLL_MS = 5_000;

export interface WorkListener {
  stop(): Promise<void>;
}

/**
 * `wake` gets each announcement's payload, and `null` whenever listening (re)starts: announcements may have been
 * missed while it was down, so every worker should look.
 */
export async function listenForWork(db: Pick<Database, 'listen'>, wake: (payload: string | null) => void): Promise<WorkListener> {
  const { unlisten } = await db.listen(WORK_CHANNEL, (payload) => wake(payload), () => wake(null));
  return { stop: () => unlisten() };
}
