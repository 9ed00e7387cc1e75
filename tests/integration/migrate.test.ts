import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate, migrationsCurrent } from '../../src/db/migrate.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';

describe('migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDb({ migrate: false });
  });
  afterAll(async () => db.close());

  it('apply on an empty database, then re-run as a no-op', async () => {
    const all = await loadMigrations();
    expect(await migrate(db.sql)).toEqual({ applied: all.map((m) => m.name) });
    expect(await migrationsCurrent(db.sql)).toBe(true);
    expect(await migrate(db.sql)).toEqual({ applied: [] });
    const rows = await db.sql`select count(*)::int as n from schema_migrations`;
    expect(rows[0]!.n).toBe(all.length);
  });

  it('creates the foundation tables', async () => {
    const rows = await db.sql<{ table_name: string }[]>`
      select table_name from information_schema.tables where table_schema = 'public'`;
    const names = rows.map((r) => r.table_name);
    for (const t of ['companies', 'api_keys', 'bots', 'knowledge_documents', 'calls', 'outcomes', 'jobs']) {
      expect(names).toContain(t);
    }
  });

  it('two instances migrating an empty database at once apply each migration exactly once', async () => {
    // On a real server these are two pooled connections racing; the advisory lock serialises them.
    const fresh = await createTestDb({ migrate: false });
    try {
      const all = (await loadMigrations()).map((m) => m.name);
      const [a, b] = await Promise.all([migrate(fresh.sql), migrate(fresh.sql)]);
      expect([...a.applied, ...b.applied].sort()).toEqual([...all].sort());
      const rows = await fresh.sql`select count(*)::int as n from schema_migrations`;
      expect(rows[0]!.n).toBe(all.length);
    } finally {
      await fresh.close();
    }
  });
});
