/**
 * Campaign rows: create, read, edit (drafts only), state transitions (one table of legal moves, each emitting
 * campaign.status_changed in its transaction), contacts and attempts, statistics. Every query is scoped by company.
 */
import type { Db } from '../db/sql.js';
import { ParleyError } from '../errors.js';
import { emitEvent } from '../webhooks/emit.js';
import { FINAL_CAMPAIGN_STATUSES, queueSkipWaiting } from './skip-waiting.js';
import type { CallWindow } from './windows.js';

export const CAMPAIGN_STATUSES = ['draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled', 'failed'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];
export type VoicemailAction = 'leave_message' | 'hang_up' | 'ignore';
export type ContactState = 'pending' | 'dialing' | 'live' | 'done' | 'skipped' | 'exhausted';

/** draft → scheduled → running ⇄ paused → completed | cancelled | failed. */
const TRANSITIONS: Record<CampaignStatus, readonly CampaignStatus[]> = {
  draft: ['scheduled', 'cancelled'],
  scheduled: ['running', 'cancelled', 'failed'],
  running: ['paused', 'completed', 'cancelled', 'failed'],
  paused: ['running', 'cancelled', 'failed', 'completed'],
  completed: [],
  cancelled: [],
  failed: [],
};
export const canMove = (from: CampaignStatus, to: CampaignStatus): boolean => TRANSITIONS[from].includes(to);

export interface CampaignInput {
  bot_id: string;
  name: string;
  starts_at: Date | null;
  ends_at: Date | null;
  windows: CallWindow[];
  max_attempts: number;
  retry_spacing_sec: number;
  concurrency: number;
  require_consent: boolean;
  voicemail: VoicemailAction;
  voicemail_message: string | null;
  purpose: string | null;
  conversion_outcomes: string[];
}

export interface CampaignRow extends CampaignInput {
  id: string;
  company_id: string;
  status: CampaignStatus;
  dial_failures: number;
  backoff_until: Date | null;
  failure_reason: string | null;
  started_at: Date | null;
  finished_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface ContactRow {
  id: string;
  campaign_id: string;
  phone: string;
  name: string | null;
  time_zone: string | null;
  variables: Record<string, string>;
  state: ContactState;
  attempts: number;
  next_attempt_at: Date;
  last_outcome: string | null;
  skip_reason: string | null;
  deferred_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface AttemptRow {
  id: string;
  campaign_id: string;
  contact_id: string;
  phone: string;
  seq: number;
  call_id: string | null;
  status: 'dialing' | 'live' | 'ended';
  counted: boolean;
  local_day: string;
  dialed_at: Date;
  answered_by: string | null;
  voicemail: 'left' | 'hung_up' | null;
  screened: boolean;
  outcome: string | null;
  ended_at: Date | null;
}

export async function insertCampaign(db: Db, companyId: string, c: CampaignInput): Promise<CampaignRow> {
  const [row] = await db<CampaignRow[]>`
    insert into campaigns (company_id, bot_id, name, starts_at, ends_at, windows, max_attempts, retry_spacing_sec, concurrency,
      require_consent, voicemail, voicemail_message, purpose, conversion_outcomes)
    values (${companyId}, ${c.bot_id}, ${c.name}, ${c.starts_at}, ${c.ends_at}, ${db.json(c.windows as never)}, ${c.max_attempts},
      ${c.retry_spacing_sec}, ${c.concurrency}, ${c.require_consent}, ${c.voicemail}, ${c.voicemail_message}, ${c.purpose},
      ${c.conversion_outcomes})
    returning *`;
  return row!;
}

export async function updateDraft(db: Db, companyId: string, id: string, c: CampaignInput): Promise<CampaignRow | undefined> {
  const [row] = await db<CampaignRow[]>`
    update campaigns set bot_id = ${c.bot_id}, name = ${c.name}, starts_at = ${c.starts_at}, ends_at = ${c.ends_at},
      windows = ${db.json(c.windows as never)}, max_attempts = ${c.max_attempts}, retry_spacing_sec = ${c.retry_spacing_sec},
      concurrency = ${c.concurrency}, require_consent = ${c.require_consent}, voicemail = ${c.voicemail},
      voicemail_message = ${c.voicemail_message}, purpose = ${c.purpose}, conversion_outcomes = ${c.conversion_outcomes}, updated_at = now()
    where id = ${id} and company_id = ${companyId} and status = 'draft'
    returning *`;
  return row;
}

export async function getCampaign(db: Db, companyId: string, id: string): Promise<CampaignRow | undefined> {
  const [row] = await db<CampaignRow[]>`select * from campaigns where id = ${id} and company_id = ${companyId}`;
  return row;
}

export async function listCampaigns(db: Db, companyId: string, limit: number, status?: CampaignStatus, after?: { createdAt: Date; id: string }): Promise<CampaignRow[]> {
  return db<CampaignRow[]>`
    select * from campaigns where company_id = ${companyId}
      ${status ? db`and status = ${status}` : db``}
      ${after ? db`and (created_at, id) < (${after.createdAt}, ${after.id})` : db``}
    order by created_at desc, id desc limit ${limit}`;
}

/**
 * Moves a campaign to `to` if that move is legal from its current state (checked under the row lock) and emits
 * campaign.status_changed; a stop for good queues the skipping of the contacts still waiting. One row's work,
 * whatever the campaign's size. Throws 409 on an illegal move.
 */
export async function transition(
  tx: Db,
  companyId: string,
  id: string,
  to: CampaignStatus,
  options: { reason?: string | null; expect?: readonly CampaignStatus[] } = {},
): Promise<CampaignRow> {
  const [current] = await tx<CampaignRow[]>`select * from campaigns where id = ${id} and company_id = ${companyId} for update`;
  if (!current) throw new ParleyError('PARLEY_ERR_NOT_FOUND', 'Campaign not found');
  if (!canMove(current.status, to) || (options.expect && !options.expect.includes(current.status))) {
    throw new ParleyError('PARLEY_ERR_ILLEGAL_TRANSITION', `A ${current.status} campaign cannot become ${to}`, { from: current.status, to });
  }
  const terminal = FINAL_CAMPAIGN_STATUSES.includes(to);
  const [row] = await tx<CampaignRow[]>`
    update campaigns set status = ${to}, updated_at = now(),
      started_at = case when ${to} = 'running' then coalesce(started_at, now()) else started_at end,
      finished_at = case when ${terminal} then now() else finished_at end,
      failure_reason = case when ${to} = 'failed' then ${options.reason ?? null}::text else failure_reason end,
      dial_failures = case when ${to} = 'running' then 0 else dial_failures end,
      backoff_until = case when ${to} = 'running' then null else backoff_until end
    where id = ${id} returning *`;
  // The status is the commit point: no contact is claimed or dialled from now on (scheduler.ts). The contacts still
  // waiting are marked skipped in batches after the commit (skip-waiting.ts): in one statement here they outlasted
  // the request's deadline on a big campaign, and the stop failed.
  if (terminal) await queueSkipWaiting(tx, companyId, id);
  await emitEvent(tx, {
    companyId,
    type: 'campaign.status_changed',
    data: { campaign_id: id, from: current.status, to, ...(options.reason ? { reason: options.reason } : {}) },
    orderingKey: id,
  });
  return row!;
}

export interface ContactInput {
  phone: string;
  name: string | null;
  time_zone: string | null;
  variables: Record<string, string>;
}

/** Inserts contacts; a number already in the campaign is left as it is. Returns how many were new. */
export async function insertContacts(db: Db, companyId: string, campaignId: string, contacts: ContactInput[]): Promise<number> {
  let added = 0;
  for (let i = 0; i < contacts.length; i += 1000) {
    const batch = contacts.slice(i, i + 1000).map((c) => ({
      company_id: companyId, campaign_id: campaignId, phone: c.phone, name: c.name, time_zone: c.time_zone, variables: c.variables,
    }));
    const rows = await db`
      insert into campaign_contacts ${db(batch as never, 'company_id', 'campaign_id', 'phone', 'name', 'time_zone', 'variables')}
      on conflict (campaign_id, phone) do nothing returning id`;
    added += rows.length;
  }
  return added;
}

/** A campaign's contacts, newest first (created_at desc, id desc: the keyset every such list pages by). */
export async function listContacts(
  db: Db, companyId: string, campaignId: string, limit: number, state?: ContactState, after?: { createdAt: Date; id: string },
): Promise<ContactRow[]> {
  return db<ContactRow[]>`
    select id, campaign_id, phone, name, time_zone, variables, state, attempts, next_attempt_at, last_outcome, skip_reason,
      deferred_reason, created_at, updated_at
    from campaign_contacts where company_id = ${companyId} and campaign_id = ${campaignId}
      ${state ? db`and state = ${state}` : db``} ${after ? db`and (created_at, id) < (${after.createdAt}, ${after.id})` : db``}
    order by created_at desc, id desc limit ${limit}`;
}

export async function listAttempts(db: Db, companyId: string, campaignId: string, limit: number, after?: { dialedAt: Date; id: string }): Promise<AttemptRow[]> {
  return db<AttemptRow[]>`
    select id, campaign_id, contact_id, phone, seq, call_id, status, counted, local_day::text as local_day, dialed_at, answered_by,
      voicemail, screened, outcome, ended_at
    from campaign_attempts where company_id = ${companyId} and campaign_id = ${campaignId}
      ${after ? db`and (dialed_at, id) < (${after.dialedAt}, ${after.id})` : db``}
    order by dialed_at desc, id desc limit ${limit}`;
}

export interface CampaignStats {
  targeted: number;
  dialled: number;
  answered: number;
  voicemail: number;
  completed: number;
  in_progress: number;
  waiting: number;
  skipped: Record<string, number>;
  outcomes: Record<string, number>;
  conversions: number;
}

interface StatCounter {
  kind: string;
  label: string;
  n: number;
}

/**
 * The campaign's statistics from its counters (migration 0330: kept by triggers on every write of its contacts,
 * attempts and their calls' outcomes): the folded totals plus the deltas not folded yet, summed in one statement
 * — one snapshot, so a fold committing meanwhile is seen whole or not at all. A few dozen rows, whatever the
 * campaign's size: the count of every contact and attempt this replaced took 179–270 ms at 1,000,000 contacts.
 */
export async function campaignStats(db: Db, companyId: string, campaign: Pick<CampaignRow, 'id' | 'conversion_outcomes'>): Promise<CampaignStats> {
  const counters = await db<StatCounter[]>`
    select kind, label, sum(n)::int as n from (
      select kind, label, n from campaign_stat_totals where campaign_id = ${campaign.id} and company_id = ${companyId}
      union all
      select kind, label, n from campaign_stat_deltas where campaign_id = ${campaign.id} and company_id = ${companyId}) s
    group by kind, label having sum(n) <> 0`;
  return statsFromCounters(counters, campaign.conversion_outcomes);
}

function statsFromCounters(counters: StatCounter[], conversionOutcomes: readonly string[]): CampaignStats {
  // Of one kind: every label, or only those listed.
  const count = (kind: string, labels?: readonly string[]) =>
    counters.filter((c) => c.kind === kind && (!labels || labels.includes(c.label))).reduce((sum, c) => sum + c.n, 0);
  const byLabel = (kind: string) => Object.fromEntries(counters.filter((c) => c.kind === kind).map((c) => [c.label, c.n]));
  return {
    targeted: count('contacts'),
    dialled: count('dialled'),
    answered: count('answered'),
    voicemail: count('voicemail'),
    completed: count('state', ['done', 'exhausted']),
    in_progress: count('state', ['dialing', 'live']),
    waiting: count('state', ['pending']),
    skipped: byLabel('skipped'),
    outcomes: byLabel('outcome'),
    // Attempts whose call's analysed type is one of the campaign's conversion outcomes.
    conversions: count('call_outcome', conversionOutcomes),
  };
}
