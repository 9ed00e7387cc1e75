/**
 * The campaign scheduler: a worker on the leased poller. All its state is in the database, so it survives
 * restarts and runs on several instances at once.
 *
 * One poll: `tick()` (start due campaigns, settle attempts whose call ended, complete finished campaigns), then
 * `claim()` leases due contacts — per campaign, under that campaign's row lock, so the campaign's concurrency
 * holds across instances — and each claimed contact is dialled through the OutboundDialer:
 *
 *  - outside the callee's window → deferred to the next opening (no attempt);
 *  - in the dialer's call-row transaction: first the checks every dial passes (assertDialable, under a per-number
 *    advisory lock: not a premium-rate number, not on the do-not-call list nor under a blocked prefix, consent not
 *    denied), then `admit`: the campaign is still running, consent is granted where the campaign requires it, the
 *    company's frequency caps (across all its campaigns, counted per callee-local day) have room, and the claim is
 *    still this worker's (its token) — then the attempt row is inserted, unique per (contact, seq) — and last the
 *    dialer's assertNumberFree (no live call to or from the number). Two workers can therefore never dial one
 *    contact twice, and two campaigns never exceed a cap;
 *  - Twilio refusing the request (a 4xx, or a connection that failed before sending) un-counts the attempt, puts
 *    the contact back and backs the campaign off; a lost answer (a 5xx, a timeout) may have placed the call, so
 *    the attempt stays counted and the contact on the line until the call's callbacks settle it (or, with none
 *    within staleDialMs, it ends `dial_lost`), and the campaign backs off.
 *
 * Time comes from `now()` (tests inject a clock); every timestamp the scheduler compares is that clock's.
 */
import type { BotRow } from '../db/bots.js';
import { countLiveCallsNow, type CallRow } from '../db/calls.js';
import type { Db, RootSql } from '../db/sql.js';
import { endCallInTx } from '../call/lifecycle.js';
import { endReasonCode, isMachineEndReason } from '../call/end-reasons.js';
import { ParleyError } from '../errors.js';
import { endLostDials, type DialResult, type PlaceOptions } from '../telephony/twilio/outbound.js';
import { backoffDelayMs, type BackoffOptions } from '../util/backoff.js';
import { LeasedPoller } from '../util/leased-poller.js';
import type { BudgetCheck } from '../usage/budget.js';
import { emitEvent } from '../webhooks/emit.js';
import { capReached, capReadSpan, recordedDay, type CountedAttempt } from './caps.js';
import { transition, type CampaignRow, type CampaignStatus } from './repo.js';
import { REWAKE_DEFERRED_JOB } from './rewake-deferred.js';
import { dialSettingsChanged } from './settings.js';
import { SKIP_BATCH_CONTACTS, stopSkipReason } from './skip-waiting.js';
import { getConsent, getPolicy, NotDialable } from './suppression.js';
import type { CampaignAttemptOutcome, ContactSkipReason } from './vocabulary.js';
import { inWindow, nextOpening, zonesFor } from './windows.js';

export interface CampaignDialer {
  place(bot: BotRow, to: string, options: PlaceOptions): Promise<DialResult>;
  /** Outbound calls a company may have live at once (OUTBOUND_MAX_ACTIVE_PER_COMPANY); unset: no cap. */
  readonly maxActivePerCompany?: number;
}

export interface SchedulerLogger {
  info?(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface CampaignSchedulerOptions {
  sql: RootSql;
  dialer: CampaignDialer;
  log: SchedulerLogger;
  now?: () => Date;
  /** Dials this instance has in flight at once (Twilio requests, not calls: calls are bounded per campaign). */
  concurrency?: number;
  pollMs?: number;
  /** The longest wait of an idle poller where campaign changes are announced (LeasedPoller); default pollMs. */
  idlePollMs?: number;
  /** How long a claim is held before another worker may take the contact. */
  leaseMs?: number;
  /** Backoff after Twilio outages, per campaign. */
  outageBackoff?: BackoffOptions;
  /** A dial Twilio never confirmed (its answer was lost, or the process died mid-request) is settled after this long. */
  staleDialMs?: number;
  /** Attempts settled per tick. */
  settleBatch?: number;
  /** The company's monthly budget (src/usage/budget.ts): while used up, contacts are deferred, nothing dialled. */
  budget?: BudgetCheck;
  /** How long a contact waits before the budget is checked again (default 5 min; never past the month's end). */
  budgetRecheckMs?: number;
}

interface Claimed {
  contact: {
    id: string;
    company_id: string;
    campaign_id: string;
    phone: string;
    name: string | null;
    time_zone: string | null;
    /** Attempts placed so far: one at or past the campaign's max_attempts (lowered by an edit) is exhausted, not dialled. */
    attempts: number;
    claim_token: string;
  };
  campaign: CampaignRow;
  bot: BotRow | undefined;
}

/** What admit() decided instead of dialling. */
class Verdict extends Error {
  // A skip's reason is sent (campaign.contact.skipped): one of CONTACT_SKIP_REASONS; a defer's or release's is not.
  constructor(kind: 'skip', reason: ContactSkipReason);
  constructor(kind: 'defer' | 'release' | 'exhaust', reason: string, until?: Date);
  constructor(readonly kind: 'skip' | 'defer' | 'release' | 'exhaust', readonly reason: string, readonly until?: Date) {
    super(`${kind}: ${reason}`);
  }
}

/** Outcomes after which a contact is not called again. */
const FINAL_OUTCOMES = new Set<CampaignAttemptOutcome>(['answered', 'voicemail_left', 'fax']);
/** A number another call is on now is tried again this much later. */
const NUMBER_IN_CALL_RETRY_MS = 5 * 60_000;

export class CampaignScheduler {
  private readonly poller: LeasedPoller<Claimed>;
  private readonly now: () => Date;
  private readonly leaseMs: number;

  constructor(private readonly o: CampaignSchedulerOptions) {
    this.now = o.now ?? (() => new Date());
    this.leaseMs = o.leaseMs ?? 60_000;
    this.poller = new LeasedPoller<Claimed>({
      concurrency: o.concurrency ?? 8,
      pollMs: o.pollMs ?? 1000,
      ...(o.idlePollMs ? { idlePollMs: o.idlePollMs } : {}),
      beforeClaim: () => this.tick(),
      claim: (free) => this.claim(free),
      run: (item) => this.dial(item),
      onError: (err) => o.log.error({ err }, 'campaign scheduler poll failed'),
    });
  }

  start(): void {
    this.poller.start();
  }

  kick(): void {
    this.poller.kick();
  }

  stop(timeoutMs: number): Promise<void> {
    return this.poller.stop(timeoutMs);
  }

  /** One poll, awaited to the end (tests and benchmarks drive the scheduler with this and their own clock). */
  async runOnce(max = this.o.concurrency ?? 8): Promise<number> {
    await this.tick();
    const items = await this.claim(max);
    await Promise.all(items.map((i) => this.dial(i)));
    return items.length;
  }

  // ---------------------------------------------------------------------------------------------- tick

  async tick(): Promise<void> {
    const { sql } = this.o;
    const now = this.now();
    // Scheduled campaigns whose start has come.
    const due = await sql<{ id: string; company_id: string }[]>`
      select id, company_id from campaigns where status = 'scheduled' and coalesce(starts_at, '-infinity') <= ${now} limit 50`;
    for (const c of due) {
      await sql.begin((tx) => transition(tx, c.company_id, c.id, 'running', { expect: ['scheduled'] })).catch((err: unknown) => {
        if (!(err instanceof ParleyError)) throw err; // another instance moved it first
      });
    }
    await this.settleStaleDials(now);
    await this.settleEndedAttempts(now);
    // Past their end: nobody waiting is called any more. A batch per tick (the dialer skips a past-end contact it
    // claims meanwhile): one statement for every contact of a big campaign could outlast the query deadline.
    await sql`
      update campaign_contacts k set state = 'skipped', skip_reason = 'campaign_ended', claim_token = null, locked_until = null, updated_at = now()
      where (k.state = 'pending' or (k.state = 'dialing' and k.locked_until < ${now})) and k.id = any(array(
        select w.id from campaigns c join campaign_contacts w on w.campaign_id = c.id
        where c.status in ('running', 'paused') and c.ends_at <= ${now}
          and (w.state = 'pending' or (w.state = 'dialing' and w.locked_until < ${now}))
        limit ${SKIP_BATCH_CONTACTS} for update of w skip locked))`;
    // Running campaigns with nobody left to call or on the line (or paused ones past their end) are complete.
    const finished = await sql<{ id: string; company_id: string }[]>`
      select c.id, c.company_id from campaigns c
      where (c.status = 'running' or (c.status = 'paused' and c.ends_at <= ${now}))
        and not exists (select 1 from campaign_contacts k where k.campaign_id = c.id and k.state in ('pending', 'dialing', 'live'))
        -- An edit's revival still to come (rewake-deferred.ts) may bring contacts back.
        and not exists (select 1 from jobs j where j.dedupe_key = ${REWAKE_DEFERRED_JOB} || ':' || c.id::text and j.status in ('queued', 'running'))
      limit 50`;
    for (const c of finished) {
      await sql.begin(async (tx) => {
        // Re-checked under the row lock: a contact added meanwhile, or an edit's revival queued, keeps the campaign running.
        const [still] = await tx`
          select 1 from campaigns c where c.id = ${c.id} and c.status in ('running', 'paused')
            and not exists (select 1 from campaign_contacts k where k.campaign_id = c.id and k.state in ('pending', 'dialing', 'live'))
            and not exists (select 1 from jobs j where j.dedupe_key = ${REWAKE_DEFERRED_JOB} || ':' || c.id::text and j.status in ('queued', 'running'))
          for update skip locked`;
        if (still) await transition(tx, c.company_id, c.id, 'completed');
      });
    }
  }

  /**
   * Dials Twilio never confirmed (its answer was lost, or the process died mid-request). One whose SID has come
   * since (a late status callback or answer) goes live and is settled as any call; one still without a SID after
   * staleDialMs ends as dial_lost, counted. Outbound calls placed outside campaigns (the API's) are ended the same
   * way here (endLostDials, on the database's clock).
   */
  private async settleStaleDials(now: Date): Promise<void> {
    const { sql } = this.o;
    const staleMs = this.o.staleDialMs ?? 10 * 60_000;
    await endLostDials(sql, staleMs);
    const cutoff = new Date(now.getTime() - staleMs);
    await sql.begin(async (tx) => {
      const stale = await tx<{ id: string; company_id: string; call_id: string | null; sid: string | null }[]>`
        select a.id, a.company_id, a.call_id, c.twilio_call_sid as sid from campaign_attempts a left join calls c on c.id = a.call_id
        where a.status = 'dialing' and (a.dialed_at < ${cutoff} or c.twilio_call_sid is not null)
        limit 100 for update of a skip locked`;
      for (const a of stale) {
        if (a.call_id && !a.sid) {
          await endCallInTx(tx, { callId: a.call_id, companyId: a.company_id }, { status: 'failed', reason: 'dial_lost' }, { by: 'dialer', durationSec: 0 });
        }
        await tx`update campaign_attempts set status = 'live' where id = ${a.id}`;
      }
    });
  }

  /** Attempts whose call has ended get their outcome; the contact is done, retried after the spacing, or exhausted. */
  private async settleEndedAttempts(now: Date): Promise<void> {
    const { sql } = this.o;
    await sql.begin(async (tx) => {
      const ended = await tx<{
        id: string; company_id: string; campaign_id: string; contact_id: string; phone: string; call_id: string; answered_by: string | null;
        voicemail: 'left' | 'hung_up' | null; screened: boolean; call_status: string; failure_reason: string | null; end_reason: string | null;
        answered: boolean; campaign_status: CampaignStatus; max_attempts: number; retry_spacing_sec: number; attempts: number;
      }[]>`
        select a.id, a.company_id, a.campaign_id, a.contact_id, a.phone, a.call_id, a.answered_by, a.voicemail, a.screened,
          c.status as call_status, c.failure_reason, c.end_reason, c.answered_at is not null as answered, g.status as campaign_status,
          g.max_attempts, g.retry_spacing_sec, k.attempts
        from campaign_attempts a
          join calls c on c.id = a.call_id
          join campaigns g on g.id = a.campaign_id
          join campaign_contacts k on k.id = a.contact_id
        where a.status = 'live' and c.ended_at is not null
        order by a.dialed_at limit ${this.o.settleBatch ?? 500}
        for update of a skip locked`;
      // Campaign by campaign: each event takes its campaign's ordering lock (webhooks/emit.ts) until commit, and
      // two batches that take their keys in one order cannot wait on each other.
      ended.sort((x, y) => (x.campaign_id < y.campaign_id ? -1 : x.campaign_id > y.campaign_id ? 1 : 0));
      for (const a of ended) {
        const outcome = outcomeOf(a);
        await tx`update campaign_attempts set status = 'ended', outcome = ${outcome}, ended_at = ${now} where id = ${a.id}`;
        const final = FINAL_OUTCOMES.has(outcome);
        // A campaign cancelled (or ended) while this call rang calls nobody again: the contact is not left waiting,
        // skipped with the stop's reason (a completed campaign's is campaign_ended).
        const over = a.campaign_status !== 'running' && a.campaign_status !== 'paused';
        const skipReason = stopSkipReason(a.campaign_status) ?? 'campaign_ended';
        const state = final ? 'done' : over ? 'skipped' : a.attempts >= a.max_attempts ? 'exhausted' : 'pending';
        const next = new Date(now.getTime() + a.retry_spacing_sec * 1000);
        await tx`
          update campaign_contacts set state = ${state}, last_outcome = ${outcome}, next_attempt_at = ${next},
            deferred_reason = ${state === 'pending' ? 'retry_spacing' : null},
            skip_reason = ${state === 'skipped' ? skipReason : null}, updated_at = now()
          where id = ${a.contact_id} and state = 'live'`;
        await emitEvent(tx, {
          companyId: a.company_id,
          type: 'campaign.attempt.ended',
          data: {
            campaign_id: a.campaign_id, contact_id: a.contact_id, attempt_id: a.id, call_id: a.call_id, phone: a.phone, outcome,
            answered_by: a.answered_by, contact_state: state, ...(state === 'pending' ? { next_attempt_at: next.toISOString() } : {}),
          },
          orderingKey: a.campaign_id,
        });
      }
    });
  }

  // --------------------------------------------------------------------------------------------- claim

  async claim(free: number): Promise<Claimed[]> {
    const { sql } = this.o;
    const now = this.now();
    const until = new Date(now.getTime() + this.leaseMs);
    return sql.begin(async (tx) => {
      // Each campaign's row lock is held while its contacts are claimed: another instance skips the campaign for
      // this moment, so the count of its busy contacts below cannot be raced past its concurrency.
      // Only campaigns with a contact due now — else twenty campaigns waiting out their retry spacing or windows
      // would fill the batch on every poll and hide every other campaign — and the one whose due contact has
      // waited longest first (a lease run out, with no wait of its own, before any), so no campaign starves.
      // Each test is a probe per campaign: the oldest due pending contact is the first entry of the claim index
      // (migration 0350), a run-out lease one of the campaign's few claimed contacts. (One EXISTS of "pending and
      // due, or claimed and run out" was planned as a semi-join that read every waiting contact of every running
      // campaign: 250 ms per poll at 1,000,000 contacts.)
      const campaigns = await tx<CampaignRow[]>`
        select c.* from campaigns c
          cross join lateral (select min(cc.next_attempt_at) as oldest from campaign_contacts cc
            where cc.campaign_id = c.id and cc.state = 'pending' and cc.next_attempt_at <= ${now}) due
        where c.status = 'running' and coalesce(c.backoff_until, '-infinity') <= ${now}
          -- A disabled company places no calls: its campaigns wait, and go on if it is enabled again.
          and exists (select 1 from companies co where co.id = c.company_id and co.is_active)
          and (due.oldest is not null
            or exists (select 1 from campaign_contacts cc where cc.campaign_id = c.id and cc.state = 'dialing' and cc.locked_until < ${now}))
        order by due.oldest nulls first, c.updated_at
        limit 20 for update of c skip locked`;
      const out: Claimed[] = [];
      // A company at its outbound cap (OUTBOUND_MAX_ACTIVE_PER_COMPANY) gets no slots: claimed, its contacts would
      // only be refused by the dialer and deferred, poll after poll, while other companies' campaigns waited.
      const cap = this.o.dialer.maxActivePerCompany;
      const companyRoom = new Map<string, number>();
      for (const campaign of campaigns) {
        if (out.length >= free) break;
        if (cap !== undefined && !companyRoom.has(campaign.company_id)) {
          companyRoom.set(campaign.company_id, cap - (await countLiveCallsNow(tx, campaign.company_id, 'outbound')));
        }
        const [busy] = await tx<{ n: number }[]>`
          select count(*)::int as n from campaign_contacts
          where campaign_id = ${campaign.id} and (state = 'live' or (state = 'dialing' and locked_until >= ${now}))`;
        const room = Math.min(campaign.concurrency - (busy?.n ?? 0), free - out.length, companyRoom.get(campaign.company_id) ?? Infinity);
        if (room <= 0) continue;
        // A walk of the claim index (migration 0350) in its order, stopping at `room` rows locked. The bound on
        // next_attempt_at for both states is what stops the walk at the first contact not yet due (else a campaign
        // with few due contacts and many waiting for later is read to its end). It leaves out no claimed contact
        // whose lease has run out: a claim keeps next_attempt_at (at most the claim's now) and leases past that now.
        const rows = await tx<Claimed['contact'][]>`
          update campaign_contacts set state = 'dialing', claim_token = gen_random_uuid(), locked_until = ${until}, updated_at = now()
          where id = any(array(
            select id from campaign_contacts
            where campaign_id = ${campaign.id} and next_attempt_at <= ${now}
              and (state = 'pending' or (state = 'dialing' and locked_until < ${now}))
            order by next_attempt_at, id limit ${room}
            for update skip locked))
          returning id, company_id, campaign_id, phone, name, time_zone, attempts, claim_token`;
        if (rows.length === 0) continue;
        const [bot] = await tx<BotRow[]>`select * from bots where id = ${campaign.bot_id} and company_id = ${campaign.company_id}`;
        for (const contact of rows) out.push({ contact, campaign, bot });
        if (companyRoom.has(campaign.company_id)) companyRoom.set(campaign.company_id, companyRoom.get(campaign.company_id)! - rows.length);
      }
      return out;
    });
  }

  // ---------------------------------------------------------------------------------------------- dial

  async dial(item: Claimed): Promise<void> {
    const { contact, campaign, bot } = item;
    const now = this.now();
    try {
      if (!bot || !bot.is_active || !bot.phone_number) {
        await this.release(item, now);
        await this.failCampaign(campaign, bot ? (bot.is_active ? 'the bot has no phone number' : 'the bot is inactive') : 'the bot was deleted');
        return;
      }
      if (campaign.ends_at && now >= campaign.ends_at) throw new Verdict('skip', 'campaign_ended');
      if (contact.attempts >= campaign.max_attempts) throw new Verdict('exhaust', 'max_attempts');
      // Budget used up: nobody is dialled and no attempt is burned; the contact waits and is checked again.
      const budget = await this.o.budget?.status(contact.company_id);
      if (budget?.exhausted) {
        const recheck = Math.min(now.getTime() + (this.o.budgetRecheckMs ?? 300_000), Date.parse(budget.resets_at));
        throw new Verdict('defer', 'budget_exhausted', new Date(recheck));
      }
      const zones = zonesFor(contact);
      if (zones.length === 0) throw new Verdict('skip', 'time_zone_unknown');
      if (!inWindow(campaign.windows, zones, now)) {
        const next = nextOpening(campaign.windows, zones, now);
        if (!next) throw new Verdict('skip', 'no_common_window');
        if (campaign.ends_at && next >= campaign.ends_at) throw new Verdict('skip', 'campaign_ended');
        throw new Verdict('defer', 'outside_window', next);
      }
      const day = recordedDay(zones, now);
      let attemptId: string | null = null;
      let placed: DialResult;
      try {
        placed = await this.o.dialer.place(bot, contact.phone, {
          ...(campaign.voicemail === 'leave_message' ? { machineDetection: 'DetectMessageEnd' as const } : {}),
          ...(campaign.voicemail === 'hang_up' ? { machineDetection: 'Enable' as const } : {}),
          inTransaction: async (tx, call) => {
            attemptId = await this.admit(tx, item, call, zones, day, now);
          },
        });
      } catch (err) {
        // A Verdict or NotDialable comes from inside the transaction: it rolled the attempt back with everything else.
        if (attemptId && !(err instanceof Verdict) && !(err instanceof NotDialable)) return await this.dialFailed(item, attemptId, err, now);
        throw err;
      }
      if (placed.unconfirmed !== null) return await this.dialUnconfirmed(item, placed.unconfirmed, now);
      await this.o.sql`update campaign_attempts set status = 'live' where id = ${attemptId} and status = 'dialing'`;
      if (campaign.dial_failures > 0) {
        await this.o.sql`update campaigns set dial_failures = 0, backoff_until = null where id = ${campaign.id} and dial_failures > 0`;
      }
    } catch (err) {
      if (err instanceof Verdict) return this.apply(item, err, now);
      if (err instanceof NotDialable) return this.apply(item, verdictFor(err, now), now);
      if (err instanceof ParleyError && err.code === 'PARLEY_ERR_VALIDATION') {
        // A number this server may not dial (OUTBOUND_ALLOWED_PREFIXES, the bot's own): no later try can change that.
        return this.apply(item, new Verdict('skip', 'number_refused'), now);
      }
      if (err instanceof ParleyError && err.code === 'PARLEY_ERR_RATE_LIMITED') {
        // The company's live-call brake (OUTBOUND_MAX_ACTIVE_PER_COMPANY): wait a little, nothing burned.
        return this.apply(item, new Verdict('defer', 'company_outbound_limit', new Date(now.getTime() + 5_000)), now);
      }
      this.o.log.error({ err, contactId: contact.id, campaignId: campaign.id }, 'campaign dial failed');
      await this.apply(item, new Verdict('defer', 'internal_error', new Date(now.getTime() + 30_000)), now).catch(() => {});
    }
  }

  /**
   * Runs inside the transaction that creates the call row, before Twilio is asked, between the checks every dial
   * passes (assertDialable, which holds the number's lock: every dial to this number, from any campaign of the
   * company or the API, on any instance, passes here one at a time; assertNumberFree after). Throws a Verdict to
   * dial nobody (the transaction rolls back); otherwise inserts the attempt and returns its id.
   */
  private async admit(tx: Db, item: Claimed, call: CallRow, zones: readonly string[], day: string, now: Date): Promise<string> {
    const { contact, campaign } = item;
    const [state] = await tx<CampaignRow[]>`select * from campaigns where id = ${campaign.id} for share`;
    if (state?.status !== 'running') throw new Verdict('release', `campaign_${state?.status ?? 'gone'}`);
    // Edited since the claim read it (PATCH /v1/campaigns/:id takes the row for update, so an edit has committed
    // before this or waits for it): the contact is decided again at the next poll, under the new settings.
    if (dialSettingsChanged(campaign, state)) throw new Verdict('release', 'campaign_changed');
    if (campaign.require_consent && (await getConsent(tx, contact.company_id, contact.phone))?.voice !== 'granted') {
      throw new Verdict('skip', 'consent_missing');
    }
    const policy = await getPolicy(tx, contact.company_id);
    // The number's counted attempts of the last 7 days in any of the callee's zones, from any campaign (caps.ts).
    const span = capReadSpan(zones, now);
    const attempts = await tx<CountedAttempt[]>`
      select local_day::text as local_day, dialed_at from campaign_attempts
      where company_id = ${contact.company_id} and phone = ${contact.phone} and counted
        and (local_day >= ${span.fromDay}::date or dialed_at >= ${span.from})`;
    const full = capReached(attempts, zones, now, policy);
    if (full) {
      const next = nextOpening(campaign.windows, zones, full.roomAt);
      if (!next || (campaign.ends_at && next >= campaign.ends_at)) throw new Verdict('skip', next ? 'campaign_ended' : 'no_common_window');
      throw new Verdict('defer', full.reason, next);
    }
    // The claim must still be ours: a worker whose lease expired and was re-claimed inserts nothing.
    const [claimed] = await tx<{ dial_seq: number }[]>`
      update campaign_contacts set state = 'live', attempts = attempts + 1, dial_seq = dial_seq + 1, claim_token = null,
        locked_until = null, deferred_reason = null, updated_at = now()
      where id = ${contact.id} and claim_token = ${contact.claim_token} and state = 'dialing'
      returning dial_seq`;
    if (!claimed) throw new Verdict('release', 'claim_lost');
    const [attempt] = await tx<{ id: string }[]>`
      insert into campaign_attempts (company_id, campaign_id, contact_id, phone, seq, call_id, local_day, dialed_at)
      values (${contact.company_id}, ${campaign.id}, ${contact.id}, ${contact.phone}, ${claimed.dial_seq}, ${call.id}, ${day}::date, ${now})
      returning id`;
    return attempt!.id;
  }

  /** Twilio certainly did not place the call (it refused, or the request never left; the dialer ended the row failed). */
  private async dialFailed(item: Claimed, attemptId: string, err: unknown, now: Date): Promise<void> {
    const { contact, campaign } = item;
    const refused = err instanceof ParleyError && err.code === 'PARLEY_ERR_VALIDATION';
    const credentials = err instanceof ParleyError && err.code === 'PARLEY_ERR_UPSTREAM' && err.details?.retryable === false;
    await this.o.sql.begin(async (tx) => {
      // Never placed: it does not count toward caps or max_attempts.
      await tx`update campaign_attempts set status = 'ended', counted = false, ended_at = ${now},
        outcome = ${refused ? 'number_refused' : 'twilio_unavailable'} where id = ${attemptId}`;
      if (refused) {
        const reason: ContactSkipReason = `number_refused: ${(err as Error).message.slice(0, 280)}`;
        await tx`update campaign_contacts set state = 'skipped', skip_reason = ${reason}, attempts = attempts - 1, updated_at = now()
          where id = ${contact.id} and state = 'live'`;
        await emitEvent(tx, { companyId: contact.company_id, type: 'campaign.contact.skipped', data: { campaign_id: campaign.id, contact_id: contact.id, phone: contact.phone, reason }, orderingKey: campaign.id });
        return;
      }
      const until = await this.backOff(campaign, now, tx);
      // backOff holds the campaign's row: a stop has committed before, or waits for this commit and then finds the
      // contact waiting. Stopped before: nobody calls it again, and no batch would come back for it.
      const [current] = await tx<{ status: CampaignStatus }[]>`select status from campaigns where id = ${campaign.id}`;
      const stopped = current ? stopSkipReason(current.status) : null;
      await tx`update campaign_contacts set state = ${stopped ? 'skipped' : 'pending'}, skip_reason = ${stopped},
        attempts = attempts - 1, next_attempt_at = ${until}, deferred_reason = ${stopped ? null : 'twilio_unavailable'}, updated_at = now()
        where id = ${contact.id} and state = 'live'`;
    });
    this.o.log.warn({ err: (err as Error).message, campaignId: campaign.id }, refused ? 'Twilio refused a campaign number' : 'Twilio unavailable; campaign backs off');
    if (credentials) await this.failCampaign(campaign, 'Twilio rejected the account credentials');
  }

  /**
   * Twilio's answer was lost (a 5xx, a timeout): the call may be ringing. The attempt stays counted and `dialing`,
   * the contact on the line — settleStaleDials makes it live when a callback brings its SID, or ends it dial_lost
   * — and the campaign backs off as for an outage: nobody else is dialled into a Twilio that cannot answer.
   */
  private async dialUnconfirmed(item: Claimed, reason: string, now: Date): Promise<void> {
    await this.backOff(item.campaign, now);
    this.o.log.warn({ err: reason, campaignId: item.campaign.id, contactId: item.contact.id }, 'Twilio\'s answer to a campaign dial was lost; the call may be ringing');
  }

  /** One more dial failure for the campaign: it waits exponentially longer; returns until when. */
  private async backOff(campaign: CampaignRow, now: Date, tx: Db = this.o.sql): Promise<Date> {
    const [c] = await tx<{ dial_failures: number }[]>`
      update campaigns set dial_failures = dial_failures + 1, updated_at = now() where id = ${campaign.id} returning dial_failures`;
    const delay = backoffDelayMs(c?.dial_failures ?? 1, this.o.outageBackoff ?? { baseMs: 5_000, maxMs: 300_000, jitter: 0.2 });
    const until = new Date(now.getTime() + delay);
    await tx`update campaigns set backoff_until = ${until} where id = ${campaign.id}`;
    return until;
  }

  private async apply(item: Claimed, v: Verdict, now: Date): Promise<void> {
    const { contact, campaign } = item;
    await this.o.sql.begin(async (tx) => {
      if (v.kind === 'exhaust') {
        await tx`
          update campaign_contacts set state = 'exhausted', claim_token = null, locked_until = null, deferred_reason = null, updated_at = now()
          where id = ${contact.id} and claim_token = ${contact.claim_token} and state = 'dialing'`;
        return;
      }
      if (v.kind === 'skip') {
        const rows = await tx`
          update campaign_contacts set state = 'skipped', skip_reason = ${v.reason}, claim_token = null, locked_until = null, updated_at = now()
          where id = ${contact.id} and claim_token = ${contact.claim_token} and state = 'dialing' returning id`;
        if (rows.length) {
          await emitEvent(tx, { companyId: contact.company_id, type: 'campaign.contact.skipped', data: { campaign_id: campaign.id, contact_id: contact.id, phone: contact.phone, reason: v.reason }, orderingKey: campaign.id });
        }
        return;
      }
      await tx`
        update campaign_contacts set state = 'pending', claim_token = null, locked_until = null, updated_at = now(),
          next_attempt_at = ${v.until ?? now}, deferred_reason = ${v.kind === 'defer' ? v.reason : null}
        where id = ${contact.id} and claim_token = ${contact.claim_token} and state = 'dialing'`;
    });
  }

  private release(item: Claimed, now: Date): Promise<void> {
    return this.apply(item, new Verdict('release', 'released'), now);
  }

  private async failCampaign(campaign: CampaignRow, reason: string): Promise<void> {
    await this.o.sql.begin((tx) => transition(tx, campaign.company_id, campaign.id, 'failed', { reason })).catch((err: unknown) => {
      if (!(err instanceof ParleyError)) throw err;
    });
  }
}

/** What a contact the shared dial checks refused gets: skipped for good, or (on a call now) tried again later. */
function verdictFor(err: NotDialable, now: Date): Verdict {
  return err.reason === 'number_in_call'
    ? new Verdict('defer', 'number_in_call', new Date(now.getTime() + NUMBER_IN_CALL_RETRY_MS))
    : new Verdict('skip', err.reason);
}

/** The attempt's outcome from its call and what the answer URL recorded. */
export function outcomeOf(a: { voicemail: 'left' | 'hung_up' | null; answered_by: string | null; call_status: string; failure_reason: string | null; end_reason?: string | null; answered?: boolean }): CampaignAttemptOutcome {
  // A machine's answer: the call's end reason, word for word (call/machine-answer.ts).
  const code = endReasonCode(a.end_reason);
  if (code && isMachineEndReason(code)) return code;
  if (a.voicemail === 'left') return 'voicemail_left';
  if (a.voicemail === 'hung_up') return 'voicemail_hung_up';
  if (a.answered_by === 'fax') return 'fax';
  // Somebody picked up and the conversation began, however it ended (a provider failure, a lost instance): they
  // were reached, and are not rung again.
  if (a.answered_by === 'human' || (a.answered && !a.answered_by?.startsWith('machine'))) return 'answered';
  switch (a.call_status) {
    case 'completed': return 'answered';
    case 'busy': return 'busy';
    case 'no_answer': return 'no_answer';
    case 'canceled': return 'canceled';
    default: return a.failure_reason?.startsWith('dial_lost') ? 'dial_lost' : 'failed';
  }
}
