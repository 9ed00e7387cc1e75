/**
 * Embedded PGlite in its own worker thread (src/db/pglite-thread.ts): queries execute while the main thread is
 * blocked, data survives a clean restart, a data directory is one process's at a time, a bad one fails the start
 * with PostgreSQL's reason, and a thread that dies is reported (and, by default, ends the process) instead of
 * leaving a dead database behind. These tests open embedded databases themselves, with or without DATABASE_URL.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connect.js';
import { DataDirLockedError } from '../../src/db/pglite-lock.js';
import { PGliteStartError, startPGliteThread } from '../../src/db/pglite-thread.js';
import { until } from '../helpers/until.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'parley-pglite-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** PostgreSQL's pg_control records whether the cluster was shut down cleanly (DBState at byte 16). */
const DB_SHUTDOWNED = 1;
const DB_IN_PRODUCTION = 6;
const clusterState = (dataDir: string): number => readFileSync(join(dataDir, 'pglite', 'global', 'pg_control')).readInt32LE(16);

describe('embedded PGlite in a worker thread', () => {
  it('executes a query while the main thread is blocked', async () => {
    const db = await openDatabase({ dataDir: 'memory://' });
    try {
      await db.sql`select 1`; // connected: the next query needs nothing more from this thread than its write
      const query = db.sql<{ at: Date }[]>`select pg_sleep(0.3), clock_timestamp() as at`.execute();
      await new Promise((r) => setTimeout(r, 20)); // the query is on the socket
      // Block this thread outright; a database on this thread could not run until it wakes.
      const blockedFrom = Date.now();
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
      const blockedUntil = Date.now();
      const [row] = await query;
      expect(row!.at.getTime()).toBeGreaterThan(blockedFrom);
      expect(row!.at.getTime()).toBeLessThan(blockedUntil);
    } finally {
      await db.close();
    }
  });

  it('keeps the tuning and the extensions of the in-process database', async () => {
    const db = await openDatabase({ dataDir: 'memory://' });
    try {
      const [row] = await db.sql<{ sb: string }[]>`select current_setting('shared_buffers') as sb`;
      expect(row!.sb).toBe('16MB');
      await db.sql`create extension if not exists btree_gist`;
      const [ext] = await db.sql<{ n: number }[]>`select count(*)::int as n from pg_extension where extname = 'btree_gist'`;
      expect(ext!.n).toBe(1);
    } finally {
      await db.close();
    }
  });

  it('shuts PostgreSQL down cleanly on close, and the data is there at the next start', async () => {
    const dir = tempDir();
    const first = await openDatabase({ dataDir: dir });
    await first.sql`create table kept (id int primary key, note text)`;
    await first.sql`insert into kept values (1, 'written before the restart')`;
    expect(clusterState(dir)).toBe(DB_IN_PRODUCTION);
    await first.close();
    expect(clusterState(dir)).toBe(DB_SHUTDOWNED);
    expect(existsSync(join(dir, 'pglite.lock'))).toBe(false);

    const second = await openDatabase({ dataDir: dir });
    try {
      expect(await second.sql`select id, note from kept`).toEqual([{ id: 1, note: 'written before the restart' }]);
    } finally {
      await second.close();
    }
  });

  it('refuses a data directory that is already open, in this process or a live other one', async () => {
    const dir = tempDir();
    const db = await openDatabase({ dataDir: dir });
    try {
      await expect(openDatabase({ dataDir: dir })).rejects.toThrow(/already open in this process/);
    } finally {
      await db.close();
    }

    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, 'pglite.lock'), `${other.pid}\n`);
      const err: unknown = await openDatabase({ dataDir: dir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataDirLockedError);
      expect((err as Error).message).toContain(`in use by process ${other.pid}`);
    } finally {
      other.kill();
    }
  });

  it('takes over the lock of a process that no longer runs', async () => {
    const dir = tempDir();
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    writeFileSync(join(dir, 'pglite.lock'), gone.stdout);
    const db = await openDatabase({ dataDir: dir });
    try {
      expect(readFileSync(join(dir, 'pglite.lock'), 'utf8').trim()).toBe(String(process.pid));
      expect(await db.sql`select 1 as one`).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });

  it('fails the start of a damaged data directory with PostgreSQL\'s reason, and lets go of it', async () => {
    const dir = tempDir();
    await (await openDatabase({ dataDir: dir })).close();
    writeFileSync(join(dir, 'pglite', 'PG_VERSION'), '99\n');
    const err: unknown = await openDatabase({ dataDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PGliteStartError);
    expect((err as Error).message).toMatch(/could not start: .*FATAL: database files are incompatible with server/);
    expect(existsSync(join(dir, 'pglite.lock'))).toBe(false);
  });

  it('gives up on a start that does not answer within its deadline', async () => {
    await expect(startPGliteThread({ dataDir: 'memory://', onDeath: () => {}, startTimeoutMs: 1 })).rejects.toThrow(/could not start: no answer within/);
  });

  it('reports a thread that dies while the database is open, and its queries fail rather than hang', async () => {
    let lost: Error | null = null;
    const thread = await startPGliteThread({ dataDir: 'memory://', onDeath: (e) => (lost = e) });
    const sql = postgres({ host: thread.host, port: thread.port, database: 'postgres', username: 'postgres', max: 1, onnotice: () => {} });
    try {
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
      await thread.worker.terminate();
      const reason = await until(() => lost);
      expect(reason.message).toMatch(/ended while the database was open: it exited with code 1/);
      await expect(sql`select 1 as one`).rejects.toThrow();
      await expect(thread.close()).rejects.toThrow(/did not confirm a clean shutdown/);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('by default ends the process (exit code 1) when the thread dies, for a supervisor to restart it', () => {
    const script = join(tempDir(), 'die.mts');
    const src = (f: string) => JSON.stringify(new URL(`../../src/db/${f}`, import.meta.url).href);
    writeFileSync(script, [
      `import { exitOnDatabaseLost } from ${src('connect.ts')};`,
      `import { startPGliteThread } from ${src('pglite-thread.ts')};`,
      `const thread = await startPGliteThread({ dataDir: 'memory://', onDeath: exitOnDatabaseLost });`,
      'await thread.worker.terminate();',
      'setTimeout(() => process.exit(0), 30_000);',
    ].join('\n'));
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
    expect(child.status).toBe(1);
    expect(child.stderr).toMatch(/embedded database's thread .* ended while the database was open.*exiting \(code 1\)/);
  });
});
