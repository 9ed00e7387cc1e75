/**
 * Phone number ownership. A number belongs to one company (a row here) until it is released; an active bot may
 * only answer a number its company holds — the foreign key bots_number_held_fkey enforces it in the database,
 * so this module decides who holds what and the rest follows. See migrations/0060_phone_number_ownership.sql.
 */
import type { Db, RootSql } from './sql.js';

export interface PhoneNumberRow {
  number: string;
  /** Null once released. */
  company_id: string | null;
  claimed_at: Date | null;
  released_at: Date | null;
  /** The active bot answering the number, if any. */
  active_bot_id: string | null;
}

/** The foreign key that ties an active bot's number to its company's holding (see the migration). */
export const NUMBER_HELD_CONSTRAINT = 'bots_number_held_fkey';

/**
 * The company holds `number` after this: it already did, or the number was free and is now claimed. False when
 * another company holds it. One statement whatever the case (no lookup of the holder), so the refusal takes the
 * same path and time whoever holds the number. Race-safe: the primary key lets exactly one of two companies
 * claiming a free number at once win; the loser waits for the winner's transaction and then finds it held.
 */
export async function claimNumber(db: Db, companyId: string, number: string): Promise<boolean> {
  const rows = await db`
    insert into phone_numbers (number, company_id, claimed_at) values (${number}, ${companyId}, now())
    on conflict (number) do update set
      company_id = excluded.company_id,
      claimed_at = coalesce(phone_numbers.claimed_at, excluded.claimed_at),
      released_at = null
    where phone_numbers.company_id is null or phone_numbers.company_id = excluded.company_id
    returning number`;
  return rows.length === 1;
}

/** Operator assignment: claims a free number for the company; `held_by` when another company holds it. */
export async function assignNumber(db: Db, companyId: string, number: string): Promise<{ ok: true } | { ok: false; heldBy: string }> {
  // A release between the two statements leaves no holder to report: claim again.
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await claimNumber(db, companyId, number)) return { ok: true };
    const [row] = await db<{ company_id: string | null }[]>`select company_id from phone_numbers where number = ${number}`;
    if (row?.company_id) return { ok: false, heldBy: row.company_id };
  }
  throw new Error(`the holder of ${number} kept changing`);
}

export type ReleaseResult =
  | { status: 'released'; row: PhoneNumberRow; detachedBotIds: string[] }
  | { status: 'not_found' }
  | { status: 'in_use'; botIds: string[] };

/**
 * Releases a number. `companyId` limits it to that company's own number (a tenant releasing what it holds; a
 * number it does not hold is not found, whoever holds it). `detachActiveBots`: the operator's release takes the
 * number off the holder's active bots (they stay active without a number); a tenant must do that itself first.
 * Inactive bots keep the old number as history; reactivating one claims the number again only if still free.
 */
export async function releaseNumber(
  sql: RootSql,
  number: string,
  opts: { companyId?: string; detachActiveBots: boolean },
): Promise<ReleaseResult> {
  return sql.begin(async (tx) => {
    const [held] = await tx<{ company_id: string | null }[]>`
      select company_id from phone_numbers
      where number = ${number} ${opts.companyId ? tx`and company_id = ${opts.companyId}` : tx``}
      for update`;
    if (!held) return { status: 'not_found' } as const;
    let detachedBotIds: string[] = [];
    if (held.company_id) {
      const active = await tx<{ id: string }[]>`
        select id from bots where active_phone_number = ${number} and company_id = ${held.company_id} for update`;
      if (active.length && !opts.detachActiveBots) return { status: 'in_use', botIds: active.map((b) => b.id) } as const;
      if (active.length) {
        detachedBotIds = (await tx<{ id: string }[]>`
          update bots set phone_number = null, updated_at = now()
          where active_phone_number = ${number} and company_id = ${held.company_id} returning id`).map((b) => b.id);
      }
      await tx`update phone_numbers set company_id = null, claimed_at = null, released_at = now() where number = ${number}`;
    }
    const row = await getNumber(tx, number);
    return { status: 'released', row: row!, detachedBotIds } as const;
  });
}

export async function getNumber(db: Db, number: string): Promise<PhoneNumberRow | undefined> {
  const [row] = await db<PhoneNumberRow[]>`
    select p.number, p.company_id, p.claimed_at, p.released_at, b.id as active_bot_id
    from phone_numbers p
    left join bots b on b.active_phone_number = p.number and b.company_id = p.company_id
    where p.number = ${number}`;
  return row;
}

/** Numbers in number order, after `cursor`; a company's own (held) numbers, or all of them for the operator. */
export async function listNumbers(
  db: Db,
  opts: { companyId?: string; includeReleased: boolean; limit: number; cursor?: string },
): Promise<PhoneNumberRow[]> {
  return db<PhoneNumberRow[]>`
    select p.number, p.company_id, p.claimed_at, p.released_at, b.id as active_bot_id
    from phone_numbers p
    left join bots b on b.active_phone_number = p.number and b.company_id = p.company_id
    where true
      ${opts.companyId ? db`and p.company_id = ${opts.companyId}` : db``}
      ${opts.includeReleased ? db`` : db`and p.company_id is not null`}
      ${opts.cursor ? db`and p.number > ${opts.cursor}` : db``}
    order by p.number
    limit ${opts.limit}`;
}
