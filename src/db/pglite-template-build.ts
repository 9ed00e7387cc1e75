/**
 * Prepares the embedded database's template (pglite-template.ts) for `npm run build`: a cluster from initdb, opened
 * and migrated exactly as the server does it (openDatabase, then migrate), shut down cleanly, and renamed into the
 * template cache whole. Templates of other PGlite versions or migrations are removed: each is a 40 MB copy that
 * nothing will use again.
 */
import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openDatabase } from './connect.js';
import { MIGRATIONS_DIR, migrate } from './migrate.js';
import { defaultTemplateCacheDir, initdbInChildProcess, isCluster, pgliteTemplateDir, TEMPLATE_PREFIX } from './pglite-template.js';

export interface TemplateBuild {
  dir: string;
  /** false: a matching template was there already. */
  built: boolean;
}

export async function buildPGliteTemplate(cacheDir = defaultTemplateCacheDir(), migrationsDir = MIGRATIONS_DIR): Promise<TemplateBuild> {
  const dir = await pgliteTemplateDir(cacheDir, migrationsDir);
  if (isCluster(dir)) return { dir, built: false };
  // A data directory of its own (pglite/ and the lock inside), unique to this build: two builds at once each
  // make their own, and the first rename wins.
  const staging = `${dir}.building-${process.pid}-${Date.now()}`;
  try {
    // initdb first, so openDatabase finds a cluster rather than copying some other template.
    await initdbInChildProcess(join(staging, 'pglite'));
    const db = await openDatabase({ dataDir: staging, onDatabaseLost: () => {} });
    try {
      await migrate(db.sql, migrationsDir);
    } finally {
      await db.close();
    }
    await rename(join(staging, 'pglite'), dir).catch((err: unknown) => {
      if (!isCluster(dir)) throw err; // else another build made it first: theirs is the same
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  await removeOutdatedTemplates(cacheDir, dir);
  return { dir, built: true };
}

async function removeOutdatedTemplates(cacheDir: string, current: string): Promise<void> {
  for (const name of await readdir(cacheDir)) {
    const path = join(cacheDir, name);
    // Finished templates only: another build's work in progress (".building-") is its own to remove.
    if (name.startsWith(TEMPLATE_PREFIX) && !name.includes('.building-') && path !== current) {
      await rm(path, { recursive: true, force: true });
    }
  }
}
