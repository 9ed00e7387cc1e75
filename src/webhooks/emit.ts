/**
 * Records a webhook event in the outbox, in the caller's transaction, so the event exists exactly when the
 * change that caused it commits. (Placeholder until the webhooks module lands; the signature is the contract.)
 */
import type { Db } from '../db/sql.js';

export type WebhookEventType =
  | 'call.started'
  | 'call.ended'
  | 'call.analyzed'
  | 'booking.created'
  | 'booking.updated'
  | 'booking.cancelled'
  | 'knowledge.ready'
  | 'knowledge.failed';

export interface EmitEvent {
  companyId: string;
  type: WebhookEventType;
  /** The event body's `data`: ids the receiver can fetch through the API, plus a summary. */
  data: Record<string, unknown>;
  /** Events with the same key are delivered in order (e.g. a call id). */
  orderingKey?: string;
}

export async function emitEvent(_db: Db, _event: EmitEvent): Promise<void> {
  // Replaced by the webhooks module.
}
