/** The outbox tables: claiming due events, recording attempts and results, and reading them for the API. */
import { randomUUID } from 'node:crypto';
import type { Db, RootSql } from '../db/sql.js';
import type { PostResult } from './http-post.js';
import { fairShareParams, type FairShare } from '../util/fair-share.js';
import { leaseLost, type LeaseOwner } from '../jobs/lease-owner.js';

/** A delivery's status (the API's `status`, documented in docs/webhooks.md). */
export const DELIVERY_STATUSES = ['pending', 'delivered', 'dead', 'skipped'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * An event no live claim holds: never leased (or given back), or its lease lost (jobs/lease-owner.ts) — the one rule
 * for a worker claiming it and for a replay taking it over. Unqualified columns: those of the query's row.
 */
function notHeld(sql: RootSql, owner: LeaseOwner | undefined) {
  return sql`(locked_until is null or ${leaseLost(sql, owner)})`;
}

export interface ClaimedEvent {
  id: string;
  company_id: string;
  type: string;
  body: string;
  /** Every claim of the event, this one included: the number of this attempt. */
  attempts: number;
  /** `attempts` when the event was last replayed: the retry schedule counts the attempts since. */
  attempts_before_replay: number;
  created_at: Date;
  /** The retry window (maximum age) counts from here: creation, replay, or the event ahead on its key settling (or deleted). */
  window_started_at: Date;
  claimed_by: string;
  /** Until when the claim before this one held the event, if that claim ended without settling it (died, or failed to record). */
  unsettled_lease_until: Date | null;
}


/**
 * Leases up to `limit` due events. Per (company, ordering key) only the oldest pending event is eligible, so
 * events of one call go out one at a time, in order; SKIP LOCKED lets several workers claim side by side. A replay
 * of a settled event is out of band (replayDelivery): it neither waits for nor holds back its key's live events.
 *
 * Fair between companies: each company's due events are taken in turns — every company's oldest first, then
 * every company's second, … (a company already holding n deliveries starts at turn n + 1), the earliest due first
 * within a turn — and no company gets more than `maxPerCompany` in flight, so one company's backlog (or a receiver
 * that never answers) cannot hold every delivery slot or push another company's event behind it.
 * Walks webhook_events_claim_idx per company with pending events: a few index probes per company, however long any
 * company's backlog is. That index leaves out the events marked waiting_behind (an earlier event of their key is
 * pending; migrations/0360 keeps the mark), so a long line on one key — a campaign whose receiver is down — is not
 * read on every poll. The mark only spares the walk: the check that no earlier event of the key is pending is made
 * on every event claimed all the same. Under concurrent claims a row another claimer locked is skipped, not
 * replaced; the caller claims again on its next poll.
 *
 * A held event is claimed again once its lease is lost (jobs/lease-owner.ts, as jobs are): it expired, or `owner`
 * judges the instance holding it lost (a crash). The lease taken records `owner`.
 */
export async function claimDueEvents(
  sql: RootSql, limit: number, leaseMs: number, fairness: FairShare = {}, owner?: LeaseOwner,
): Promise<ClaimedEvent[]> {
  const token = randomUUID();
  const { cap, alone, held } = fairShareParams(fairness);
  const free = notHeld(sql, owner);
  return sql<ClaimedEvent[]>`
    with recursive companies (id) as (
      (select company_id from webhook_events where status = 'pending' and not waiting_behind order by company_id limit 1)
      union all
      select (select w.company_id from webhook_events w
          where w.status = 'pending' and not w.waiting_behind and w.company_id > c.id order by w.company_id limit 1)
      from companies c where c.id is not null),
    holding as (
      select c.id, coalesce((${sql.json(held)}::jsonb ->> c.id::text)::int, 0) as n from companies c where c.id is not null),
    candidates as (
      select x.id, x.next_attempt_at, x.seq, h.n + x.rank as turn
      from holding h
      cross join lateral (
        select e.id, e.next_attempt_at, e.seq, row_number() over (order by e.next_attempt_at, e.seq) as rank
        from webhook_events e
        where e.company_id = h.id and e.status = 'pending' and not e.waiting_behind and e.next_attempt_at <= now() and ${free}
          and (e.ordering_key is null or not exists (
            select 1 from webhook_events p
            where p.company_id = e.company_id and p.ordering_key = e.ordering_key and p.status = 'pending'
              and p.out_of_band = e.out_of_band and p.seq < e.seq))
        order by e.next_attempt_at, e.seq
        limit ${limit}::int) x
      -- With other companies waiting, the cap; a company alone may use all but one slot (kept for whoever comes next).
      where x.rank <= case when (select count(*) from holding) > 1 then coalesce(${cap}::int - h.n, ${limit}::int)
        else coalesce(${alone}::int - h.n, ${limit}::int) end),
    -- In claim order; joined by the primary key (a plain join to the candidates may be planned as a scan).
    picked as (select array_agg(id order by turn, next_attempt_at, seq) as ids from candidates)
    update webhook_events w set attempts = w.attempts + 1, claimed_by = ${token}, updated_at = now(),
      locked_until = now() + ${leaseMs} * interval '1 millisecond', locked_by = ${owner?.instanceId ?? null}::uuid
    from (
      -- The lease each row had: one still set (expired, or its instance lost) is a claim that ended without settling the event.
      select e.id, e.locked_until from picked p join webhook_events e on e.id = any(p.ids)
      where e.status = 'pending' and e.next_attempt_at <= now() and ${free}
      order by array_position(p.ids, e.id)
      limit ${limit}
      for update of e skip locked) claimed
    where w.id = claimed.id
    returning w.id, w.company_id, w.type, w.body, w.attempts, w.attempts_before_replay, w.created_at, w.window_started_at, w.claimed_by,
      claimed.locked_until as unsettled_lease_until`;
}

export async function insertAttempt(db: Db, eventId: string, companyId: string, attempt: number, url: string, r: PostResult): Promise<void> {
  await db`
    insert into webhook_attempts (event_id, company_id, attempt, url, status_code, latency_ms, error, response_excerpt)
    values (${eventId}, ${companyId}, ${attempt}, ${url}, ${r.statusCode}, ${r.latencyMs}, ${r.error}, ${r.responseExcerpt})`;
}

export interface Settlement {
  status: DeliveryStatus;
  nextAttemptAt?: Date;
  statusCode: number | null;
  error: string | null;
  /**
   * The company's webhook settings version the attempt went out under (CompanyWebhook.settingsVersion). When the
   * settings changed since, the newest win: anything but a delivery leaves the event pending and due at once, to be
   * sent (or skipped) under the settings of now — the attempt's own retry time, or its death by a 410 from a URL no
   * longer in use, would overrule them. Unset: no such check (the settlement does not depend on the settings).
   */
  underSettings?: number;
}

/**
 * The CTE `settled`: the event's new state, written only while this claim still holds it. An event that leaves its
 * ordering key's line moves the next one up (the trigger of migrations/0360: claimable, its retry window started).
 * The company's settings version is read FOR SHARE: a settings change committing at that moment is waited for and
 * seen, or waits for this settlement and then finds it (db/companies.ts updateWebhookSettings).
 */
function settledAs(db: Db, event: ClaimedEvent, s: Settlement) {
  const stale = s.underSettings === undefined || s.status === 'delivered'
    ? db`false`
    : db`exists (select 1 from settings where settings.version <> ${s.underSettings}::bigint)`;
  return db`
    settings as (
      select webhook_settings_version as version from companies where id = ${event.company_id} for share),
    settled as (
      update webhook_events set
        status = case when ${stale} then 'pending' else ${s.status} end,
        next_attempt_at = case when ${stale} then now() else coalesce(${s.nextAttemptAt ?? null}::timestamptz, next_attempt_at) end,
        locked_until = null, claimed_by = null, locked_by = null,
        last_status_code = ${s.statusCode}, last_error = ${s.error},
        delivered_at = case when ${s.status} = 'delivered' then now() else delivered_at end,
        updated_at = now()
      where id = ${event.id} and claimed_by = ${event.claimed_by}
      returning id, status)`;
}

/** Writes the event's new state, only while this claim still holds it. Returns the status written, null if the lease was lost. */
export async function settleEvent(db: Db, event: ClaimedEvent, s: Settlement): Promise<DeliveryStatus | null> {
  const rows = await db<{ status: DeliveryStatus }[]>`
    with ${settledAs(db, event, s)}
    select status from settled`;
  return rows[0]?.status ?? null;
}

/**
 * Gives back an event whose attempt this process's graceful stop cut short (no answer came): pending and due now,
 * its attempt not counted (the stop was not the receiver's failure) and no attempt recorded, so another instance —
 * or this one's next start — sends it at once instead of after the lease. The request may have reached the
 * receiver: the next attempt carries the same webhook-id (a fresh timestamp and signature, as every retry), and
 * receivers deduplicate on it. Only while this claim still holds it; false if it did not.
 */
export async function releaseAbortedClaim(db: Db, event: ClaimedEvent): Promise<boolean> {
  // status is set (unchanged) so that the announce trigger (migrations/0190) tells idle workers at once.
  const rows = await db`
    update webhook_events set status = 'pending', attempts = attempts - 1, next_attempt_at = least(next_attempt_at, now()),
      locked_until = null, claimed_by = null, locked_by = null, updated_at = now()
    where id = ${event.id} and status = 'pending' and claimed_by = ${event.claimed_by}
    returning id`;
  return rows.length > 0;
}

/**
 * One attempt's bookkeeping in a single statement (atomic without an explicit transaction, one round trip):
 * the attempt row, the event's new state (only while this claim still holds it), and for call.analyzed the
 * outcome row's webhook columns. Returns the status written (Settlement.underSettings may have made it pending), null
 * if the lease was lost to another worker.
 */
export async function recordAttemptResult(
  db: Db,
  event: ClaimedEvent,
  url: string,
  r: PostResult,
  s: Settlement,
  outcomeCallId: string | null,
): Promise<DeliveryStatus | null> {
  const delivered = s.status === 'delivered';
  const [row] = await db<{ status: DeliveryStatus | null }[]>`
    with ${settledAs(db, event, s)},
    attempt as (
      insert into webhook_attempts (event_id, company_id, attempt, url, status_code, latency_ms, error, response_excerpt)
      values (${event.id}, ${event.company_id}, ${event.attempts}, ${url}, ${r.statusCode}, ${r.latencyMs}, ${r.error}, ${r.responseExcerpt})
      returning id),
    outcome as (
      update outcomes set webhook_response_code = ${r.statusCode},
        webhook_sent = webhook_sent or ${delivered},
        webhook_sent_at = case when ${delivered} then now() else webhook_sent_at end
      where ${outcomeCallId}::uuid is not null and call_id = ${outcomeCallId}::uuid and company_id = ${event.company_id}
        and exists (select 1 from settled)
      returning call_id)
    select (select status from settled) as status, (select count(*) from attempt) as attempts, (select count(*) from outcome) as outcomes`;
  return row?.status ?? null;
}

export interface DeliveryRow {
  id: string;
  seq: number;
  type: string;
  status: DeliveryStatus;
  ordering_key: string | null;
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
  body: string;
  /** The event first in this one's ordering-key line, while this one waits behind it (never attempted meanwhile). */
  waiting_behind: string | null;
}

/**
 * A delivery's columns for the API (`e`: the row), with the event it waits behind: the oldest pending event of its
 * key ahead of it, the one the claim's rule (claimDueEvents) waits for. One index probe per pending event in a line.
 */
function deliveryColumns(db: Db) {
  return db`e.id, e.seq, e.type, e.status, e.ordering_key, e.attempts, e.next_attempt_at, e.last_status_code, e.last_error,
    e.delivered_at, e.created_at, e.body,
    case when e.status = 'pending' and e.ordering_key is not null then (
      select p.id from webhook_events p
      where p.company_id = e.company_id and p.ordering_key = e.ordering_key and p.status = 'pending'
        and p.out_of_band = e.out_of_band and p.seq < e.seq
      order by p.seq limit 1) end as waiting_behind`;
}

export interface AttemptRow {
  event_id: string;
  attempt: number;
  url: string;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  response_excerpt: string | null;
  created_at: Date;
}

export async function listDeliveries(
  db: Db,
  companyId: string,
  filter: { type?: string | undefined; status?: string | undefined; beforeSeq?: number | undefined; limit: number },
): Promise<DeliveryRow[]> {
  return db<DeliveryRow[]>`
    select ${deliveryColumns(db)}
    from webhook_events e
    where e.company_id = ${companyId}
      ${filter.type ? db`and e.type = ${filter.type}` : db``}
      ${filter.status ? db`and e.status = ${filter.status}` : db``}
      ${filter.beforeSeq !== undefined ? db`and e.seq < ${filter.beforeSeq}` : db``}
    order by e.seq desc
    limit ${filter.limit}`;
}

export async function getDelivery(db: Db, companyId: string, id: string): Promise<DeliveryRow | null> {
  const [row] = await db<DeliveryRow[]>`
    select ${deliveryColumns(db)} from webhook_events e where e.company_id = ${companyId} and e.id = ${id}`;
  return row ?? null;
}

export async function attemptsFor(db: Db, companyId: string, eventIds: string[]): Promise<Map<string, AttemptRow[]>> {
  const out = new Map<string, AttemptRow[]>(eventIds.map((id) => [id, []]));
  if (eventIds.length === 0) return out;
  const rows = await db<AttemptRow[]>`
    select event_id, attempt, url, status_code, latency_ms, error, response_excerpt, created_at
    from webhook_attempts where company_id = ${companyId} and event_id in ${db(eventIds)}
    order by id`;
  for (const r of rows) out.get(r.event_id)?.push(r);
  return out;
}

/**
 * Sends an event again with the same id; its retry window starts over — its age and its backoff (the attempts before
 * the replay stay counted and listed). False while a live worker holds it: a lease lost as workers judge it (expired,
 * or, where `owner` may judge, its instance lost — a crash) is taken over at once, as a worker's claim would.
 *
 * A settled event (delivered, dead, skipped) is replayed out of band: a re-send of what the receiver already had or
 * gave up on, outside its ordering key's line, so it neither waits for nor holds back the key's live events (it kept
 * its old seq, and held back every later event of its key, a whole campaign's). Replayed events of one key keep their
 * order among themselves, oldest (by seq: creation) first: they join the key's replay line (migrations/0461), behind
 * any earlier replayed event of the key still pending. A pending event keeps its place.
 */
export async function replayDelivery(sql: RootSql, companyId: string, id: string, owner?: LeaseOwner): Promise<boolean> {
  return inReplayTurn(sql, companyId, async (tx) => {
    const rows = await tx`
      update webhook_events e set ${replayed(tx, companyId)}
      where company_id = ${companyId} and id = ${id} and type <> 'webhook.test' and ${notHeld(tx, owner)}
      returning e.id`;
    return rows.length > 0;
  });
}

/**
 * Replays of one company take turns until commit: each reads the replay lines as the one before left them, so events
 * of one key replayed by two requests at once still join the line in order.
 */
async function inReplayTurn<T>(sql: RootSql, companyId: string, work: (tx: RootSql) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtextextended(${`webhook-replay:${companyId}`}, 0))`;
    return work(tx as unknown as RootSql);
  }) as Promise<T>;
}

/**
 * What a replay sets (`e`: the row, as it was before — in SET every column is): due now, its retry window and backoff
 * started over; a settled event goes out of band, waiting behind an earlier replayed event of its key still pending,
 * or (`earlierPicked`, a bulk replay) one replayed by the same statement.
 */
function replayed(sql: RootSql, companyId: string, earlierPicked = sql`false`) {
  return sql`status = 'pending', next_attempt_at = now(), replayed_at = now(),
    window_started_at = now(), attempts_before_replay = e.attempts, out_of_band = e.out_of_band or e.status <> 'pending',
    waiting_behind = case when e.status = 'pending' then e.waiting_behind
      else e.ordering_key is not null and (${earlierPicked} or exists (
        select 1 from webhook_events a
        where a.company_id = ${companyId} and a.ordering_key = e.ordering_key and a.status = 'pending' and a.out_of_band
          and a.seq < e.seq)) end,
    locked_until = null, claimed_by = null, locked_by = null, updated_at = now()`;
}

/** Which settled deliveries a bulk replay takes: of one status, optionally one type, created since a moment. */
export interface BulkReplayFilter {
  status: 'dead' | 'skipped';
  /** Only these types (the company's subscribed ones); empty = any. */
  types: readonly string[];
  since?: Date | undefined;
}

/**
 * Replays, as replayDelivery does each, up to `limit` of the company's settled deliveries matching `filter`, oldest
 * first (test events never). Returns how many, and whether more match (the next call takes them): a receiver back
 * from a long outage gets its dead events in bounded batches, not one API request each. The replayed events of one
 * key are delivered in their original order (by seq), this batch's after any of the key replayed before.
 */
export async function replayDeliveries(sql: RootSql, companyId: string, filter: BulkReplayFilter, limit: number): Promise<{ replayed: number; more: boolean }> {
  const matching = (db: RootSql) => db`company_id = ${companyId} and status = ${filter.status} and type <> 'webhook.test'
    ${filter.types.length ? db`and type in ${db(filter.types as string[])}` : db``}
    ${filter.since ? db`and created_at >= ${filter.since}` : db``}`;
  return inReplayTurn(sql, companyId, async (tx) => {
    // Settled events are held by no claim; one a concurrent single replay has locked is left to it.
    const rows = await tx<{ id: string }[]>`
      with locked as (
        select id, ordering_key, seq from webhook_events where ${matching(tx)} order by seq limit ${limit} for update skip locked),
      p as (
        select l.id, row_number() over (partition by l.ordering_key order by l.seq) > 1 as earlier_picked from locked l)
      update webhook_events e set ${replayed(tx, companyId, tx`p.earlier_picked`)}
      from p where e.id = p.id
      returning e.id`;
    const [left] = await tx<{ more: boolean }[]>`select exists (select 1 from webhook_events where ${matching(tx)}) as more`;
    return { replayed: rows.length, more: left?.more ?? false };
  });
}
