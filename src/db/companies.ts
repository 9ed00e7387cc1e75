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

/** All companies, newest first (created_at desc, id desc: the keyset every such list pages by). */
export async function listCompanies(db: Db, opts: { limit: number; after?: { createdAt: Date; id: string } | undefined }): Promise<CompanyRow[]> {
  return db<CompanyRow[]>`
    select ${db(PUBLIC_COLUMNS)} from companies
    ${opts.after ? db`where (created_at, id) < (${opts.after.createdAt}, ${opts.after.id})` : db``}
    order by created_at desc, id desc limit ${opts.limit}`;
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

/**
 * Sets the webhook URL and/or events. When either changes, the company's pending events waiting out a retry's backoff
 * (up to an hour) are due at once: a fixed URL gets the backlog now, and events no longer sent (URL removed, type
 * unsubscribed) are skipped now (the worker reads the settings at each attempt). Saving the same settings again
 * changes nothing. An attempt under way as the change is saved schedules its own retry as before.
 */
export async function updateWebhookSettings(
  db: Db,
  id: string,
  settings: { url?: string | null; events?: string[] },
): Promise<CompanyRow | undefined> {
  // One statement: `old` reads the row as it was before the update beside it.
  const [row] = await db<CompanyRow[]>`
    with old as (select webhook_url, webhook_events from companies where id = ${id}),
    updated as (
      update companies set
        webhook_url = ${settings.url === undefined ? db`webhook_url` : settings.url},
        webhook_events = ${settings.events === undefined ? db`webhook_events` : settings.events},
        updated_at = now()
      where id = ${id} returning ${db(PUBLIC_COLUMNS)}),
    due as (
      update webhook_events e set next_attempt_at = now(), updated_at = now()
      from old, updated u
      where e.company_id = ${id} and e.status = 'pending' and e.next_attempt_at > now()
        and (old.webhook_url is distinct from u.webhook_url or old.webhook_events is distinct from u.webhook_events)
      returning e.id)
    select ${db(PUBLIC_COLUMNS)} from updated`;
  return row;
}

/** Secrets being rotated out that sign at once, at most (the oldest still in its window goes first). */
export const MAX_PREVIOUS_WEBHOOK_SECRETS = 5;

/**
 * New secret; the one it replaces keeps signing alongside it (every signature is sent) for `overlapSec`, and so
 * does every earlier one still inside its own window — a second rotation (a client retrying one whose answer it
 * lost) must not drop the secret its receiver still verifies with. `previousExpiresAt`: when the last of the old
 * secrets stops signing.
 */
export async function rotateWebhookSecret(db: Db, id: string, secret: string, overlapSec: number): Promise<{ secret: string; previousExpiresAt: Date } | undefined> {
  const [row] = await db<{ expires_at: Date }[]>`
    update companies set
      webhook_previous_secrets = (
        select coalesce(jsonb_agg(p.entry order by p.expires_at desc), '[]'::jsonb)
        from (
          select e.entry, e.expires_at from (
            select jsonb_build_object('secret', webhook_secret, 'expires_at', now() + ${overlapSec} * interval '1 second') as entry,
                   now() + ${overlapSec} * interval '1 second' as expires_at
            union all
            select x, (x->>'expires_at')::timestamptz from jsonb_array_elements(webhook_previous_secrets) as x
          ) e
          where e.expires_at > now()
          order by e.expires_at desc
          limit ${MAX_PREVIOUS_WEBHOOK_SECRETS}
        ) p),
      webhook_secret = ${secret},
      updated_at = now()
    where id = ${id}
    returning (webhook_previous_secrets->0->>'expires_at')::timestamptz as expires_at`;
  return row ? { secret, previousExpiresAt: row.expires_at } : undefined;
}

/** The current secret, and when the last secret being rotated out stops signing (null: none is). */
export async function getWebhookSecret(db: Db, id: string): Promise<{ secret: string; previousExpiresAt: Date | null } | undefined> {
  const [row] = await db<{ webhook_secret: string; expires_at: Date | null }[]>`
    select webhook_secret,
      (select max((x->>'expires_at')::timestamptz) from jsonb_array_elements(webhook_previous_secrets) x
       where (x->>'expires_at')::timestamptz > now()) as expires_at
    from companies where id = ${id}`;
  return row ? { secret: row.webhook_secret, previousExpiresAt: row.expires_at } : undefined;
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
