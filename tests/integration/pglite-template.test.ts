/**
 * A new embedded data directory starts from a prepared cluster (src/db/pglite-template.ts): the template is the
 * cluster openDatabase + migrate make, it is used only for the migrations it was made from, a copy is independent
 * of it, and without one initdb runs in a child process. These tests make their own templates in temporary
 * cache directories (from a one-file migrations directory, to keep them quick), with or without DATABASE_URL.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connect.js';
import { migrate } from '../../src/db/migrate.js';
import { buildPGliteTemplate } from '../../src/db/pglite-template-build.js';
import { initialiseDataDir, isCluster, pgliteTemplateDir } from '../../src/db/pglite-template.js';

const SLOW = 180_000; // initdb in a child process: seconds on a loaded machine (a deadline, not a measure)
const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'parley-template-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const migrationsWith = (sql: string): string => {
  const dir = tempDir();
  writeFileSync(join(dir, '0001_notes.sql'), sql);
  return dir;
};

describe('embedded data directories from a prepared template', () => {
  const cacheDir = join(tmpdir(), `parley-template-cache-${process.pid}`);
  dirs.push(cacheDir);
  const migrationsDir = migrationsWith('create table notes (id int primary key, body text not null);');
  let templateDir = '';

  beforeAll(async () => {
    mkdirSync(join(cacheDir, 'pglite-cluster-0.0.0-outdated'), { recursive: true });
    writeFileSync(join(cacheDir, 'pglite-cluster-0.0.0-outdated', 'PG_VERSION'), '17\n');
    const made = await buildPGliteTemplate(cacheDir, migrationsDir);
    expect(made.built).toBe(true);
    templateDir = made.dir;
  }, SLOW);

  it('keeps one template, made once, named after the PGlite version and the migrations', async () => {
    expect(templateDir).toBe(await pgliteTemplateDir(cacheDir, migrationsDir));
    expect(isCluster(templateDir)).toBe(true);
    expect(await buildPGliteTemplate(cacheDir, migrationsDir)).toEqual({ dir: templateDir, built: false });
    // The outdated template is gone, and no build's staging directory is left.
    expect(readdirSync(cacheDir)).toEqual([templateDir.slice(cacheDir.length + 1)]);
  });

  it('gives a new data directory a copy of the migrated cluster, which later writes do not share', async () => {
    const dataDir = tempDir();
    // A leftover of a first start that was interrupted while copying.
    mkdirSync(join(dataDir, 'pglite.init'));
    writeFileSync(join(dataDir, 'pglite.init', 'half-copied'), '');
    expect(await initialiseDataDir(join(dataDir, 'pglite'), { cacheDir, migrationsDir })).toBe('template');
    expect(existsSync(join(dataDir, 'pglite.init'))).toBe(false);

    const db = await openDatabase({ dataDir });
    try {
      expect(await migrate(db.sql, migrationsDir)).toEqual({ applied: [] });
      await db.sql`insert into notes values (1, 'only in this copy')`;
      expect(await db.sql`select body from notes`).toEqual([{ body: 'only in this copy' }]);
    } finally {
      await db.close();
    }
    const second = tempDir();
    expect(await initialiseDataDir(join(second, 'pglite'), { cacheDir, migrationsDir })).toBe('template');
    const other = await openDatabase({ dataDir: second });
    try {
      expect(await other.sql`select body from notes`).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('runs initdb in a child process when the migrations differ from the template\'s, and the server migrates', async () => {
    const changed = migrationsWith('create table notes (id int primary key, body text not null, at timestamptz);');
    expect(await pgliteTemplateDir(cacheDir, changed)).not.toBe(templateDir);
    const dataDir = tempDir();
    mkdirSync(join(dataDir, 'pglite')); // an empty directory counts as new
    expect(await initialiseDataDir(join(dataDir, 'pglite'), { cacheDir, migrationsDir: changed })).toBe('initdb');
    const db = await openDatabase({ dataDir });
    try {
      expect(await db.sql`select to_regclass('notes') as t`).toEqual([{ t: null }]);
      expect(await migrate(db.sql, changed)).toEqual({ applied: ['0001_notes'] });
      expect(await db.sql`select column_name from information_schema.columns where table_name = 'notes' order by ordinal_position`)
        .toEqual([{ column_name: 'id' }, { column_name: 'body' }, { column_name: 'at' }]);
    } finally {
      await db.close();
    }
  }, SLOW);

  it('leaves an existing cluster, and a directory it cannot judge, to PGlite', async () => {
    expect(await initialiseDataDir(templateDir, { cacheDir, migrationsDir })).toBe('existing');
    const dataDir = tempDir();
    mkdirSync(join(dataDir, 'pglite'));
    writeFileSync(join(dataDir, 'pglite', 'something'), 'not a cluster');
    expect(await initialiseDataDir(join(dataDir, 'pglite'), { cacheDir, migrationsDir })).toBe('left to PGlite');
    expect(readdirSync(join(dataDir, 'pglite'))).toEqual(['something']);
  });
});
