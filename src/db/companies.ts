import type { Db, RootSql } from './sql.js';

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
 * changes nothing. A change also moves `webhook_settings_version` on: an attempt under way as it is saved, made under
 * the settings before, does not set its own retry when it fails but is due at once too (outbox.ts settledAs).
 *
 * Two statements in one transaction, the company row first: an attempt settling at that moment reads the version
 * FOR SHARE, so either it waits for this commit and sees the new version, or this waits for its settlement and the
 * second statement, with a snapshot taken after, finds its retry time and makes it due.
 */
export async function updateWebhookSettings(
  sql: RootSql,
  id: string,
  settings: { url?: string | null; events?: string[] },
): Promise<CompanyRow | undefined> {
  const url = settings.url === undefined ? sql`webhook_url` : sql`${settings.url}::text`;
  const events = settings.events === undefined ? sql`webhook_events` : sql`${settings.events}::text[]`;
  return sql.begin(async (tx) => {
    // In SET every column is the row as it was: the version moves only when the URL or the events change.
    const [row] = await tx<(CompanyRow & { webhook_settings_version: string; changed: boolean })[]>`
      with old as (select webhook_settings_version as version from companies where id = ${id}),
      updated as (
        update companies set
          webhook_settings_version = webhook_settings_version
            + case when webhook_url is distinct from ${url} or webhook_events is distinct from ${events} then 1 else 0 end,
          webhook_url = ${url},
          webhook_events = ${events},
          updated_at = now()
        where id = ${id}
        returning ${tx(PUBLIC_COLUMNS)}, webhook_settings_version)
      select updated.*, updated.webhook_settings_version <> old.version as changed
      from updated, old`;
    if (!row) return undefined;
    const { changed, webhook_settings_version: _version, ...company } = row;
    if (changed) {
      await tx`
        update webhook_events set next_attempt_at = now(), updated_at = now()
        where company_id = ${id} and status = 'pending' and next_attempt_at > now()`;
    }
    return company;
  });
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
