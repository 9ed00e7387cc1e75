/**
 * One driver (postgres.js) and one SQL dialect for both deployments: a real PostgreSQL server when
 * DATABASE_URL is set, otherwise embedded PGlite, run in a worker thread (pglite-thread.ts) and reached through
 * pglite-socket on a loopback port.
 */
import { mkdirSync } from 'node:fs';
import postgres from 'postgres';
import { guardSql } from './param-guard.js';
import { lockDataDir } from './pglite-lock.js';
import { parsePgTimestamp } from './pg-timestamp.js';
import { keepDirectoriesPrivate, PRIVATE_DIR_MODE } from './pglite-template.js';
import { startPGliteThread } from './pglite-thread.js';
import type { RootSql } from './sql.js';
import { CALL_END_CHANNEL, WORK_CHANNEL } from './work-notifications.js';

export interface Database {
  sql: RootSql;
  kind: 'postgres' | 'pglite';
  /**
   * Calls `onNotify` with the payload of every notification on `channel`, as the notifying transaction commits
   * (from any connection, and on PostgreSQL from any instance); `onListen` each time listening (re)starts, when
   * notifications may have been missed. PGlite listens only on the channels named at open (`channels`).
   */
  listen(channel: string, onNotify: (payload: string) => void, onListen?: () => void): Promise<Listening>;
  close(): Promise<void>;
  /**
   * In-memory embedded PGlite only: closes as close() does, answering the data directory as a tar taken after a
   * checkpoint (how the embedded database's template is made in memory and written to disk, pglite-template-build.ts).
   */
  closeWithDump?: () => Promise<Uint8Array>;
}

export interface Listening {
  unlisten(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  /** PGlite directory, or 'memory://' for a throwaway in-memory database. */
  dataDir: string;
  poolMax?: number;
  /** Called with server NOTICE messages; default: ignore. */
  onNotice?: (message: string) => void;
  /** false = the bare driver without param-guard (only tests, to prove the serialisers hold on their own). */
  guard?: boolean;
  /**
   * Embedded PGlite only: the channels `listen` can be used on, listened to from the start (PGlite delivers
   * notifications only to a session that listened before the notifying commit). Default: the work and call-end channels.
   */
  channels?: string[];
  /**
   * The most a query through `sql` waits for its answer, in ms (param-guard.ts); null: no deadline. Default:
   * QUERY_DEADLINE_MS on PostgreSQL, none on embedded PGlite — there is no network between the process and its
   * thread to stall, a query that is slow there is slow because the machine is busy (a deadline would turn load
   * into errors), and a thread that stops answering is a bug /healthz reports (the process is restarted).
   */
  queryDeadlineMs?: number | null;
  /** Said once per open when something needs the operator's eye (a data directory open to other users). */
  onWarning?: (message: string) => void;
  /** Embedded PGlite only: its thread died while open. Default: exitOnDatabaseLost (log, exit code 1). */
  onDatabaseLost?: (err: Error) => void;
}

/**
 * Serialisers that cannot throw. postgres.js runs them while writing to a shared, pipelined connection, where
 * an exception desynchronises the connection from the server (see param-guard.ts, which refuses such values
 * first). A value that still cannot be serialised is sent as text the server rejects, so only its own query fails.
 */
const UNSERIALISABLE = '\u0001parley: unserialisable value';
const safeTypes = {
  bigint: postgres.BigInt,
  json: {
    to: 114,
    from: [114, 3802],
    serialize: (x: unknown): string => {
      try {
        return JSON.stringify(x) ?? 'null';
      } catch {
        return UNSERIALISABLE;
      }
    },
    parse: (x: string): unknown => JSON.parse(x),
  },
  date: {
    to: 1184,
    from: [1082, 1114, 1184],
    serialize: (x: unknown): string => {
      const d = x instanceof Date ? x : new Date(x as string);
      return Number.isFinite(d.getTime()) ? d.toISOString() : UNSERIALISABLE;
    },
    parse: parsePgTimestamp,
  },
};

/**
 * PostgreSQL: the most a query of the API or of a live call waits for its answer (queued for a connection and
 * running) before it fails as "database unreachable" (503 for a request; a tool error, spoken, in a call). Their
 * queries take milliseconds; past this the database is stalled (a network that drops packets while the sockets stay
 * open, a server frozen) and answering the caller matters more than waiting. Work nobody waits on takes another
 * handle (param-guard.ts's withQueryDeadline): BACKGROUND_QUERY_DEADLINE_MS, or none for migrations.
 */
export const QUERY_DEADLINE_MS = 5_000;
/** How long opening a connection may take (postgres.js's default is 30 s), in seconds. */
const CONNECT_TIMEOUT_S = 5;
/**
 * TCP keepalive on every connection, after this many idle seconds (postgres.js's default is 60): an idle
 * connection whose peer vanished (a failover, a NAT or firewall that forgot it) is found and replaced instead of
 * being handed the next query. The probes' spacing and count are the kernel's.
 */
const KEEPALIVE_S = 30;

const commonOptions = (onNotice?: (m: string) => void): postgres.Options<Record<string, postgres.PostgresType>> => ({
  onnotice: (n) => onNotice?.(String(n.message)),
  connect_timeout: CONNECT_TIMEOUT_S,
  keep_alive: KEEPALIVE_S,
  // Timestamps come back as Date, JSON as objects; bigint counts as numbers are safe at our sizes.
  types: safeTypes as unknown as Record<string, postgres.PostgresType>,
  // UTC whatever the server's default zone: dates, days and intervals in SQL never depend on how the database
  // was installed (calendar-day arithmetic would otherwise follow its DST changes).
  connection: { application_name: 'parley', TimeZone: 'UTC' },
});

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const guarded = (sql: RootSql, deadlineMs: number | null): RootSql => (options.guard === false ? sql : guardSql(sql, { deadlineMs }));
  if (options.databaseUrl) {
    const sql = guarded(postgres(options.databaseUrl, { ...commonOptions(options.onNotice), max: options.poolMax ?? 10 }), options.queryDeadlineMs === undefined ? QUERY_DEADLINE_MS : options.queryDeadlineMs);
    // postgres.js listens on a connection of its own, which it reconnects (calling onListen again).
    const listen: Database['listen'] = async (channel, onNotify, onListen) => sql.listen(channel, onNotify, onListen);
    return { sql, kind: 'postgres', listen, close: () => sql.end({ timeout: 5 }) };
  }

  const inMemory = options.dataDir.startsWith('memory://');
  if (!inMemory) mkdirSync(options.dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const unlock = inMemory ? () => {} : lockDataDir(options.dataDir);
  const dataDir = inMemory ? 'memory://' : `${options.dataDir}/pglite`;
  const channels = options.channels ?? [WORK_CHANNEL, CALL_END_CHANNEL];
  const listeners = new Map<string, Set<(payload: string) => void>>();
  const thread = await (async () => {
    if (!inMemory) keepDirectoriesPrivate([options.dataDir, dataDir], options.onWarning ?? warnOnStderr);
    // PGlite executes every query in WASM: it runs in its own thread (pglite-worker.ts), so the event loop that
    // carries calls only does postgres.js's socket I/O, as with a PostgreSQL server. A new data directory starts
    // there as a copy of a prepared cluster (pglite-template.ts): initdb in the server would take seconds and
    // leave its memory behind.
    return startPGliteThread({
      dataDir, channels, prepareDataDir: !inMemory,
      onDeath: options.onDatabaseLost ?? exitOnDatabaseLost,
      onNotification: (channel, payload) => listeners.get(channel)?.forEach((onNotify) => onNotify(payload)),
    });
  })().catch((err: unknown) => {
    unlock();
    throw err;
  });
  // PGlite is a single connection; pooled postgres.js connections interleave extended-protocol messages
  // through pglite-socket (electric-sql/pglite#977), so the pool is exactly one connection.
  const sql = guarded(postgres({
    ...commonOptions(options.onNotice),
    host: thread.host,
    port: thread.port,
    database: 'postgres',
    username: 'postgres',
    max: 1,
  }), options.queryDeadlineMs ?? null);
  // One process, one database: a notification reaches the listener the moment the thread reads it, with nothing
  // to reconnect; onListen runs once.
  const listen: Database['listen'] = async (channel, onNotify, onListen) => {
    if (!channels.includes(channel)) throw new Error(`The embedded database listens only on channels named when it opens (${channels.join(', ') || 'none'}), not "${channel}"`);
    const own = (payload: string) => onNotify(payload);
    const set = listeners.get(channel) ?? new Set();
    listeners.set(channel, set.add(own));
    onListen?.();
    return { unlisten: async () => void set.delete(own) };
  };
  return {
    sql,
    kind: 'pglite',
    listen,
    // Clients first, then the socket server, then PostgreSQL's shutdown (both in the thread), so the data
    // directory is left clean.
    close: async () => {
      try {
        await sql.end({ timeout: 5 });
        await thread.close();
      } finally {
        unlock();
      }
    },
    ...(inMemory ? {
      closeWithDump: async () => {
        await sql.end({ timeout: 5 });
        return (await thread.close({ dumpDataDir: true }))!;
      },
    } : {}),
  };
}

function warnOnStderr(message: string): void {
  process.stderr.write(`Parley: ${message}\n`);
}

/**
 * The embedded database's thread died: every query from now on would fail, so the process stops (exit code 1)
 * for its supervisor to restart it on the same data directory, rather than live on without a database.
 */
export function exitOnDatabaseLost(err: Error): void {
  process.stderr.write(`Parley: ${err.message}; exiting (code 1) for a supervisor to restart it\n`);
  process.exit(1);
}
