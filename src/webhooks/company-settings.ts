/** A company's webhook settings as the deliverer needs them, and which secrets sign right now. */
import type { Db } from '../db/sql.js';

export interface CompanyWebhook {
  url: string | null;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
  events: string[];
}

export async function loadCompanyWebhook(db: Db, companyId: string): Promise<CompanyWebhook | null> {
  const [row] = await db<{ webhook_url: string | null; webhook_secret: string; webhook_previous_secret: string | null; webhook_previous_secret_expires_at: Date | null; webhook_events: string[] }[]>`
    select webhook_url, webhook_secret, webhook_previous_secret, webhook_previous_secret_expires_at, webhook_events
    from companies where id = ${companyId}`;
  if (!row) return null;
  return {
    url: row.webhook_url,
    secret: row.webhook_secret,
    previousSecret: row.webhook_previous_secret,
    previousSecretExpiresAt: row.webhook_previous_secret_expires_at,
    events: row.webhook_events,
  };
}

/** The current secret, plus the previous one while its overlap window lasts. */
export function signingSecrets(company: CompanyWebhook, now = new Date()): string[] {
  const out = [company.secret];
  if (company.previousSecret && company.previousSecretExpiresAt && company.previousSecretExpiresAt > now) out.push(company.previousSecret);
  return out;
}

export function wantsEvent(company: CompanyWebhook, type: string): boolean {
  return company.events.length === 0 || company.events.includes(type);
}
