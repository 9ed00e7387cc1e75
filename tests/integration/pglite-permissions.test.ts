/**
 * The embedded database's files (webhook signing secrets, transcripts, phone numbers) are its owner's alone: a new
 * DATA_DIR and its pglite/ are 0700 and the cluster's files 0600 whatever the umask, and a directory left open by
 * an earlier release is closed when the database opens, with one warning.
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connect.js';
import { initialiseDataDir } from '../../src/db/pglite-template.js';

const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

const modeOf = (path: string): number => statSync(path).mode & 0o777;

/** Every entry under `dir` that others (group or world) may read or enter. */
function openToOthers(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => join(e.parentPath, e.name))
    .filter((p) => (modeOf(p) & 0o077) !== 0);
}

async function openAndClose(dataDir: string, warnings: string[] = []): Promise<void> {
  const db = await openDatabase({ dataDir, onWarning: (m) => warnings.push(m) });
  await db.sql`select 1`;
  await db.close();
}

describe('the embedded data directory', () => {
  it('is made private: DATA_DIR and pglite/ 0700, every file of the new cluster 0600', async () => {
    const root = mkdtempSync(join(tmpdir(), 'parley-perm-'));
    roots.push(root);
    // The cluster as a first start makes it (a template's copy, or initdb), before PGlite opens it.
    const cluster = join(root, 'cluster');
    await initialiseDataDir(cluster);
    expect(openToOthers(cluster)).toEqual([]);
    expect(modeOf(cluster)).toBe(0o700);

    const dataDir = join(root, 'data');
    await openAndClose(dataDir);
    expect(modeOf(dataDir)).toBe(0o700);
    expect(modeOf(join(dataDir, 'pglite'))).toBe(0o700);
  }, 180_000);

  it('closes directories an earlier start left open to others, and says so once', async () => {
    const root = mkdtempSync(join(tmpdir(), 'parley-perm-'));
    roots.push(root);
    const dataDir = join(root, 'data');
    await openAndClose(dataDir);
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, 'pglite'), 0o755);

    const warnings: string[] = [];
    await openAndClose(dataDir, warnings);
    expect(modeOf(dataDir)).toBe(0o700);
    expect(modeOf(join(dataDir, 'pglite'))).toBe(0o700);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/open to other users/);

    const again: string[] = [];
    await openAndClose(dataDir, again);
    expect(again).toEqual([]);
  }, 180_000);
});
