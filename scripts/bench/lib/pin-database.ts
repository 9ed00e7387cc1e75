/**
 * Moves a PostgreSQL server that runs on this machine onto the load generator's CPUs for a benchmark, and back.
 *
 * `--pin SERVER:HARNESS` gives Parley its own cores; left floating, PostgreSQL's backends are woken on the core of
 * whoever wrote to them (the kernel's wake-affine placement), so each transcript write could run the backend on
 * Parley's core and hold the call loop off it — time the server spends runnable but not running, which is not the
 * server's cost. In production the database is another machine; here it shares the generator's cores instead.
 * New backends fork from the postmaster and inherit its affinity, so pinning the postmaster's process tree once
 * covers the connections opened later.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { processTree } from './proc-stats.js';

export interface PinnedDatabase {
  /** The postmaster's pid and how many of its processes were moved. */
  postmasterPid: number;
  processes: number;
  /** Puts every process back on the CPUs it had (best effort: one that has exited is skipped). */
  restore(): void;
}

/** The parent of a pid, from /proc (null where the process is not visible here). */
function parentPid(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** A process's CPU list as taskset prints it ("0,1" or "0-1"). */
export function affinityOf(pid: number): string {
  const out = execFileSync('taskset', ['-c', '-p', String(pid)], { encoding: 'utf8' });
  return out.slice(out.lastIndexOf(':') + 1).trim();
}

function setAffinity(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-c', '-p', cpus, String(pid)], { stdio: 'ignore' });
}

/**
 * Pins the PostgreSQL behind `databaseUrl` to `cpus`. Throws (with the reason) where that server is not a
 * process on this machine or its affinity cannot be changed (another user's processes need root).
 */
export async function pinDatabase(databaseUrl: string, cpus: string): Promise<PinnedDatabase> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  let backend: number;
  let postmaster: number | null;
  try {
    const [row] = await sql<Array<{ pid: number }>>`select pg_backend_pid() as pid`;
    backend = row!.pid;
    // Read while the connection is open: its backend exits with it.
    postmaster = parentPid(backend);
  } finally {
    await sql.end();
  }
  if (postmaster === null || postmaster <= 1) throw new Error(`PostgreSQL's backend ${backend} is not a process on this machine`);
  try {
    return { postmasterPid: postmaster, ...pinProcessTree(postmaster, cpus) };
  } catch (err) {
    throw new Error(`cannot change PostgreSQL's CPU affinity (pid ${postmaster}): ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Pins `root` and every process below it to `cpus`; restore() puts each back on the CPUs it had, and a process
 * forked meanwhile (it took the pinned CPUs from its parent) on the root's. Throws where the root cannot be moved.
 */
export function pinProcessTree(root: number, cpus: string): { processes: number; restore(): void } {
  const pids = processTree(root);
  const before = new Map(pids.map((pid) => [pid, affinityOf(pid)] as const));
  for (const pid of pids) {
    try {
      setAffinity(pid, cpus);
    } catch (err) {
      if (pid === root) throw err;
    }
  }
  return {
    processes: pids.length,
    restore() {
      const original = before.get(root)!;
      for (const pid of processTree(root)) {
        try {
          setAffinity(pid, before.get(pid) ?? original);
        } catch {
          // exited meanwhile
        }
      }
    },
  };
}
