import type { Db } from './sql.js';

export interface CompanyRow {
  id: string;
  name: string;
  webhook_url: string | null;
  webhook_events: string[];
  is_active: boolean;
  created_at: Date;
  updated_at: Date;
}

const PUBLIC_COLUMNS = ['id', 'name', 'webhook_url', 'webhook_events', 'is_active', 'created_at', 'updated_at'] as const;

/** `webhookSecret`: a new signing secret (webhooks/signing.ts generateWebhookSecret). */
export async function insertCompany(db: Db, name: string, webhookSecret: string): Promise<CompanyRow> {
  const [row] = await db<CompanyRow[]>`
    insert into companies (name, webhook_secret) values (${name}, ${webhookSecret})
    returning ${db(PUBLIC_COLUMNS)}`;
  return row!;
}

export async function listCompanies(db: Db, opts: { limit: number; cursor?: string }): Promise<CompanyRow[]> {
  return db<CompanyRow[]>`
    select ${db(PUBLIC_COLUMNS)} from companies
    ${opts.cursor ? db`where id > ${opts.cursor}` : db``}
    order by id limit ${opts.limit}`;
}

export async function getCompany(db: Db, id: string): Promise<CompanyRow | undefined> {
  const [row] = await db<CompanyRow[]>`select ${db(PUBLIC_COLUMNS)} from companies where id = ${id}`;
  return row;
}

export async function setCompanyActive(db: Db, id: string, active: boolean): Promise<CompanyRow | undefined> {
  const [row] = await db<CompanyRow[]>`
    update companies set is_active = ${active}, updated_at = now() where id = ${id} returning ${db(PUBLIC_COLUMNS)}`;
  return row;
}

export async function updateWebhookSettings(
  db: Db,
  id: string,
  settings: { url?: string | null; events?: string[] },
): Promise<CompanyRow | undefined> {
  const [row] = await db<CompanyRow[]>`
    update companies set
      webhook_url = ${settings.url === undefined ? db`webhook_url` : settings.url},
      webhook_events = ${settings.events === undefined ? db`webhook_events` : settings.events},
      updated_at = now()
    where id = ${id} returning ${db(PUBLIC_COLUMNS)}`;
  return row;
}

/**
 * New secret; the old one keeps signing alongside it (both signatures sent) for `overlapSec`, so receivers can
 * roll over without dropping events.
 */
export async function rotateWebhookSecret(db: Db, id: string, secret: string, overlapSec: number): Promise<{ secret: string; previousExpiresAt: Date } | undefined> {
  const [row] = await db<{ webhook_previous_secret_expires_at: Date }[]>`
    update companies set
      webhook_previous_secret = webhook_secret,
      webhook_previous_secret_expires_at = now() + ${overlapSec} * interval '1 second',
      webhook_secret = ${secret},
      updated_at = now()
    where id = ${id} returning webhook_previous_secret_expires_at`;
  return row ? { secret, previousExpiresAt: row.webhook_previous_secret_expires_at } : undefined;
}

export async function getWebhookSecret(db: Db, id: string): Promise<string | undefined> {
  const [row] = await db<{ webhook_secret: string }[]>`select webhook_secret from companies where id = ${id}`;
  return row?.webhook_secret;
}

/** The company's monthly budget (PRICE_CURRENCY; null = none); undefined when there is no such company. */
export async function getMonthlyBudget(db: Db, id: string): Promise<{ monthly_budget: number | null } | undefined> {
  const [row] = await db<{ monthly_budget: number | null }[]>`select monthly_budget::float8 as monthly_budget from companies where id = ${id}`;
  return row;
}

export async function setMonthlyBudget(db: Db, id: string, budget: number | null): Promise<{ monthly_budget: number | null } | undefined> {
  const [row] = await db<{ monthly_budget: number | null }[]>`
    update companies set monthly_budget = ${budget}, updated_at = now() where id = ${id} returning monthly_budget::float8 as monthly_budget`;
  return row;
}
