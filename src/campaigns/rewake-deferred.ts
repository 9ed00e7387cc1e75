/**
 * A running or paused campaign's settings that decide when its contacts are tried were edited (PATCH
 * /v1/campaigns/:id): its contacts are brought in line with them, where a company expects the edit to act on the
 * contacts already waiting, not only on the next ones.
 *
 *  - Calling windows: the contacts waiting for an opening of the old windows — deferred `outside_window`, or past a
 *    frequency cap to the first opening after it (`daily_cap`, `weekly_cap`) — are made due now, so the scheduler
 *    decides each anew under the new windows (dialled if inside them, else deferred to their next opening). Without
 *    it a widened window left them waiting for the old opening (hours, a weekend).
 *  - Retry spacing: a contact waiting out its spacing (`retry_spacing`) is due its last attempt's end plus the new
 *    spacing (now, if that has passed): lowered from a day to an hour, yesterday's unanswered callee is tried now,
 *    not tomorrow; raised, the retry waits the longer spacing. The windows do not move a retry.
 *  - `max_attempts` raised, or `ends_at` later: the contacts that ran out of attempts or time are revived
 *    (revive-ended.ts), never one that reached someone or opted out.
 *
 * In batches, as skip-waiting.ts: a campaign may hold hundreds of thousands of contacts, and one UPDATE of all of
 * them would outlast the edit's query deadline. The edit queues REWAKE_DEFERRED_JOB in its transaction; the job
 * first revives (so a revived contact deferred by the scheduler meanwhile is seen by the walk after), then walks
 * the campaign's future-due contacts in the claim index's order (migration 0350), REWAKE_BATCH_CONTACTS a
 * statement. Every batch computes from the campaign's settings as they are then, so a batch re-run after a crash,
 * or a contact met twice, gets the same time. An edit made while the job walks (its key is taken: a second enqueue
 * is a no-op) is caught by walking again when these settings changed since the walk began. While the job is queued
 * or running the scheduler does not complete the campaign (a revival still to come would find it stopped).
 */
import type { Db, RootSql } from '../db/sql.js';
import { enqueueJob, type JobKind } from '../jobs/queue.js';
import { isUuid } from '../util/uuid.js';
import { REVIVABLE_STATES, reviveBatch, type ReviveCursor } from './revive-ended.js';
import { sameWindows, type CallWindow } from './windows.js';

export const REWAKE_DEFERRED_JOB = 'campaign_rewake_deferred';
/** Contacts one batch reads: tens of milliseconds of work, whatever the campaign's size. */
export const REWAKE_BATCH_CONTACTS = 2_000;
/** Deferrals whose time came from the windows: an opening, or the first opening after a cap's day. */
export const WINDOW_DEFERRALS = ['outside_window', 'daily_cap', 'weekly_cap'] as const;

/** The settings an edit of which brings the waiting and ended contacts in line (the job walks when one changed). */
export const REDECIDING_SETTINGS = ['windows', 'retry_spacing_sec', 'max_attempts', 'ends_at'] as const;

/** The job's dedupe key: while a job holds it, the campaign is not completed (scheduler.ts tick). */
export const rewakeJobKey = (campaignId: string): string => `${REWAKE_DEFERRED_JOB}:${campaignId}`;

/** In the edit's transaction: queues the walk (one per campaign at a time). */
export async function queueRewakeDeferred(tx: Db, companyId: string, campaignId: string): Promise<void> {
  await enqueueJob(tx, {
    kind: REWAKE_DEFERRED_JOB, payload: { campaignId }, companyId, dedupeKey: rewakeJobKey(campaignId), maxAttempts: 20,
  });
}

/** Where a walk is: the last contact read, its time as PostgreSQL's text (microseconds, which a Date would cut). */
export interface RewakeCursor {
  nextAttemptAt: string;
  id: string;
}

/**
 * One batch: the next REWAKE_BATCH_CONTACTS pending contacts due after `now`, after `cursor` in (next_attempt_at, id)
 * order; those deferred by the windows are made due at `now` (the scheduler's clock, as its claims read it), those
 * waiting out a retry are due their last attempt's end plus the campaign's retry spacing. Returns where the walk
 * goes on, or null at its end.
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
      from batch b where k.id = b.id and b.deferred_reason = any(${[...WINDOW_DEFERRALS]})),
    respaced as (
      -- The attempt the spacing follows is the contact's last (an uncounted one defers twilio_unavailable instead).
      update campaign_contacts k set next_attempt_at = greatest(${now}::timestamptz, r.ended_at + make_interval(secs => c.retry_spacing_sec)), updated_at = now()
      from batch b
        join campaigns c on c.id = ${campaignId}
        cross join lateral (select a.ended_at from campaign_attempts a where a.contact_id = b.id order by a.seq desc limit 1) r
      where k.id = b.id and b.deferred_reason = 'retry_spacing' and r.ended_at is not null
        and k.next_attempt_at <> greatest(${now}::timestamptz, r.ended_at + make_interval(secs => c.retry_spacing_sec)))
    select id, next_attempt_at::text as at from batch order by next_attempt_at desc, id desc limit 1`;
  const last = rows[0];
  return last ? { nextAttemptAt: last.at, id: last.id } : null;
}

/** What the walk follows: the settings as they were when it began. */
interface Settings {
  windows: CallWindow[];
  retry_spacing_sec: number;
  max_attempts: number;
  ends_at: Date | null;
}

const sameSettings = (a: Settings, b: Settings): boolean =>
  sameWindows(a.windows, b.windows) && a.retry_spacing_sec === b.retry_spacing_sec && a.max_attempts === b.max_attempts
  && (a.ends_at?.getTime() ?? null) === (b.ends_at?.getTime() ?? null);

/**
 * The job: revives the campaign's ended contacts with room again, then walks its waiting ones; again if these
 * settings changed meanwhile; nothing once it has stopped.
 */
export function rewakeDeferredJob(deps: { sql: RootSql; now?: () => Date }): JobKind {
  const clock = deps.now ?? (() => new Date());
  const settingsOf = async (campaignId: string) => {
    const [row] = await deps.sql<Settings[]>`
      select windows, retry_spacing_sec, max_attempts, ends_at from campaigns where id = ${campaignId} and status in ('running', 'paused')`;
    return row ?? null;
  };
  return {
    concurrency: 2,
    async handler(payload, ctx) {
      const { campaignId } = payload;
      if (!isUuid(campaignId)) return;
      /** One batch after another until `batch` says the walk is over; false when the job must stop. */
      const walk = async <C>(batch: (tx: Db, from: C | null) => Promise<C | null>): Promise<boolean> => {
        let cursor: C | null = null;
        do {
          const from: C | null = cursor;
          cursor = (await deps.sql.begin((tx) => batch(tx, from))) as C | null;
          if (ctx.signal.aborted) throw new Error('stopped');
          if (!(await ctx.renewLease())) return false;
        } while (cursor);
        return true;
      };
      let settings = await settingsOf(campaignId);
      while (settings) {
        for (const state of REVIVABLE_STATES) {
          if (!(await walk<ReviveCursor>((tx, from) => reviveBatch(tx, campaignId, state, from, clock())))) return;
        }
        if (!(await walk<RewakeCursor>((tx, from) => rewakeBatch(tx, campaignId, from, clock())))) return;
        const latest = await settingsOf(campaignId);
        if (!latest || sameSettings(latest, settings)) return;
        settings = latest;
      }
    },
  };
}
