/**
 * A company's suppression data: the do-not-call list, voice consent per number, and the campaign policy
 * (frequency caps across all its campaigns, blocked prefixes). The API, the CSV import and the in-call tool write
 * here; every dial reads it (assertDialable, in the OutboundDialer's call-row transaction), and the scheduler reads
 * the caps and required consent in the same transaction, as it creates the attempt (scheduler.ts).
 *
 * A write that can make a number undialable (a do-not-call entry, a denied consent, the policy) and the dials of the
 * company take turns on the company's suppression lock: every dial holds it shared from its checks to its commit,
 * a write exclusively to its own. So a write waits for the dials already checking to commit, and every dial after
 * it sees it — before, a number listed while a dial's transaction was between its check and its commit was still
 * dialled, after the API had answered 200 (or the bot had said "we won't call you again"). One lock per company,
 * not the per-number lock the dials take: a 10,000-number upload taking 10,000 locks ran PostgreSQL's shared lock
 * table out ("out of shared memory") with three such uploads at once under the default max_locks_per_transaction.
 */
import { liveStatuses } from '../db/calls.js';
import { atomically } from '../db/retry.js';
import type { Db } from '../db/sql.js';
import { ParleyError } from '../errors.js';
import { canonicalPhone, isCallerChargedNumber } from '../util/phone.js';

export type DncSource = 'api' | 'csv' | 'call';
export type VoiceConsent = 'granted' | 'denied' | 'unknown';

export interface DncRow {
  phone: string;
  source: DncSource;
  reason: string | null;
  call_id: string | null;
  created_at: Date;
}

export interface ConsentRow {
  phone: string;
  voice: VoiceConsent;
  source: string | null;
  recorded_at: Date;
  updated_at: Date;
}

export interface CampaignPolicy {
  max_calls_per_day: number;
  max_calls_per_week: number;
  blocked_prefixes: string[];
}

export const DEFAULT_POLICY: CampaignPolicy = { max_calls_per_day: 1, max_calls_per_week: 3, blocked_prefixes: [] };

/**
 * How the numbers given to addDnc and setConsents are stored: made canonical here, or `canonical` already — an
 * upload's rows, normalised on its own thread (upload-check.ts), are not parsed again on the event loop, where
 * 10,000 numbers took 150–500 ms.
 */
export type PhonesGiven = 'canonical' | 'as-given';
const storedPhone = (phone: string, given: PhonesGiven): string => (given === 'canonical' ? phone : canonicalPhone(phone));

function suppressionLockKey(companyId: string): string {
  return `suppression:${companyId}`;
}

/** In a write's transaction: waits for the company's dials already checking to commit, and holds off the next ones. */
async function lockSuppressionWrites(tx: Db, companyId: string): Promise<void> {
  await tx`select pg_advisory_xact_lock(hashtextextended(${suppressionLockKey(companyId)}, 0))`;
}

/** A write to the suppression data, atomic and in turn with the company's dials (see the top of this file). */
function suppressionWrite<T>(db: Db, companyId: string, fn: (tx: Db) => Promise<T>): Promise<T> {
  return atomically(db, async (tx) => {
    await lockSuppressionWrites(tx, companyId);
    return fn(tx);
  });
}

/** Adds numbers (idempotent: a number already listed keeps its first source); returns how many were new. */
export async function addDnc(db: Db, companyId: string, entries: { phone: string; reason?: string | null }[], source: DncSource, callId: string | null = null, given: PhonesGiven = 'as-given'): Promise<number> {
  if (entries.length === 0) return 0;
  const rows = entries.map((e) => ({ company_id: companyId, phone: storedPhone(e.phone, given), source, reason: e.reason ?? null, call_id: callId }));
  return suppressionWrite(db, companyId, async (tx) => {
    let added = 0;
    for (let i = 0; i < rows.length; i += 1000) {
      const batch = rows.slice(i, i + 1000);
      const r = await tx`insert into dnc_numbers ${tx(batch, 'company_id', 'phone', 'source', 'reason', 'call_id')} on conflict (company_id, phone) do nothing returning phone`;
      added += r.length;
    }
    return added;
  });
}

export async function getDnc(db: Db, companyId: string, phone: string): Promise<DncRow | undefined> {
  const [row] = await db<DncRow[]>`select phone, source, reason, call_id, created_at from dnc_numbers where company_id = ${companyId} and phone = ${canonicalPhone(phone)}`;
  return row;
}

export async function removeDnc(db: Db, companyId: string, phone: string): Promise<boolean> {
  return (await db`delete from dnc_numbers where company_id = ${companyId} and phone = ${canonicalPhone(phone)} returning phone`).length > 0;
}

/** Keyset page on (created_at desc, phone desc). */
export async function listDnc(db: Db, companyId: string, limit: number, after?: { createdAt: Date; phone: string }): Promise<DncRow[]> {
  return db<DncRow[]>`
    select phone, source, reason, call_id, created_at from dnc_numbers
    where company_id = ${companyId} ${after ? db`and (created_at, phone) < (${after.createdAt}, ${after.phone})` : db``}
    order by created_at desc, phone desc limit ${limit}`;
}

/**
 * Records a callee's consent. The latest record wins by when it was recorded, not by when it arrived: an older
 * record (a CRM export from before the callee said "stop") never replaces a newer one — a withdrawal is undone
 * only by a consent given after it. Returns the record in force.
 */
export async function setConsent(db: Db, companyId: string, c: { phone: string; voice: VoiceConsent; source?: string | null; recordedAt?: Date }): Promise<ConsentRow> {
  const phone = canonicalPhone(c.phone);
  return suppressionWrite(db, companyId, async (tx) => {
    const [row] = await tx<ConsentRow[]>`
      insert into contact_consents (company_id, phone, voice, source, recorded_at)
      values (${companyId}, ${phone}, ${c.voice}, ${c.source ?? null}, ${c.recordedAt ?? new Date()})
      on conflict (company_id, phone) do update set voice = excluded.voice, source = excluded.source,
        recorded_at = excluded.recorded_at, updated_at = now()
      where excluded.recorded_at >= contact_consents.recorded_at
      returning phone, voice, source, recorded_at, updated_at`;
    return row ?? (await getConsent(tx, companyId, phone))!;
  });
}

/**
 * Many consents at once (a contact upload): one statement per thousand, not one per row — ten thousand single
 * upserts held the upload's transaction (PGlite's one connection, or a pool slot) for seconds. A number given twice
 * keeps its last record, as one upsert after another would; a stored record newer than the upload's is kept.
 */
export async function setConsents(db: Db, companyId: string, list: readonly { phone: string; voice: VoiceConsent; source?: string | null; recordedAt?: Date }[], given: PhonesGiven = 'as-given'): Promise<void> {
  const byPhone = new Map<string, { company_id: string; phone: string; voice: VoiceConsent; source: string | null; recorded_at: Date }>();
  const now = new Date();
  for (const c of list) {
    const phone = storedPhone(c.phone, given);
    byPhone.delete(phone);
    byPhone.set(phone, { company_id: companyId, phone, voice: c.voice, source: c.source ?? null, recorded_at: c.recordedAt ?? now });
  }
  // An upload's "unknown" says nothing about the callee: it records a number not seen before, never replaces a
  // granted or denied one. Otherwise, as for one record, the newest by recorded_at wins.
  const rows = [...byPhone.values()];
  if (rows.length === 0) return;
  // Only a refusal can make a number undialable: an upload without one does not wait on the company's dials.
  if (rows.some((r) => r.voice === 'denied')) await suppressionWrite(db, companyId, (tx) => upsertConsents(tx, rows));
  else await upsertConsents(db, rows);
}

async function upsertConsents(db: Db, rows: readonly { company_id: string; phone: string; voice: VoiceConsent; source: string | null; recorded_at: Date }[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) {
    await db`
      insert into contact_consents ${db(rows.slice(i, i + 1000) as never, 'company_id', 'phone', 'voice', 'source', 'recorded_at')}
      on conflict (company_id, phone) do update set voice = excluded.voice, source = excluded.source,
        recorded_at = excluded.recorded_at, updated_at = now()
      where excluded.recorded_at >= contact_consents.recorded_at
        and (excluded.voice <> 'unknown' or contact_consents.voice = 'unknown')`;
  }
}

export async function getConsent(db: Db, companyId: string, phone: string): Promise<ConsentRow | undefined> {
  const [row] = await db<ConsentRow[]>`select phone, voice, source, recorded_at, updated_at from contact_consents where company_id = ${companyId} and phone = ${canonicalPhone(phone)}`;
  return row;
}

export async function getPolicy(db: Db, companyId: string): Promise<CampaignPolicy> {
  const [row] = await db<CampaignPolicy[]>`select max_calls_per_day, max_calls_per_week, blocked_prefixes from campaign_policies where company_id = ${companyId}`;
  return row ?? { ...DEFAULT_POLICY };
}

export async function putPolicy(db: Db, companyId: string, p: CampaignPolicy): Promise<CampaignPolicy> {
  const [row] = await suppressionWrite(db, companyId, (tx) => tx<CampaignPolicy[]>`
    insert into campaign_policies (company_id, max_calls_per_day, max_calls_per_week, blocked_prefixes)
    values (${companyId}, ${p.max_calls_per_day}, ${p.max_calls_per_week}, ${p.blocked_prefixes})
    on conflict (company_id) do update set max_calls_per_day = excluded.max_calls_per_day,
      max_calls_per_week = excluded.max_calls_per_week, blocked_prefixes = excluded.blocked_prefixes, updated_at = now()
    returning max_calls_per_day, max_calls_per_week, blocked_prefixes`);
  return row!;
}

/** Why a number may not be called now, whatever places the call (the API, a campaign). */
export type NotDialableReason = 'premium_rate_number' | 'do_not_call' | 'blocked_prefix' | 'consent_denied' | 'number_in_call';

/** A 409 with `details.reason`; the scheduler turns it into the contact's skip or defer reason. */
export class NotDialable extends ParleyError {
  constructor(readonly reason: NotDialableReason, message: string) {
    super('PARLEY_ERR_CONFLICT', message, { reason });
  }
}

export interface DialableOptions {
  /** OUTBOUND_ALLOW_PREMIUM_RATE: premium-rate, shared-cost and UAN numbers may be dialled. */
  allowPremiumRate?: boolean;
}

/**
 * The checks every dial passes, in the transaction that creates its call row, before Twilio is asked: premium-rate
 * numbers (unless allowed), the do-not-call list, the blocked prefixes and a denied consent. Takes the per-number
 * lock first, and the company's suppression lock shared, both held to commit: every dial of one number, from any path and instance, passes here and through
 * assertNumberFree one at a time, so two cannot both find the number free. Throws NotDialable.
 */
export async function assertDialable(tx: Db, companyId: string, to: string, options: DialableOptions = {}): Promise<void> {
  const phone = canonicalPhone(to);
  if (!options.allowPremiumRate && isCallerChargedNumber(phone)) {
    throw new NotDialable('premium_rate_number', 'This is a premium-rate or shared-cost number: outbound calls to such numbers are off on this server (OUTBOUND_ALLOW_PREMIUM_RATE)');
  }
  await tx`select pg_advisory_xact_lock(hashtext(${`dial-number:${companyId}:${phone}`}))`;
  // Shared with the company's other dials, held to commit: a do-not-call entry, a refusal or a policy written
  // meanwhile waits for this dial, and one written before is read below (suppressionWrite).
  await tx`select pg_advisory_xact_lock_shared(hashtextextended(${suppressionLockKey(companyId)}, 0))`;
  if (await getDnc(tx, companyId, phone)) throw new NotDialable('do_not_call', 'This number is on the company\'s do-not-call list');
  const policy = await getPolicy(tx, companyId);
  const prefix = policy.blocked_prefixes.find((p) => phone.startsWith(p));
  if (prefix) throw new NotDialable('blocked_prefix', `Numbers starting with ${prefix} are blocked by the company's campaign policy`);
  if ((await getConsent(tx, companyId, phone))?.voice === 'denied') throw new NotDialable('consent_denied', 'The callee denied consent to be called');
}

/**
 * One call to a number at a time, in either direction: no live call of the company's to or from it but `callId`
 * (the one being placed) — a person on the phone with the company's bot is not rung by another. The second half of
 * the shared checks, under assertDialable's lock; the dialer runs it after a campaign's own checks, so a frequency
 * cap (a definite wait) is what a contact is told rather than a busy line. Live rows older than six hours are
 * stuck ones the sweeps end, as countLiveCallsNow counts them. Throws NotDialable.
 */
export async function assertNumberFree(tx: Db, companyId: string, to: string, callId: string): Promise<void> {
  // Both spellings: a call row keeps the number as it was given (the API's E.164) or as Twilio sent it.
  const numbers = [...new Set([to, canonicalPhone(to)])];
  const [busy] = await tx`
    select 1 from calls
    where company_id = ${companyId} and status = any(${liveStatuses()}) and started_at > now() - interval '6 hours'
      and id <> ${callId} and (to_number = any(${numbers}) or from_number = any(${numbers}))
    limit 1`;
  if (busy) throw new NotDialable('number_in_call', 'This number is on a call with the company now; try again when it ends');
}
