/**
 * API keys: `pk_<8 hex prefix>_<43 chars base64url secret>`. Only the sha256 of the whole key is stored; the
 * prefix finds the row. Keys carry 256 bits of randomness, so a fast hash is enough (nothing to brute-force).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { insertApiKey, type ApiKeyRow } from '../db/api-keys.js';
import type { Db } from '../db/sql.js';

export interface NewKey {
  key: string;
  prefix: string;
  hash: string;
}

export function generateApiKey(): NewKey {
  const prefix = `pk_${randomBytes(4).toString('hex')}`;
  const key = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, hash: hashKey(key) };
}

/** New keys tried before giving up: with 2^32 prefixes, two collisions in a row mean something else is wrong. */
const PREFIX_TRIES = 5;

/**
 * Makes and stores a new key for the company; the row and the key (shown once). The server draws the key, so a
 * prefix another key already has (32 bits: likely somewhere among ~77,000 keys) is its own problem, not the
 * caller's: it draws again rather than answering 409.
 */
export async function issueApiKey(
  db: Db,
  fields: { companyId: string; name: string; scopes: string[]; expiresAt: Date | null },
  generate: () => NewKey = generateApiKey,
): Promise<{ row: ApiKeyRow; key: string }> {
  for (let i = 0; i < PREFIX_TRIES; i++) {
    const k = generate();
    const row = await insertApiKey(db, { ...fields, prefix: k.prefix, hash: k.hash });
    if (row) return { row, key: k.key };
  }
  throw new Error(`no free API key prefix in ${PREFIX_TRIES} draws`);
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The prefix of a presented key, or null if it is not shaped like one of ours. */
export function prefixOf(key: string): string | null {
  const m = /^(pk_[0-9a-f]{8})_[A-Za-z0-9_-]{43}$/.exec(key);
  return m ? m[1]! : null;
}

export function safeEqualHex(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export function safeEqualString(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
