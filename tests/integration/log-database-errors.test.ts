/**
 * A database error logged with its `err` carries no row values: PostgreSQL's `detail` echoes the failing row
 * ("Failing row contains (…)") or the duplicate key, which hold callers' numbers and words. The code, constraint and
 * table stay, so the line still says what failed.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';

describe('database errors in the log', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDb({ migrate: false });
    await db.sql`create table logged_turns (phone text unique, words text check (length(words) < 5))`;
    await db.sql`insert into logged_turns values ('+15551234567', 'hi')`;
  });
  afterAll(async () => db?.close());

  it('keep what failed, never the row it failed on', async () => {
    const lines: string[] = [];
    const log = createLogger('info', new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }));
    const failures = await Promise.all([
      db.sql`insert into logged_turns values ('+15551234567', 'hi')`.catch((e: unknown) => e), // duplicate key
      db.sql`insert into logged_turns values ('+15559876543', 'my card is 4111')`.catch((e: unknown) => e), // check
    ]);
    for (const err of failures) {
      expect((err as { detail?: string }).detail).toMatch(/5551234567|5559876543/); // what PostgreSQL said
      log.error({ err }, 'a write failed');
    }
    const out = lines.join('');
    expect(out).not.toMatch(/5551234567|5559876543|my card/);
    const [duplicate, check] = lines.map((l) => JSON.parse(l) as { err: Record<string, unknown> });
    expect(duplicate!.err).toMatchObject({ code: '23505', constraint_name: 'logged_turns_phone_key', detail: '[redacted]' });
    expect(check!.err).toMatchObject({ code: '23514', table_name: 'logged_turns' });
  });
});
