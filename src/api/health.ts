/**
 * /healthz (liveness) and /readyz (readiness), both aware of a database that stopped answering.
 *
 * /readyz checks the database and the migrations within `timeoutMs`: a hung database is "not ready", never a
 * hung probe. /healthz stays cheap — it reads the time of the last database round trip that succeeded, kept
 * current by a background ping — and turns 503 once none has succeeded for `wedgedAfterMs`, so a supervisor
 * restarts a process whose connections are stuck instead of leaving it "healthy" and useless — for the embedded
 * database, which lives in the process; a PostgreSQL server's outage is /readyz's alone. Once the server is
 * shutting down, /readyz is 503 at once: live calls are saying goodbye, and new ones should go to another instance.
 * It is 503 too for a while after a query met SQLSTATE class 53 (OUT_OF_RESOURCES_UNREADY_MS).
 */
import type { FastifyInstance } from 'fastify';
import { migrationsCurrent } from '../db/migrate.js';
import { databaseOutOfResourcesAt } from '../db/param-guard.js';
import type { RootSql } from '../db/sql.js';

export interface HealthOptions {
  /** How often the background ping runs. */
  pingEveryMs?: number;
  /** How long one database check may take. */
  timeoutMs?: number;
  /** No successful round trip for this long → /healthz is 503. */
  wedgedAfterMs?: number;
  /** True once the server is shutting down: /readyz turns 503 so a load balancer sends new calls elsewhere. */
  draining?: () => boolean;
  /**
   * Whether the database runs inside this process (embedded PGlite, default): then a database that stops answering
   * is this process wedged, and /healthz says so. A PostgreSQL server is another machine: its outage is /readyz's
   * business, and /healthz stays 200 — a liveness probe restarting every instance would only end their live calls.
   */
  databaseInProcess?: boolean;
  /** How long /readyz stays 503 after a query met SQLSTATE class 53. Default OUT_OF_RESOURCES_UNREADY_MS. */
  outOfResourcesMs?: number;
}

/**
 * /readyz is 503 for this long after any query met SQLSTATE class 53 (disk full, out of memory, too many
 * connections). Its own check only reads, and reads go on working on a full disk: without this it says "ready"
 * while every write fails, and a load balancer keeps sending calls and requests to an instance that cannot store
 * them. Each new class-53 error starts the window again; once writes stop failing it ends by itself.
 */
export const OUT_OF_RESOURCES_UNREADY_MS = 30_000;

type Outcome = { ok: true; value: boolean } | { ok: false; reason: 'timeout' | 'error' };

function withTimeout(work: Promise<boolean>, ms: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.then((value): Outcome => ({ ok: true, value }), (): Outcome => ({ ok: false, reason: 'error' })),
    new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reason: 'timeout' }), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function installHealthRoutes(app: FastifyInstance, sql: RootSql, options: HealthOptions = {}): void {
  const pingEveryMs = options.pingEveryMs ?? 5_000;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const wedgedAfterMs = options.wedgedAfterMs ?? 30_000;
  let lastOkAt = Date.now();
  let pinging = false;

  const check = async (work: () => Promise<boolean>): Promise<Outcome> => {
    const outcome = await withTimeout(work(), timeoutMs);
    if (outcome.ok) lastOkAt = Date.now();
    return outcome;
  };

  const ping = async (): Promise<void> => {
    if (pinging) return; // a ping still waiting is itself the answer
    pinging = true;
    try {
      await check(async () => (await sql`select 1 as ok`).length === 1);
    } finally {
      pinging = false;
    }
  };
  const timer = setInterval(() => void ping(), pingEveryMs);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  app.get('/healthz', { schema: { hide: true } as object }, async (_request, reply) => {
    const silentMs = Date.now() - lastOkAt;
    if (options.databaseInProcess !== false && silentMs > wedgedAfterMs) return reply.status(503).send({ status: 'database not answering', silent_ms: silentMs });
    return { status: 'ok' };
  });

  app.get('/readyz', { schema: { hide: true } as object }, async (_request, reply) => {
    if (options.draining?.()) return reply.status(503).send({ status: 'shutting down' });
    const outOfResourcesAt = databaseOutOfResourcesAt(sql);
    if (outOfResourcesAt !== null && Date.now() - outOfResourcesAt < (options.outOfResourcesMs ?? OUT_OF_RESOURCES_UNREADY_MS)) {
      return reply.status(503).send({ status: 'database out of resources' });
    }
    const outcome = await check(() => migrationsCurrent(sql));
    if (!outcome.ok) return reply.status(503).send({ status: outcome.reason === 'timeout' ? 'database not answering' : 'database unreachable' });
    if (!outcome.value) return reply.status(503).send({ status: 'migrations pending' });
    return { status: 'ready' };
  });
}
