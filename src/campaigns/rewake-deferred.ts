/**
 * A running or paused campaign's calling windows were edited (PATCH /v1/campaigns/:id): the contacts waiting for an
 * opening of the old windows — deferred `outside_window`, or past a frequency cap to the first opening after it
 * (`daily_cap`, `weekly_cap`) — are made due now, so the scheduler decides each anew under the new windows (dialled if
 * inside them, else deferred to their next opening). Without it a widened window left them waiting for the old
 * opening (hours, a weekend), and a company saw its edit do nothing. Contacts waiting out their retry spacing keep
 * their time: the windows do not change when an unanswered callee may be tried again.
 *
 * In batches, as skip-waiting.ts: a campaign may hold hundreds of thousands of contacts, and one UPDATE of all of
 * them would outlast the edit's query deadline. The edit queues REWAKE_DEFERRED_JOB in its transaction; the job
 * walks the campaign's future-due contacts in the claim index's order (migration 0350), REWAKE_BATCH_CONTACTS a
 * statement. A batch re-run after a crash finds only contacts still deferred. An edit made while the job walks
 * (its key is taken: a second enqueue is a no-op) is caught by walking again when the campaign's windows changed
 * since the walk began.
 */
import type { Db, RootSql } from '../db/sql.js';
import { enqueueJob, type JobKind } from '../jobs/queue.js';
import { isUuid } from '../util/uuid.js';
import { sameWindows, type CallWindow } from './windows.js';

export const REWAKE_DEFERRED_JOB = 'campaign_rewake_deferred';
/** Contacts one batch reads: tens of milliseconds of work, whatever the campaign's size. */
export const REWAKE_BATCH_CONTACTS = 2_000;
/** Deferrals whose time came from the windows: an opening, or the first opening after a cap's day. */
export const WINDOW_DEFERRALS = ['outside_window', 'daily_cap', 'weekly_cap'] as const;

/** In the edit's transaction: queues the walk (one per campaign at a time). */
export async function queueRewakeDeferred(tx: Db, companyId: string, campaignId: string): Promise<void> {
  await enqueueJob(tx, {
    kind: REWAKE_DEFERRED_JOB, payload: { campaignId }, companyId, dedupeKey: `${REWAKE_DEFERRED_JOB}:${campaignId}`, maxAttempts: 20,
  });
}

/** Where a walk is: the last contact read, its time as PostgreSQL's text (microseconds, which a Date would cut). */
export interface RewakeCursor {
  nextAttemptAt: string;
  id: string;
}

/**
 * One batch: the next REWAKE_BATCH_CONTACTS pending contacts due after `now`, after `cursor` in (next_attempt_at, id)
 * order; those deferred by the windows are made due at `now` (the scheduler's clock, as its claims read it).
 * Returns where the walk goes on, or null at its end.
 */
export async function rewakeBatch(db: Db, campaignId: string, cursor: RewakeCursor | null, now: Date): Promise<RewakeCursor | null> {
  const rows = await db<{ id: string; at: string }[]>`
    with batch as (
      select id, next_attempt_at, deferred_reason from campaign_contacts
      where campaign_id = ${campaignId} and state = 'pending' and next_attempt_at > ${now}
        ${cursor ? db`and (next_attempt_at, id) > (${cursor.nextAttemptAt}::timestamptz, ${cursor.id}::uuid)` : db``}
      order by next_attempt_at, id limit ${REWAKE_BATCH_CONTACTS}
      for update),
    woken as (
      update campaign_contacts k set next_attempt_at = ${now}, deferred_reason = null, updated_at = now()
      from batch b where k.id = b.id and b.deferred_reason = any(${[...WINDOW_DEFERRALS]}))
    select id, next_attempt_at::text as at from batch order by next_attempt_at desc, id desc limit 1`;
  const last = rows[0];
  return last ? { nextAttemptAt: last.at, id: last.id } : null;
}

/** The job: walks the campaign's deferred contacts; again if its windows changed meanwhile; nothing once it has stopped. */
export function rewakeDeferredJob(deps: { sql: RootSql; now?: () => Date }): JobKind {
  const clock = deps.now ?? (() => new Date());
  const windowsOf = async (campaignId: string) => {
    const [row] = await deps.sql<{ windows: CallWindow[] }[]>`
      select windows from campaigns where id = ${campaignId} and status in ('running', 'paused')`;
    return row?.windows ?? null;
  };
  return {
    concurrency: 2,
    async handler(payload, ctx) {
      const { campaignId } = payload;
      if (!isUuid(campaignId)) return;
      let windows = await windowsOf(campaignId);
      while (windows) {
        let cursor: RewakeCursor | null = null;
        do {
          const from: RewakeCursor | null = cursor;
          cursor = await deps.sql.begin((tx) => rewakeBatch(tx, campaignId, from, clock()));
          if (ctx.signal.aborted) throw new Error('stopped');
          if (!(await ctx.renewLease())) return;
        } while (cursor);
        const latest = await windowsOf(campaignId);
        if (!latest || sameWindows(latest, windows)) return;
        windows = latest;
      }
    },
  };
}
