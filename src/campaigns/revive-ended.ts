/**
 * Contacts that ran out of the campaign's room, brought back when an edit gives them room again (PATCH
 * /v1/campaigns/:id on a running or paused campaign): a raised `max_attempts` revives those `exhausted` with fewer
 * attempts than the new maximum; a later (or cleared) `ends_at` those skipped `campaign_ended` while the campaign
 * ran (their next opening fell past the old end). A revived contact is `pending`, due now, and the scheduler decides
 * it anew — every dial check runs again, so one revived onto the do-not-call list is skipped, never dialled.
 *
 * Never revived: a contact that reached someone (an attempt answered, a voicemail left, a fax — such a contact is
 * `done`, and one exhausted after such an attempt is left too), one whose number is on the do-not-call list or whose
 * consent is denied (it opted out), nor one skipped for any other reason (do-not-call, consent, an invalid or
 * refused number, erased, a cancelled campaign's).
 *
 * In batches, as skip-waiting.ts: one statement reads REVIVE_BATCH_CONTACTS contacts of one state in the order of
 * campaign_contacts_state_created_idx (migration 0420), whatever the campaign's size. A batch run twice finds only
 * contacts still ended.
 */
import type { Db } from '../db/sql.js';
import type { CampaignAttemptOutcome } from './vocabulary.js';

/** Contacts one batch reads. */
export const REVIVE_BATCH_CONTACTS = 2_000;
/** The ended states a revival reads. */
export const REVIVABLE_STATES = ['exhausted', 'skipped'] as const;
export type RevivableState = (typeof REVIVABLE_STATES)[number];
/** Outcomes that reached someone: a contact with one is never tried again. */
const REACHED: CampaignAttemptOutcome[] = ['answered', 'voicemail_left', 'fax'];

/** Where a walk of one state is: the last contact read (created_at as PostgreSQL's text, microseconds kept). */
export interface ReviveCursor {
  createdAt: string;
  id: string;
}

/**
 * One batch of one state: the next REVIVE_BATCH_CONTACTS contacts after `cursor` (created_at desc, id desc); those
 * the campaign's current settings give room again are made pending, due at `now`. Nothing while the campaign is not
 * running or paused. Returns where the walk goes on, or null at its end.
 */
export async function reviveBatch(db: Db, campaignId: string, state: RevivableState, cursor: ReviveCursor | null, now: Date): Promise<ReviveCursor | null> {
  const rows = await db<{ id: string; at: string }[]>`
    with batch as (
      select id, created_at from campaign_contacts
      where campaign_id = ${campaignId} and state = ${state}
        ${cursor ? db`and (created_at, id) < (${cursor.createdAt}::timestamptz, ${cursor.id}::uuid)` : db``}
      order by created_at desc, id desc limit ${REVIVE_BATCH_CONTACTS}),
    revived as (
      update campaign_contacts k set state = 'pending', skip_reason = null, deferred_reason = null, next_attempt_at = ${now},
        claim_token = null, locked_until = null, updated_at = now()
      from batch b, campaigns c
      where k.id = b.id and c.id = k.campaign_id and c.status in ('running', 'paused')
        and k.state = ${state}
        and (k.state = 'exhausted' or k.skip_reason = 'campaign_ended')
        and k.attempts < c.max_attempts
        and (c.ends_at is null or c.ends_at > ${now})
        and not exists (select 1 from campaign_attempts a where a.contact_id = k.id and a.outcome = any(${REACHED}))
        and not exists (select 1 from dnc_numbers d where d.company_id = k.company_id and d.phone = k.phone)
        and not exists (select 1 from contact_consents s where s.company_id = k.company_id and s.phone = k.phone and s.voice = 'denied'))
    select id, created_at::text as at from batch order by created_at, id limit 1`;
  const last = rows[0];
  return last ? { createdAt: last.at, id: last.id } : null;
}
