/**
 * Numbered .sql files in migrations/, applied in order inside one transaction each, recorded in
 * schema_migrations. A transaction-scoped advisory lock makes two instances starting at once safe:
 * the second waits, then finds nothing left to do.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { withQueryDeadline } from './param-guard.js';
import type { RootSql } from './sql.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
const LOCK_KEY = 7_233_151_001; // arbitrary, fixed: "parley migrations"

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const out: Migration[] = [];
  for (const file of files) {
    const sql = await readFile(`${dir}/${file}`, 'utf8');
    const version = Number(file.slice(0, 4));
    if (out.some((m) => m.version === version)) throw new Error(`Two migrations share version ${version}`);
    out.push({ version, name: file.replace(/\.sql$/, ''), sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return out;
}

export async function migrate(database: RootSql, dir = MIGRATIONS_DIR): Promise<{ applied: string[] }> {
  // No query deadline: a migration may rewrite a large table, and a second instance waits on the lock meanwhile.
  const sql = withQueryDeadline(database, null);
  const migrations = await loadMigrations(dir);
  const applied: string[] = [];
  // Under the lock too: two concurrent "create table if not exists" can collide in the catalog.
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${LOCK_KEY})`;
    await tx`create table if not exists schema_migrations (
      version int primary key, name text not null, checksum text not null, applied_at timestamptz not null default now())`;
  });
  for (const m of migrations) {
    await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${LOCK_KEY})`;
      const [done] = await tx`select checksum from schema_migrations where version = ${m.version}`;
      if (done) {
        if (done.checksum !== m.checksum) throw new Error(`Migration ${m.name} changed after it was applied`);
        return;
      }
      await tx.unsafe(m.sql);
      await tx`insert into schema_migrations (version, name, checksum) values (${m.version}, ${m.name}, ${m.checksum})`;
      applied.push(m.name);
    });
  }
  return { applied };
}

/**
 * The migration versions a directory holds, read once per process: the files do not change under a running
 * server, and /readyz asks on every probe — reading and hashing every migration each time made the probe's
 * 2 s budget (and a loaded machine's 50 ms in tests) depend on the disk rather than on the database.
 */
const versionsByDir = new Map<string, Promise<number[]>>();
function migrationVersions(dir: string): Promise<number[]> {
  let versions = versionsByDir.get(dir);
  if (!versions) {
    versions = loadMigrations(dir).then((ms) => ms.map((m) => m.version));
    versionsByDir.set(dir, versions);
    versions.catch(() => versionsByDir.delete(dir)); // a failed read is tried again next time
  }
  return versions;
}

/** True when every migration file has been applied (readiness). */
export async function migrationsCurrent(sql: RootSql, dir = MIGRATIONS_DIR): Promise<boolean> {
  const versions = await migrationVersions(dir);
  const rows = await sql<{ version: number }[]>`select version from schema_migrations`;
  const have = new Set(rows.map((r) => r.version));
  return versions.every((v) => have.has(v));
}
