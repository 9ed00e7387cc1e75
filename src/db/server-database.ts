/**
 * The server's database as its config names it: PostgreSQL at DATABASE_URL, else the embedded PGlite in DATA_DIR.
 * Its own module, light to load, so main.ts can start opening it while the rest of the server's modules load.
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { openDatabase, type Database } from './connect.js';

export function openServerDatabase(config: Config, log: Logger): Promise<Database> {
  return openDatabase({
    databaseUrl: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    poolMax: config.DATABASE_POOL_MAX,
    queryDeadlineMs: config.DATABASE_URL ? config.DATABASE_QUERY_TIMEOUT_MS : null,
    onNotice: (m) => log.debug({ notice: m }, 'postgres notice'),
    onWarning: (m) => log.warn(m),
    // The embedded database's thread died: nothing can be stored any more, so stop and let the supervisor restart.
    onDatabaseLost: (err) => {
      log.fatal({ err: err.message }, 'embedded database lost; exiting');
      process.exit(1);
    },
  });
}
