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
  /** Counts the changes of the URL and the events (migrations/0460): which settings an attempt went out under. */
  settingsVersion: number;
}

type WebhookRow = { id: string; webhook_url: string | null; webhook_secret: string; webhook_previous_secrets: { secret: string; expires_at: string }[]; webhook_events: string[]; webhook_settings_version: string | number };

/** The webhook settings of each company given that exists, by id: one query for a batch of deliveries. */
export async function loadCompanyWebhooks(db: Db, companyIds: readonly string[]): Promise<Map<string, CompanyWebhook>> {
  const out = new Map<string, CompanyWebhook>();
  if (companyIds.length === 0) return out;
  const rows = await db<WebhookRow[]>`
    select id, webhook_url, webhook_secret, webhook_previous_secrets, webhook_events, webhook_settings_version
    from companies where id in ${db([...new Set(companyIds)])}`;
  for (const row of rows) {
    out.set(row.id, {
      url: row.webhook_url,
      secret: row.webhook_secret,
      previousSecrets: row.webhook_previous_secrets.map((p) => ({ secret: p.secret, expiresAt: new Date(p.expires_at) })),
      events: row.webhook_events,
      settingsVersion: Number(row.webhook_settings_version),
    });
  }
  return out;
}

export async function loadCompanyWebhook(db: Db, companyId: string): Promise<CompanyWebhook | null> {
  return (await loadCompanyWebhooks(db, [companyId])).get(companyId) ?? null;
}

/** The current secret, plus every previous one while its overlap window lasts. */
export function signingSecrets(company: CompanyWebhook, now = new Date()): string[] {
  return [company.secret, ...company.previousSecrets.filter((p) => p.expiresAt > now).map((p) => p.secret)];
}

export function wantsEvent(company: CompanyWebhook, type: string): boolean {
  return company.events.length === 0 || company.events.includes(type);
}

/**
 * Why an event of `type` (without one: of any type it wants) would not be sent to this company now (the worker then
 * marks it skipped), or null when it would: the one rule for the worker's skip and for a replay refused up front
 * (rather than accepted, then skipped).
 */
export function notSentBecause(company: CompanyWebhook | null, type?: string): string | null {
  if (!company?.url) return 'no webhook URL configured';
  if (type !== undefined && !wantsEvent(company, type)) return 'event type no longer subscribed';
  return null;
}
