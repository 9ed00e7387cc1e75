/**
 * Records a webhook event in the outbox, in the caller's transaction, so the event exists exactly when the
 * change that caused it commits (and vanishes if it rolls back). Delivery is the worker's job (worker.ts).
 *
 * Policy: an event is recorded only for a company that has a webhook URL and wants the type (webhook_events
 * empty = all). Events emitted while no URL is configured are not delivered later; the API stays the source
 * of truth for what happened.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/sql.js';

/**
 * Every type a company can subscribe to (for validating webhook_events in the settings route); docs/webhooks.md's
 * table of events lists exactly these and TEST_EVENT_TYPE (tests/unit/webhook-catalogue-documented.test.ts).
 */
export const WEBHOOK_EVENT_TYPES = [
  'call.started',
  'call.ended',
  'call.analyzed',
  'booking.created',
  'booking.updated',
  'booking.cancelled',
  'knowledge.ready',
  'knowledge.failed',
  'campaign.status_changed',
  'campaign.attempt.ended',
  'campaign.contact.skipped',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Sent only by POST /v1/webhooks/test; never subscribed to, never retried. */
export const TEST_EVENT_TYPE = 'webhook.test';

export const EVENT_VERSION = 1;

export interface EmitEvent {
  companyId: string;
  type: WebhookEventType;
  /** The event body's `data`: ids the receiver can fetch through the API, plus a summary. */
  data: Record<string, unknown>;
  /** Events with the same key are delivered in order (e.g. a call id). */
  orderingKey?: string;
}

export interface EventBody {
  id: string;
  type: string;
  version: number;
  created_at: string;
  company_id: string;
  data: Record<string, unknown>;
}

export function newEventId(): string {
  return `evt_${randomBytes(16).toString('hex')}`;
}

export function eventBody(id: string, type: string, companyId: string, data: Record<string, unknown>, createdAt = new Date()): EventBody {
  return { id, type, version: EVENT_VERSION, created_at: createdAt.toISOString(), company_id: companyId, data };
}

/** Like emitEvent, returning the new event's id, or null when the company does not receive this event. */
export async function recordEvent(db: Db, event: EmitEvent): Promise<string | null> {
  const id = newEventId();
  const body = JSON.stringify(eventBody(id, event.type, event.companyId, event.data));
  if (event.orderingKey) {
    // Events of one key go out in `seq` order (outbox.ts), and seq is taken at insert, not at commit: two writers
    // of one key in concurrent transactions (a campaign's settle batch and a pause) could commit the later seq
    // first, and the worker would send it first. Writers of a key take turns until commit, so seq order is commit
    // order. (Writers that hold several keys take them in key order: see CampaignScheduler.settleEndedAttempts.)
    await db`select pg_advisory_xact_lock(hashtextextended(${`webhook-order:${event.companyId}:${event.orderingKey}`}, 0))`;
  }
  const rows = await db`
    insert into webhook_events (id, company_id, type, ordering_key, body)
    select ${id}, c.id, ${event.type}, ${event.orderingKey ?? null}, ${body}
    from companies c
    where c.id = ${event.companyId} and c.webhook_url is not null
      and (cardinality(c.webhook_events) = 0 or ${event.type} = any(c.webhook_events))
    returning id`;
  return rows.length ? id : null;
}

export async function emitEvent(db: Db, event: EmitEvent): Promise<void> {
  await recordEvent(db, event);
}
