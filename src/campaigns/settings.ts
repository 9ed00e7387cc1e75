/**
 * A campaign's settings: the checks every create and edit passes, and the edit of a campaign already scheduled,
 * running or paused (PATCH /v1/campaigns/:id).
 *
 * What an edit changes, and when: every dial decision from its commit on reads the new settings — the scheduler's
 * claim reads the campaign's row, and each dial re-reads it under a share lock in its own transaction and gives the
 * contact back to be decided again if an edit came between (scheduler.ts `admit`). The contacts already waiting
 * follow an edit of the windows or the retry spacing, and those that ran out of attempts or time are revived by a
 * raised `max_attempts` or a later `ends_at` (rewake-deferred.ts, revive-ended.ts); a lowered `max_attempts`
 * exhausts a waiting contact that has had as many when it next comes due. The bot of a campaign that has been scheduled does not change (its calls, numbers and statistics
 * are that bot's), nor the start of one that has started.
 */
import type { Db } from '../db/sql.js';
import { ParleyError, badRequest } from '../errors.js';
import { queueRewakeDeferred, REDECIDING_SETTINGS } from './rewake-deferred.js';
import type { CampaignInput, CampaignRow } from './repo.js';
import { FINAL_CAMPAIGN_STATUSES } from './skip-waiting.js';
import { sameWindows, windowsProblem } from './windows.js';

/**
 * Throws a 400 naming the field for settings that cannot work. `endsAtGiven`: ends_at was given in this request (an
 * edit of another field of a campaign past its end is not refused for it: the scheduler completes that campaign).
 */
export function checkCampaignSettings(c: CampaignInput, endsAtGiven: boolean): void {
  const problem = windowsProblem(c.windows);
  if (problem) throw badRequest(problem, { field: 'body.windows' });
  if (endsAtGiven && c.starts_at && c.ends_at && c.ends_at <= c.starts_at) throw badRequest('ends_at must be after starts_at', { field: 'body.ends_at' });
  // A campaign that has ended before it is made (or edited) would only skip every contact as campaign_ended.
  if (endsAtGiven && c.ends_at && c.ends_at.getTime() <= Date.now()) throw badRequest('ends_at is in the past', { field: 'body.ends_at' });
  if (c.voicemail === 'leave_message' && !c.voicemail_message) throw badRequest('voicemail leave_message needs voicemail_message', { field: 'body.voicemail_message' });
}

/** Whether a dial decided under `claimed` would be decided otherwise under `current` (scheduler.ts admit). */
export function dialSettingsChanged(claimed: CampaignRow, current: CampaignRow): boolean {
  return claimed.bot_id !== current.bot_id
    || !sameWindows(claimed.windows, current.windows)
    || (claimed.ends_at?.getTime() ?? null) !== (current.ends_at?.getTime() ?? null)
    || claimed.max_attempts !== current.max_attempts
    || claimed.require_consent !== current.require_consent
    || claimed.voicemail !== current.voicemail;
}

const SETTINGS = ['bot_id', 'name', 'starts_at', 'ends_at', 'windows', 'max_attempts', 'retry_spacing_sec', 'concurrency', 'require_consent',
  'voicemail', 'voicemail_message', 'purpose', 'conversion_outcomes'] as const satisfies readonly (keyof CampaignInput)[];

/**
 * Applies `patch` (the fields given; null clears a nullable one) to a campaign that has not stopped, under its row
 * lock. 404 if it is not the company's; 409 once stopped, for another bot after scheduling, or a new start after it
 * started; 400 as checkCampaignSettings. Returns the row and the names of the settings that changed.
 */
export async function editCampaign(tx: Db, companyId: string, id: string, patch: Partial<CampaignInput>): Promise<{ row: CampaignRow; changed: string[] }> {
  const [current] = await tx<CampaignRow[]>`select * from campaigns where id = ${id} and company_id = ${companyId} for update`;
  if (!current) throw new ParleyError('PARLEY_ERR_NOT_FOUND', 'Campaign not found');
  if (FINAL_CAMPAIGN_STATUSES.includes(current.status)) {
    throw new ParleyError('PARLEY_ERR_ILLEGAL_TRANSITION', `A ${current.status} campaign cannot be edited`);
  }
  if (patch.bot_id !== undefined && patch.bot_id !== current.bot_id && current.status !== 'draft') {
    throw new ParleyError('PARLEY_ERR_ILLEGAL_TRANSITION', `The bot of a ${current.status} campaign cannot change; create a new campaign for another bot`, { field: 'body.bot_id' });
  }
  const started = current.status === 'running' || current.status === 'paused';
  if (patch.starts_at !== undefined && started && (patch.starts_at?.getTime() ?? null) !== (current.starts_at?.getTime() ?? null)) {
    throw new ParleyError('PARLEY_ERR_ILLEGAL_TRANSITION', `A ${current.status} campaign has started: its starts_at cannot change`, { field: 'body.starts_at' });
  }
  const next: CampaignInput = { ...pick(current), ...patch };
  checkCampaignSettings(next, patch.ends_at !== undefined || patch.starts_at !== undefined);
  const changed = SETTINGS.filter((k) => !sameValue(k, current[k], next[k]));
  if (changed.length === 0) return { row: current, changed };
  const [row] = await tx<CampaignRow[]>`
    update campaigns set bot_id = ${next.bot_id}, name = ${next.name}, starts_at = ${next.starts_at}, ends_at = ${next.ends_at},
      windows = ${tx.json(next.windows as never)}, max_attempts = ${next.max_attempts}, retry_spacing_sec = ${next.retry_spacing_sec},
      concurrency = ${next.concurrency}, require_consent = ${next.require_consent}, voicemail = ${next.voicemail},
      voicemail_message = ${next.voicemail_message}, purpose = ${next.purpose}, conversion_outcomes = ${next.conversion_outcomes}, updated_at = now()
    where id = ${id}
    returning *`;
  if (started && REDECIDING_SETTINGS.some((k) => changed.includes(k))) await queueRewakeDeferred(tx, companyId, id);
  return { row: row!, changed };
}

function pick(row: CampaignRow): CampaignInput {
  return Object.fromEntries(SETTINGS.map((k) => [k, row[k]])) as unknown as CampaignInput;
}

function sameValue(key: (typeof SETTINGS)[number], a: unknown, b: unknown): boolean {
  if (key === 'windows') return sameWindows(a as CampaignInput['windows'], b as CampaignInput['windows']);
  if (a instanceof Date || b instanceof Date) return (a as Date | null)?.getTime() === (b as Date | null)?.getTime();
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}
