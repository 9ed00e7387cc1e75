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

  it('keep what a data exception refused out of its message and stack (SQLSTATE class 22 ends them with the value)', async () => {
    const lines: string[] = [];
    const log = createLogger('info', new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }));
    const refused = [
      await db.sql`select ${'+15551234567'}::int`.catch((e: unknown) => e), // invalid input syntax for type integer
      await db.sql`select ${'call me at 555 0199'}::uuid`.catch((e: unknown) => e), // invalid input syntax for type uuid
    ];
    for (const err of refused) {
      expect((err as Error).message).toMatch(/5551234567|555 0199/); // what PostgreSQL said
      expect((err as { code?: string }).code).toMatch(/^22/);
      log.error({ err }, 'a query failed');
    }
    const out = lines.join('');
    expect(out).not.toMatch(/5551234567|555 0199/);
    const [first] = lines.map((l) => JSON.parse(l) as { err: { message: string; stack: string; code: string } });
    // PostgreSQL says 'value "…" is out of range for type integer', PGlite's parser 'invalid input syntax …: "…"'.
    expect(first!.err.message).toMatch(/"\[redacted\]"/);
    expect(first!.err.message).toMatch(/integer/);
    expect(first!.err.stack).toContain(first!.err.message);
  });
});
