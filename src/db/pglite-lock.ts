/**
 * One process at a time on an embedded database's data directory. PGlite itself takes no lock (PostgreSQL's
 * postmaster.pid is not used in WASM), and two processes writing the same files corrupt them, so
 * `<DATA_DIR>/pglite.lock` holds the owner's pid. A lock left by a process that no longer runs (a crash, kill -9,
 * a restarted container) is taken over; one held by a live process stops the start with an error naming it.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** The data directory is in use; the message names the process holding it. */
export class DataDirLockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataDirLockedError';
  }
}

/** Lock files held by this process (a second open in the same process is refused, not taken over). */
const held = new Set<string>();

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryCreate(path: string): boolean {
  try {
    const fd = openSync(path, 'wx');
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** Takes the data directory's lock; returns its release. Throws DataDirLockedError when it is in use. */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, 'pglite.lock');
  if (held.has(path)) throw new DataDirLockedError(`${dataDir} is already open in this process`);
  if (!tryCreate(path)) {
    const owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
    // Our own pid in a lock we do not hold is a previous life of this pid (a container restarted as pid 1).
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
      throw new DataDirLockedError(`${dataDir} is in use by process ${owner} (${path}); stop that process, or delete the file if it is not Parley`);
    }
    unlinkSync(path);
    if (!tryCreate(path)) throw new DataDirLockedError(`${dataDir} was locked by another process starting at the same moment (${path})`);
  }
  held.add(path);
  return () => {
    if (!held.delete(path)) return;
    try {
      unlinkSync(path);
    } catch {
      // Already gone: nothing to release.
    }
  };
}
