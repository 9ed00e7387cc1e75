/**
 * Prepares the embedded database's template (pglite-template.ts) for `npm run build`: a cluster opened and migrated
 * exactly as the server does it (openDatabase, then migrate), but in memory, then written out from its dump (a tar
 * taken after a checkpoint) and renamed into the template cache whole. In memory because PGlite's initdb and the
 * migrations write through its emulated file system, which costs ~2 s more on disk than in memory (5.7 s → ~2.5 s
 * on a 2-core machine): most of a fresh clone's first `npm start`. Templates of other PGlite versions or migrations
 * are removed: each is a 40 MB copy that nothing will use again.
 */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { x as extractTar } from 'tar';
import { openDatabase } from './connect.js';
import { MIGRATIONS_DIR, migrate } from './migrate.js';
import { defaultTemplateCacheDir, isCluster, pgliteTemplateDir, PRIVATE_DIR_MODE, TEMPLATE_PREFIX } from './pglite-template.js';

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

/** Writes the files of `tar` under `dir` (made private); a warning other than the absolute paths' stripping fails it. */
async function writeTarInto(dir: string, tar: Uint8Array): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const problems: string[] = [];
  // The dump's paths are the data directory's own ("/global/pg_control"): tar makes them relative to dir, saying
  // so each time (TAR_ENTRY_INFO).
  const unpack = extractTar({ cwd: dir, onwarn: (code, message) => void (code !== 'TAR_ENTRY_INFO' && problems.push(`${code}: ${String(message)}`)) });
  await pipeline(Readable.from([Buffer.from(tar.buffer, tar.byteOffset, tar.byteLength)], { objectMode: false }), unpack);
  if (problems.length) throw new Error(`the dump of the migrated cluster did not unpack: ${problems.slice(0, 3).join('; ')}`);
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
