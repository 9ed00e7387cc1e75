/**
 * Prepares the embedded database's template (pglite-template.ts) for `npm run build`: a cluster opened and migrated
 * exactly as the server does it (openDatabase, then migrate), but in memory, then written out from its dump (a tar
 * taken after a checkpoint, pglite-dump.ts) and renamed into the template cache whole. In memory because PGlite's initdb and the
 * migrations write through its emulated file system, which costs ~2 s more on disk than in memory (5.7 s → ~2.5 s
 * on a 2-core machine): most of a fresh clone's first `npm start`. Templates of other PGlite versions or migrations
 * are removed: each is a 40 MB copy that nothing will use again.
 */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openDatabase } from './connect.js';
import { MIGRATIONS_DIR, migrate } from './migrate.js';
import { writeDump } from './pglite-dump.js';
import { defaultTemplateCacheDir, isCluster, pgliteTemplateDir, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, TEMPLATE_PREFIX } from './pglite-template.js';

export interface TemplateBuild {
  dir: string;
  /** false: a matching template was there already. */
  built: boolean;
}

export async function buildPGliteTemplate(cacheDir = defaultTemplateCacheDir(), migrationsDir = MIGRATIONS_DIR): Promise<TemplateBuild> {
  const dir = await pgliteTemplateDir(cacheDir, migrationsDir);
  if (isCluster(dir)) return { dir, built: false };
  // Unique to this build: two builds at once each make their own, and the first rename wins.
  const staging = `${dir}.building-${process.pid}-${Date.now()}`;
  try {
    const dataDirTar = await migratedClusterInMemory(migrationsDir);
    await writeTarInto(staging, dataDirTar);
    if (!isCluster(staging)) throw new Error('the dump of the migrated in-memory cluster holds no cluster');
    await rename(staging, dir).catch((err: unknown) => {
      if (!isCluster(dir)) throw err; // else another build made it first: theirs is the same
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  await removeOutdatedTemplates(cacheDir, dir);
  return { dir, built: true };
}

/** initdb and every migration on an in-memory PGlite, opened as the server opens its database; the data directory as a tar. */
async function migratedClusterInMemory(migrationsDir: string): Promise<Uint8Array> {
  const db = await openDatabase({ dataDir: 'memory://', onDatabaseLost: () => {} });
  try {
    await migrate(db.sql, migrationsDir);
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  return db.closeWithDump!();
}

/** Writes the dump's files under `dir` (made private). */
async function writeTarInto(dir: string, tar: Uint8Array): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await writeDump(tar, dir, { dir: PRIVATE_DIR_MODE, file: PRIVATE_FILE_MODE });
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
