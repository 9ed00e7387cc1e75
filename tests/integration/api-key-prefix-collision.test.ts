/**
 * The server draws API keys, so a key whose 32-bit prefix another key already has is the server's problem: it
 * draws again (a few times) instead of answering 409 — also inside the transaction that creates a company and its
 * first key, which a unique violation would have aborted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashKey, issueApiKey, type NewKey } from '../../src/api/keys.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';

/** Keys with the given prefixes, in turn (the secret part random), then fresh ones. */
function drawing(...prefixes: string[]): () => NewKey {
  const queue = [...prefixes];
  return () => {
    const fresh = generateApiKey();
    const prefix = queue.shift();
    if (!prefix) return fresh;
    const key = `${prefix}${fresh.key.slice(fresh.prefix.length)}`;
    return { key, prefix, hash: hashKey(key) };
  };
}

describe('an API key whose prefix is taken', () => {
  let db: TestDatabase;
  let companyId: string;
  const fields = () => ({ companyId, name: 'ci', scopes: ['calls:read'], expiresAt: null });
  beforeAll(async () => {
    db = await createTestDb();
    companyId = (await db.sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Keys', 'whsec_test') returning id`)[0]!.id;
    await issueApiKey(db.sql, fields(), drawing('pk_0000aaaa', 'pk_0000bbbb'));
  });
  afterAll(async () => db?.close());

  it('is drawn again: the key issued has a free prefix, and the key that held it is untouched', async () => {
    const { row, key } = await issueApiKey(db.sql, fields(), drawing('pk_0000aaaa'));
    expect(row.prefix).not.toBe('pk_0000aaaa');
    expect(key.startsWith(`${row.prefix}_`)).toBe(true);
    const held = await db.sql`select count(*)::int as n from api_keys where prefix = 'pk_0000aaaa'`;
    expect(held[0]!.n).toBe(1);
  });

  it('is drawn again inside a transaction, which goes on to commit', async () => {
    const issued = await db.sql.begin(async (tx) => {
      const first = await issueApiKey(tx, fields(), drawing('pk_0000aaaa', 'pk_0000bbbb', 'pk_0000aaaa'));
      await tx`update companies set name = 'Keys, renamed' where id = ${companyId}`;
      return first;
    });
    expect((await db.sql`select name from companies where id = ${companyId}`)[0]!.name).toBe('Keys, renamed');
    expect((await db.sql`select 1 from api_keys where id = ${issued.row.id}`).length).toBe(1);
  });

  it('gives up with an error after five taken prefixes in a row (something else is wrong)', async () => {
    await expect(issueApiKey(db.sql, fields(), drawing(...Array<string>(5).fill('pk_0000aaaa')))).rejects.toThrow(/no free API key prefix/);
  });
});
