/**
 * A new embedded database starts as a copy of a prepared cluster instead of running initdb in the server.
 *
 * PGlite's initdb is most of a first start (3+ s here, against 0.5 s to open an existing cluster), and it leaves
 * the process 100+ MB larger for good: it runs a second PostgreSQL instance and copies its whole WASM heap
 * several times, and a thread's freed memory stays in the C allocator's arenas after the thread has ended.
 *
 * So `npm run build` (scripts/build-dist.mjs, pglite-template-build.ts) prepares a template once: initdb, then
 * every migration applied by migrate(), shut down cleanly, under node_modules/.cache/parley/, named after the
 * PGlite version and the migrations' names and checksums. A new data directory is a file copy of the template
 * whose name matches the running code (PGlite itself copies files over after its own initdb, which runs on a
 * scratch filesystem), and the server's migrate() then finds nothing to do. Without a matching template (not
 * built, or made from other migrations), initdb runs in a child process, whose memory goes back to the system
 * when it exits, and the server applies the migrations as always.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, statSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, rmdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { copyTree } from '../util/copy-tree.js';
import { loadMigrations, MIGRATIONS_DIR } from './migrate.js';

const require = createRequire(import.meta.url);
/**
 * The embedded database's files hold webhook signing secrets, transcripts and phone numbers: its directories are
 * its owner's alone, its files too (PostgreSQL itself refuses a data directory others can read).
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
const INITDB_TIMEOUT_MS = 120_000;
/** Every template's name starts so (pglite-template-build.ts removes outdated ones). */
export const TEMPLATE_PREFIX = 'pglite-cluster-';

/** A directory holds a PostgreSQL cluster (initdb writes PG_VERSION; copies are renamed into place whole). */
export const isCluster = (dir: string): boolean => existsSync(join(dir, 'PG_VERSION'));

/** @electric-sql/pglite's package directory (its package.json; the package's exports do not include that file). */
function pglitePackageDir(): string {
  let dir = dirname(require.resolve('@electric-sql/pglite'));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('@electric-sql/pglite: package.json not found');
    dir = up;
  }
  return dir;
}

/** Where templates are kept: node_modules/.cache/parley, the usual place for a package's generated files. */
export function defaultTemplateCacheDir(): string {
  return join(pglitePackageDir(), '..', '..', '.cache', 'parley');
}

/**
 * The template's directory for this PGlite version (whose PostgreSQL writes the cluster format) and these
 * migrations (names and checksums): a template made from other migrations is never used.
 */
export async function pgliteTemplateDir(cacheDir = defaultTemplateCacheDir(), migrationsDir = MIGRATIONS_DIR): Promise<string> {
  const { version } = JSON.parse(await readFile(join(pglitePackageDir(), 'package.json'), 'utf8')) as { version: string };
  const migrations = createHash('sha256');
  for (const m of await loadMigrations(migrationsDir)) migrations.update(`${m.name} ${m.checksum}\n`);
  return join(cacheDir, `${TEMPLATE_PREFIX}${version}-${migrations.digest('hex').slice(0, 16)}`);
}

/**
 * Runs PGlite's initdb into `dir` (which must not hold a cluster) in a child process, then shuts the new cluster
 * down cleanly. Rejects with the child's last words when it fails.
 */
export async function initdbInChildProcess(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const script = 'require(process.argv[1]).PGlite.create(process.argv[2]).then((db) => db.close())'
    + '.catch((err) => { console.error(String((err && err.stack) || err)); process.exit(1); });';
  // --liftoff-only: initdb's one pass runs on V8's baseline code, without optimising compiles competing for the CPU
  // (scripts/build-dist.mjs says more).
  const child = spawn(process.execPath, ['--liftoff-only', '-e', script, require.resolve('@electric-sql/pglite'), dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), INITDB_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  }).finally(() => clearTimeout(timer));
  if (code !== 0 || !isCluster(dir)) {
    const how = code === null ? 'was killed (no end within its deadline?)' : `ended with code ${code}`;
    throw new Error(`initdb (PGlite, in a child process) ${how}: ${stderr.trim().slice(-500) || 'no message'}`);
  }
}

export type DataDirOrigin = 'existing' | 'template' | 'initdb' | 'left to PGlite';

export interface InitialiseOptions {
  /** Where templates are looked for; default node_modules/.cache/parley. */
  cacheDir?: string;
  /** The migrations a template must have been made from; default migrations/. */
  migrationsDir?: string;
}

/**
 * Makes `pgDataDir` (`<DATA_DIR>/pglite`) hold a cluster before PGlite opens it; the caller holds the data
 * directory's lock. An existing cluster is left alone; a missing (or empty) directory becomes a copy of the
 * matching template, else a cluster from initdb run in a child process. Either is made under
 * `<DATA_DIR>/pglite.init` and renamed into place, so an interrupted first start leaves no half-made cluster. A
 * non-empty directory without a cluster is not ours to judge: PGlite opens it as it always has.
 */
export async function initialiseDataDir(pgDataDir: string, options: InitialiseOptions = {}): Promise<DataDirOrigin> {
  if (isCluster(pgDataDir)) return 'existing';
  const present = existsSync(pgDataDir);
  if (present && (await readdir(pgDataDir)).length > 0) return 'left to PGlite';

  const staging = `${pgDataDir}.init`;
  await rm(staging, { recursive: true, force: true });
  let origin: DataDirOrigin;
  try {
    const template = await pgliteTemplateDir(options.cacheDir, options.migrationsDir).catch(() => null);
    if (template && isCluster(template)) {
      // A copy, never links: PostgreSQL rewrites its files in place.
      await copyTree(template, staging);
      origin = 'template';
    } else {
      await initdbInChildProcess(staging);
      origin = 'initdb';
    }
    // The template's modes are its builder's umask's, and PGlite's initdb writes its files 0666.
    await makeTreePrivate(staging);
    if (present) await rmdir(pgDataDir);
    await rename(staging, pgDataDir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return origin;
}

/** Every directory under `root` (and itself) PRIVATE_DIR_MODE, every file PRIVATE_FILE_MODE. */
export async function makeTreePrivate(root: string): Promise<void> {
  await chmod(root, PRIVATE_DIR_MODE);
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    const path = join(e.parentPath, e.name);
    if (e.isDirectory()) await chmod(path, PRIVATE_DIR_MODE);
    else if (e.isFile()) await chmod(path, PRIVATE_FILE_MODE);
  }
}

/**
 * Closes directories of the embedded database that other users can enter (made before this release, or under a
 * lax umask): each becomes PRIVATE_DIR_MODE, which makes every file inside unreachable to others whatever its own
 * mode. Says so through `warn`, once, naming what was open. A directory with the sticky bit is a shared one (a
 * DATA_DIR of /tmp): left as it is, with a warning, since its pglite/ is closed. Never stops the start: a
 * directory it may not change is reported.
 */
export function keepDirectoriesPrivate(dirs: readonly string[], warn: (message: string) => void): void {
  const closed: string[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    const mode = statSync(dir).mode & 0o7777;
    if ((mode & 0o077) === 0) continue;
    if (mode & 0o1000) {
      warn(`${dir} is a shared directory (mode ${mode.toString(8)}); a data directory of its own is safer`);
      continue;
    }
    try {
      chmodSync(dir, PRIVATE_DIR_MODE);
      closed.push(`${dir} (was ${mode.toString(8)})`);
    } catch (err) {
      warn(`${dir} is open to other users (mode ${mode.toString(8)}) and could not be closed: ${(err as Error).message}`);
    }
  }
  if (closed.length) warn(`the embedded database's directories were open to other users; now ${PRIVATE_DIR_MODE.toString(8)}: ${closed.join(', ')}`);
}
