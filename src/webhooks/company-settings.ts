/** A company's webhook settings as the deliverer needs them, and which secrets sign right now. */
import type { Db } from '../db/sql.js';

export interface PreviousSecret {
  secret: string;
  expiresAt: Date;
}

export interface CompanyWebhook {
  url: string | null;
  secret: string;
  /** Secrets being rotated out, each signing until its expiry. */
  previousSecrets: PreviousSecret[];
  events: string[];
}

export async function loadCompanyWebhook(db: Db, companyId: string): Promise<CompanyWebhook | null> {
  const [row] = await db<{ webhook_url: string | null; webhook_secret: string; webhook_previous_secrets: { secret: string; expires_at: string }[]; webhook_events: string[] }[]>`
    select webhook_url, webhook_secret, webhook_previous_secrets, webhook_events
    from companies where id = ${companyId}`;
  if (!row) return null;
  return {
    url: row.webhook_url,
    secret: row.webhook_secret,
    previousSecrets: row.webhook_previous_secrets.map((p) => ({ secret: p.secret, expiresAt: new Date(p.expires_at) })),
    events: row.webhook_events,
  };
}

/** The current secret, plus every previous one while its overlap window lasts. */
export function signingSecrets(company: CompanyWebhook, now = new Date()): string[] {
  return [company.secret, ...company.previousSecrets.filter((p) => p.expiresAt > now).map((p) => p.secret)];
}

export function wantsEvent(company: CompanyWebhook, type: string): boolean {
  return company.events.length === 0 || company.events.includes(type);
}
