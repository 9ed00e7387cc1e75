/**
 * Ids of the company's resources that a request names outside its path — a list's filter (`?bot_id=`), a body's
 * field (`"bot_id"`), an audit actor. An id that is not one of the company's answers 404, as a resource of another
 * company always does (README), the same for an id nobody has: a foreign or mistyped id is never read as "none
 * found" (200 with an empty list) nor as a malformed request (400).
 */
import type { Db } from '../db/sql.js';
import { notFound } from '../errors.js';

/** Each kind of resource that is named by id: its noun in the 404, and whether the company has that id. */
const OWNED = {
  bot: { noun: 'Bot', has: (db: Db, companyId: string, id: string) => db`select 1 from bots where id = ${id} and company_id = ${companyId}` },
  call: { noun: 'Call', has: (db: Db, companyId: string, id: string) => db`select 1 from calls where id = ${id} and company_id = ${companyId}` },
  apiKey: { noun: 'API key', has: (db: Db, companyId: string, id: string) => db`select 1 from api_keys where id = ${id} and company_id = ${companyId}` },
} as const;

export type OwnedKind = keyof typeof OWNED;

/** Throws 404 unless `id` (a uuid the schema checked) is one of the company's `kind`; nothing when no id is given. */
export async function requireOwned(db: Db, companyId: string, kind: OwnedKind, id: string | undefined): Promise<void> {
  if (id === undefined) return;
  const { noun, has } = OWNED[kind];
  if ((await has(db, companyId, id)).length === 0) throw notFound(noun);
}
