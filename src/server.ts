/**
 * Composition root: builds every service from the config and wires them into the app. main.ts runs it for
 * the process; end-to-end tests run it on port 0.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/connect.js';
import { migrate } from './db/migrate.js';
import type { Logger } from './log.js';
import { persistentSecret } from './secrets-file.js';

export interface RunningServer {
  app: FastifyInstance;
  db: Database;
  /** http://host:port actually bound. */
  url: string;
  stop(): Promise<void>;
}

export async function startServer(config: Config, log: Logger, options: { port?: number } = {}): Promise<RunningServer> {
  const db = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    poolMax: config.DATABASE_POOL_MAX,
    onNotice: (m) => log.debug({ notice: m }, 'postgres notice'),
  });
  log.info({ database: db.kind, ...(db.kind === 'pglite' ? { dataDir: config.DATA_DIR } : {}) }, 'database open');
  const { applied } = await migrate(db.sql);
  if (applied.length) log.info({ applied }, 'migrations applied');

  let adminToken = config.ADMIN_TOKEN;
  if (!adminToken) {
    const s = persistentSecret(config.DATA_DIR, 'admin-token');
    adminToken = s.value;
    log.warn({ file: s.path }, s.path ? 'ADMIN_TOKEN not set; using the generated token stored in this file' : 'ADMIN_TOKEN not set; admin routes use a random token for this process');
  }

  const app = await buildApp({
    config,
    sql: db.sql,
    log,
    adminToken,
    validateWebhookUrl: async () => {},
  });

  const address = await app.listen({ port: options.port ?? config.PORT, host: config.HOST });
  log.info({ address }, 'Parley listening');

  return {
    app,
    db,
    url: address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1'),
    async stop() {
      const deadline = config.SHUTDOWN_TIMEOUT_MS;
      await Promise.race([app.close(), new Promise((r) => setTimeout(r, deadline).unref())]);
      await db.close();
    },
  };
}
