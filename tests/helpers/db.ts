/**
 * A fresh, migrated database for one test file. With DATABASE_URL set, a new database is created on that
 * server (and dropped afterwards); otherwise an in-memory PGlite. The same suite runs on both.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { openDatabase, type Database } from '../../src/db/connect.js';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate.js';

export interface TestDatabase extends Database {
  /** Connection string for this database (real server only), to open more connections or servers on it. */
  url?: string;
}

export const usingRealPostgres = (): boolean => Boolean(process.env.DATABASE_URL);
const TEST_QUERY_DEADLINE_MS = 60_000;

export async function createTestDb(options: { migrate?: boolean; guard?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  let db: TestDatabase;
  if (adminUrl) {
    const name = `parley_test_${randomBytes(6).toString('hex')}`;
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    // The production query deadline (5 s) counts the wait for a pooled connection: on a shared test machine a
    // file's burst of parallel queries can wait that long, so tests get a long one (the stall tests set their own).
    const inner = await openDatabase({ databaseUrl: url.toString(), dataDir: 'memory://', poolMax: 10, queryDeadlineMs: TEST_QUERY_DEADLINE_MS, ...(options.guard === false ? { guard: false } : {}) });
    db = {
      ...inner,
      url: url.toString(),
      close: async () => {
        await inner.close();
        const a = postgres(adminUrl, { max: 1, onnotice: () => {} });
        await a.unsafe(`drop database if exists ${name} with (force)`);
        await a.end();
      },
    };
  } else {
    db = await openDatabase({ dataDir: 'memory://', ...(options.guard === false ? { guard: false } : {}) });
  }
  if (options.migrate !== false) await migrate(db.sql);
  return db;
}

/** Applies the migrations whose file names sort before `version` (e.g. '0160'): a database as an older release left it. */
export async function migrateBefore(db: TestDatabase, version: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-migrations-'));
  try {
    for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => f < version)) cpSync(join(MIGRATIONS_DIR, f), join(dir, f));
    await migrate(db.sql, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
