/** Row-level access to bookings and their history. Every query is scoped by company id. */
import type { CountryCode } from 'libphonenumber-js';
import type { Db } from '../db/sql.js';
import { defaultRegionFor } from './phone.js';
import { LIVE_STATUSES, type Actor, type BookingStatus } from './state-machine.js';
import type { BusyInterval } from './availability.js';
import { isUuid } from '../util/uuid.js';

/** What a booking row holds besides its id, times and timestamps: written by insertBooking, read back by toBooking. */
interface BookingFields {
  companyId: string;
  botId: string;
  callId: string | null;
  serviceId: string;
  serviceName: string;
  resourceId: string;
  resourceName: string;
  status: BookingStatus;
  customerName: string | null;
  customerPhone: string | null;
  price: number | null;
  currency: string | null;
  notes: string | null;
}

export interface Booking extends BookingFields {
  id: string;
  start: string;
  end: string;
  holdExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface BookingEvent {
  id: number;
  fromStatus: BookingStatus | null;
  toStatus: BookingStatus;
  actor: Actor;
  reason: string | null;
  details: Record<string, unknown>;
  createdAt: string;
}

type Row = Record<string, unknown>;
const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();

export function toBooking(r: Row): Booking {
  return {
    id: r.id as string,
    companyId: r.company_id as string,
    botId: r.bot_id as string,
    callId: (r.call_id as string | null) ?? null,
    serviceId: r.service_id as string,
    serviceName: r.service_name as string,
    resourceId: r.resource_id as string,
    resourceName: r.resource_name as string,
    start: iso(r.starts_at),
    end: iso(r.ends_at),
    status: r.status as BookingStatus,
    holdExpiresAt: r.hold_expires_at ? iso(r.hold_expires_at) : null,
    customerName: (r.customer_name as string | null) ?? null,
    customerPhone: (r.customer_phone as string | null) ?? null,
    price: r.price === null || r.price === undefined ? null : Number(r.price),
    currency: (r.currency as string | null) ?? null,
    notes: (r.notes as string | null) ?? null,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

export interface NewBookingRow extends BookingFields {
  start: Date;
  end: Date;
  holdExpiresAt: Date | null;
}

export async function insertBooking(db: Db, b: NewBookingRow): Promise<Booking> {
  const [row] = await db`
    insert into bookings (company_id, bot_id, call_id, service_id, service_name, resource_id, resource_name,
      starts_at, ends_at, status, hold_expires_at, customer_name, customer_phone, price, currency, notes)
    values (${b.companyId}, ${b.botId}, ${b.callId}, ${b.serviceId}, ${b.serviceName}, ${b.resourceId},
      ${b.resourceName}, ${b.start}, ${b.end}, ${b.status}, ${b.holdExpiresAt}, ${b.customerName},
      ${b.customerPhone}, ${b.price}, ${b.currency}, ${b.notes})
    returning *`;
  return toBooking(row!);
}

export async function getBooking(db: Db, companyId: string, id: string, forUpdate = false): Promise<Booking | null> {
  if (!isUuid(id)) return null;
  const rows = forUpdate
    ? await db`select * from bookings where company_id = ${companyId} and id = ${id} for update`
    : await db`select * from bookings where company_id = ${companyId} and id = ${id}`;
  return rows[0] ? toBooking(rows[0]) : null;
}

export async function recordEvent(
  db: Db,
  e: { bookingId: string; companyId: string; from: BookingStatus | null; to: BookingStatus; actor: Actor; reason?: string | null; details?: Record<string, unknown> },
): Promise<void> {
  await db`
    insert into booking_events (booking_id, company_id, from_status, to_status, actor, reason, details)
    values (${e.bookingId}, ${e.companyId}, ${e.from}, ${e.to}, ${e.actor}, ${e.reason ?? null}, ${db.json((e.details ?? {}) as never)})`;
}

export async function listEvents(db: Db, companyId: string, bookingId: string): Promise<BookingEvent[]> {
  const rows = await db`
    select * from booking_events where company_id = ${companyId} and booking_id = ${bookingId} order by id`;
  return rows.map((r) => ({
    id: Number(r.id),
    fromStatus: (r.from_status as BookingStatus | null) ?? null,
    toStatus: r.to_status as BookingStatus,
    actor: r.actor as Actor,
    reason: (r.reason as string | null) ?? null,
    details: (r.details as Record<string, unknown>) ?? {},
    createdAt: iso(r.created_at),
  }));
}

/**
 * Marks lapsed holds 'expired' so the exclusion constraint stops counting them. Scoped to one company when
 * given (the booking path), or all companies (the periodic cleanup). Returns the number expired. Rows another
 * transaction has locked are skipped (it is expiring or changing them itself): concurrent callers never wait on
 * each other's rows, so they cannot deadlock here.
 */
export function expireHolds(db: Db, now: Date, companyId?: string): Promise<number> {
  return endHolds(db, now, db`and hold_expires_at <= ${now} ${companyId ? db`and company_id = ${companyId}` : db``}`, 'hold expired');
}

/**
 * Ends a call's holds (all, or all but `exceptId`): when the call ends — a caller who hung up before confirming
 * leaves the time free for the next caller at once, not when the hold lapses minutes later ('expired') — or when
 * the call holds another time or leaves the booking ('cancelled'). No webhook: a hold was never a booking.
 */
export function endCallHolds(
  db: Db,
  q: { callId: string; companyId?: string; exceptId?: string },
  end: { to: 'expired' | 'cancelled'; reason: string },
): Promise<number> {
  return endHolds(db, new Date(), db`and call_id = ${q.callId}
    ${q.companyId ? db`and company_id = ${q.companyId}` : db``} ${q.exceptId ? db`and id <> ${q.exceptId}` : db``}`, end.reason, end.to);
}

async function endHolds(db: Db, now: Date, which: ReturnType<Db>, reason: string, to: 'expired' | 'cancelled' = 'expired'): Promise<number> {
  const rows = await db`
    with lapsed as (
      select id from bookings
      where status = 'held' ${which}
      order by id
      for update skip locked),
    ended as (
      update bookings b set status = ${to}, hold_expires_at = case when ${to} = 'expired' then b.hold_expires_at end, updated_at = ${now}
      from lapsed where b.id = lapsed.id
      returning b.id, b.company_id)
    insert into booking_events (booking_id, company_id, from_status, to_status, actor, reason)
    select id, company_id, 'held', ${to}, 'system', ${reason} from ended
    returning booking_id`;
  return rows.length;
}

/** Time taken on these resources in [from, to): live bookings and holds not yet lapsed at `now`. */
export async function busyIntervals(
  db: Db,
  q: { companyId: string; resourceIds: string[]; from: Date; to: Date; now: Date; excludeBookingId?: string },
): Promise<BusyInterval[]> {
  if (q.resourceIds.length === 0) return [];
  const rows = await db`
    select resource_id, starts_at, ends_at from bookings
    where company_id = ${q.companyId}
      and resource_id = any(${q.resourceIds})
      and status = any(${LIVE_STATUSES as string[]})
      and not (status = 'held' and hold_expires_at <= ${q.now})
      and starts_at < ${q.to} and ends_at > ${q.from}
      and id <> ${q.excludeBookingId ?? '00000000-0000-0000-0000-000000000000'}`;
  return rows.map((r) => ({
    resourceId: r.resource_id as string,
    start: (r.starts_at as Date).getTime(),
    end: (r.ends_at as Date).getTime(),
  }));
}

export interface BookingFilter {
  botId?: string;
  status?: BookingStatus;
  from?: Date;
  to?: Date;
  /** The customer's number in any of these forms (E.164: one per region it could be read in). */
  phones?: string[];
  callId?: string;
  /** Id of the last booking of the previous page. */
  /** The last booking of the previous page (created_at, id). */
  after?: { createdAt: Date; id: string } | undefined;
  limit: number;
}

/**
 * The regions a company's bots read national numbers in (each bot's booking `defaultRegion`, else its language's):
 * a number given without a country code, to find bookings, is read in each.
 */
export async function bookingRegions(db: Db, companyId: string, botId?: string): Promise<CountryCode[]> {
  const rows = await db<{ language: 'en' | 'ru'; region: string | null }[]>`
    select distinct language, config->'booking'->>'defaultRegion' as region from bots
    where company_id = ${companyId} ${botId ? db`and id = ${botId}` : db``}`;
  return [...new Set(rows.map((r) => defaultRegionFor(r.language, r.region ?? undefined)))];
}

/** Newest first; keyset pagination on (created_at, id). */
export async function listBookings(db: Db, companyId: string, f: BookingFilter): Promise<Booking[]> {
  const rows = await db`
    select * from bookings b
    where company_id = ${companyId}
      ${f.botId ? db`and bot_id = ${f.botId}` : db``}
      ${f.status ? db`and status = ${f.status}` : db``}
      ${f.from ? db`and starts_at >= ${f.from}` : db``}
      ${f.to ? db`and starts_at < ${f.to}` : db``}
      ${f.phones ? db`and customer_phone = any(${f.phones})` : db``}
      ${f.callId ? db`and call_id = ${f.callId}` : db``}
      ${f.after ? db`and (created_at, id) < (${f.after.createdAt}, ${f.after.id})` : db``}
    order by created_at desc, id desc
    limit ${f.limit}`;
  return rows.map(toBooking);
}

