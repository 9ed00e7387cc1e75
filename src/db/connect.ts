/**
 * One driver (postgres.js) and one SQL dialect for both deployments: a real PostgreSQL server when
 * DATABASE_URL is set, otherwise embedded PGlite reached through pglite-socket on a loopback port.
 */
import { mkdirSync } from 'node:fs';
import postgres from 'postgres';
import { guardSql } from './param-guard.js';
import type { RootSql } from './sql.js';

export interface Database {
  sql: RootSql;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
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
    parse: (x: string): Date => new Date(x),
  },
};

const commonOptions = (onNotice?: (m: string) => void): postgres.Options<Record<string, postgres.PostgresType>> => ({
  onnotice: (n) => onNotice?.(String(n.message)),
  // Timestamps come back as Date, JSON as objects; bigint counts as numbers are safe at our sizes.
  types: safeTypes as unknown as Record<string, postgres.PostgresType>,
  connection: { application_name: 'parley' },
});

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const guarded = (sql: RootSql): RootSql => (options.guard === false ? sql : guardSql(sql));
  if (options.databaseUrl) {
    const sql = guarded(postgres(options.databaseUrl, { ...commonOptions(options.onNotice), max: options.poolMax ?? 10 }));
    return { sql, kind: 'postgres', close: () => sql.end({ timeout: 5 }) };
  }

  const inMemory = options.dataDir.startsWith('memory://');
  if (!inMemory) mkdirSync(options.dataDir, { recursive: true });
  // Loaded only for the embedded database: a server on PostgreSQL never pays for PGlite's modules (~27 MB).
  const [{ PGlite }, { btree_gist }, { PGLiteSocketServer }] = await Promise.all([
    import('@electric-sql/pglite'), import('@electric-sql/pglite/contrib/btree_gist'), import('@electric-sql/pglite-socket'),
  ]);
  // PostgreSQL's default 128 MB of shared buffers is most of PGlite's resident memory; a single-connection
  // embedded database serves Parley from 16 MB (idle RSS ~130 MB lower), the rest is the OS page cache's job.
  const startParams = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB', '-c', 'wal_buffers=1MB'];
  const db = await PGlite.create(inMemory ? 'memory://' : `${options.dataDir}/pglite`, { extensions: { btree_gist }, startParams });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
  await server.start();
  const [host, port] = server.getServerConn().split(':');
  // PGlite is a single connection; pooled postgres.js connections interleave extended-protocol messages
  // through pglite-socket (electric-sql/pglite#977), so the pool is exactly one connection.
  const sql = guarded(postgres({
    ...commonOptions(options.onNotice),
    host,
    port: Number(port),
    database: 'postgres',
    username: 'postgres',
    max: 1,
  }));
  return {
    sql,
    kind: 'pglite',
    close: async () => {
      await sql.end({ timeout: 5 });
      await server.stop();
      await db.close();
    },
  };
}
