import type { Db } from './sql.js';

export interface ApiKeyRow {
  id: string;
  company_id: string;
  name: string;
  prefix: string;
  scopes: string[];
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
}

const PUBLIC_COLUMNS = ['id', 'company_id', 'name', 'prefix', 'scopes', 'expires_at', 'last_used_at', 'revoked_at', 'created_at'] as const;

/** Stores a key; null when its prefix is taken (the prefix finds the row, so it is unique): nothing is stored. */
export async function insertApiKey(
  db: Db,
  key: { companyId: string; name: string; prefix: string; hash: string; scopes: string[]; expiresAt: Date | null },
): Promise<ApiKeyRow | null> {
  // No unique violation: inside a transaction (a company and its first key) it would abort the transaction.
  const [row] = await db<ApiKeyRow[]>`
    insert into api_keys (company_id, name, prefix, key_hash, scopes, expires_at)
    values (${key.companyId}, ${key.name}, ${key.prefix}, ${key.hash}, ${key.scopes}, ${key.expiresAt})
    on conflict (prefix) do nothing
    returning ${db(PUBLIC_COLUMNS)}`;
  return row ?? null;
}

/** A page of the company's keys, newest first; `after` is the last row of the previous page. */
export async function listApiKeys(db: Db, companyId: string, opts: { limit: number; after?: { createdAt: Date; id: string } }): Promise<ApiKeyRow[]> {
  return db<ApiKeyRow[]>`
    select ${db(PUBLIC_COLUMNS)} from api_keys where company_id = ${companyId}
    ${opts.after ? db`and (created_at, id) < (${opts.after.createdAt}, ${opts.after.id})` : db``}
    order by created_at desc, id desc limit ${opts.limit}`;
}

export async function getApiKey(db: Db, companyId: string, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db<ApiKeyRow[]>`select ${db(PUBLIC_COLUMNS)} from api_keys where id = ${id} and company_id = ${companyId}`;
  return row;
}

export async function revokeApiKey(db: Db, companyId: string, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db<ApiKeyRow[]>`
    update api_keys set revoked_at = coalesce(revoked_at, now())
    where id = ${id} and company_id = ${companyId} returning ${db(PUBLIC_COLUMNS)}`;
  return row;
}

export interface KeyForAuth {
  id: string;
  company_id: string;
  key_hash: string;
  scopes: string[];
  usable: boolean;
}

/** The key row behind a prefix, with whether it may be used now (not revoked, not expired, company active). */
export async function findKeyByPrefix(db: Db, prefix: string): Promise<KeyForAuth | undefined> {
  const [row] = await db<KeyForAuth[]>`
    select k.id, k.company_id, k.key_hash, k.scopes,
      (k.revoked_at is null and (k.expires_at is null or k.expires_at > now()) and c.is_active) as usable
    from api_keys k join companies c on c.id = k.company_id
    where k.prefix = ${prefix}`;
  return row;
}

export async function touchApiKey(db: Db, id: string): Promise<void> {
  // At most one write a minute per key: last_used_at is for humans, not an audit log.
  await db`update api_keys set last_used_at = now()
    where id = ${id} and (last_used_at is null or last_used_at < now() - interval '1 minute')`;
}
