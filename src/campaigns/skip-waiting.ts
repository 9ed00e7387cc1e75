/**
 * The contacts still waiting in a campaign that has stopped for good (cancelled, failed, completed) are marked
 * skipped, with the reason, in batches after the stop.
 *
 * Why not in the stop itself: a campaign may hold hundreds of thousands of contacts (uploads repeat), and one
 * UPDATE of all of them outlasts a request's query deadline — the stop then failed with a 503 and the campaign kept
 * calling. The campaign row's status is the commit point instead: the scheduler claims contacts only of running
 * campaigns, under the campaign's row lock, and every dial re-reads the status in its own transaction
 * (scheduler.ts, `admit`), so nobody is dialled once the stop has answered. The bookkeeping follows: the stop queues
 * SKIP_WAITING_JOB in its transaction (so it survives a crash: the job is in the database before the stop answers),
 * the request runs the first batch itself (a small campaign's contacts read skipped at once), and the job the rest.
 * Each batch is one short statement of SKIP_BATCH_CONTACTS rows; a batch re-run after a crash finds only the
 * contacts still waiting.
 */
import type { Db, RootSql } from '../db/sql.js';
import { enqueueJob, type JobKind } from '../jobs/queue.js';
import { isUuid } from '../util/uuid.js';
import type { CampaignStatus } from './repo.js';
import type { ContactSkipReasonCode } from './vocabulary.js';

export const SKIP_WAITING_JOB = 'campaign_skip_waiting';
/** Contacts one batch marks: tens of milliseconds of work, whatever the campaign's size. */
export const SKIP_BATCH_CONTACTS = 2_000;
/** The states in which nobody is called any more. */
export const FINAL_CAMPAIGN_STATUSES: readonly CampaignStatus[] = ['completed', 'cancelled', 'failed'];

/** Why a stopped campaign's waiting contacts are skipped (`campaign_ended`, `campaign_cancelled`, `campaign_failed`); null while it runs. */
export function stopSkipReason(status: CampaignStatus): ContactSkipReasonCode | null {
  if (!FINAL_CAMPAIGN_STATUSES.includes(status)) return null;
  return status === 'completed' ? 'campaign_ended' : status === 'cancelled' ? 'campaign_cancelled' : 'campaign_failed';
}

/**
 * In the stop's transaction: queues the skipping of the campaign's waiting contacts if it has any (one job per
 * campaign at a time).
 */
export async function queueSkipWaiting(tx: Db, companyId: string, campaignId: string): Promise<void> {
  if (!(await hasWaiting(tx, campaignId))) return;
  await enqueueJob(tx, {
    kind: SKIP_WAITING_JOB, payload: { campaignId }, companyId, dedupeKey: `${SKIP_WAITING_JOB}:${campaignId}`, maxAttempts: 20,
  });
}

/**
 * Marks up to SKIP_BATCH_CONTACTS waiting contacts of a stopped campaign skipped (`campaign_ended` for a completed
 * one, else `campaign_<status>`); nothing while the campaign is not stopped. A contact claimed by a dial loses its
 * claim (the dial's claim_token check then inserts nothing). `skipLocked`: contacts another transaction holds are
 * left for a later batch (the request's batch never waits on a dial). Returns how many it marked; null when the
 * campaign is not stopped (or is gone), so there is nothing to do.
 */
export async function skipWaitingBatch(db: Db, campaignId: string, options: { skipLocked?: boolean } = {}): Promise<number | null> {
  const [campaign] = await db<{ status: CampaignStatus }[]>`select status from campaigns where id = ${campaignId}`;
  const reason = campaign ? stopSkipReason(campaign.status) : null;
  if (!reason) return null;
  const rows = await db`
    update campaign_contacts k set state = 'skipped', skip_reason = ${reason}, claim_token = null, locked_until = null, updated_at = now()
    where k.state in ('pending', 'dialing') and k.id = any(array(
      select w.id from campaign_contacts w
      where w.campaign_id = ${campaignId} and w.state in ('pending', 'dialing')
      order by w.next_attempt_at limit ${SKIP_BATCH_CONTACTS}
      ${options.skipLocked ? db`for update skip locked` : db`for update`}))
    returning k.id`;
  return rows.length;
}

/** Whether any contact of the campaign waits (pending or claimed): one probe of the due index. */
async function hasWaiting(db: Db, campaignId: string): Promise<boolean> {
  const rows = await db`select 1 from campaign_contacts where campaign_id = ${campaignId} and state in ('pending', 'dialing') limit 1`;
  return rows.length > 0;
}

/**
 * The job: batches until none of the campaign's contacts waits. An empty batch is not the end by itself: its
 * candidates may all have been taken by a concurrent batch (the request's) it waited for.
 */
export function skipWaitingJob(deps: { sql: RootSql }): JobKind {
  return {
    concurrency: 2,
    async handler(payload, ctx) {
      const { campaignId } = payload;
      if (!isUuid(campaignId)) return;
      for (;;) {
        const marked = await deps.sql.begin((tx) => skipWaitingBatch(tx, campaignId));
        if (marked === null || (marked === 0 && !(await hasWaiting(deps.sql, campaignId)))) return;
        if (ctx.signal.aborted) throw new Error('stopped');
        if (!(await ctx.renewLease())) return;
      }
    },
  };
}
