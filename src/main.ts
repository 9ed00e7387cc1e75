/**
 * Process entry: read config, open the database, migrate, start workers, listen; on SIGTERM/SIGINT stop
 * accepting, let calls and jobs finish within SHUTDOWN_TIMEOUT_MS, close the database.
 * With PROCESSES > 1 this process becomes the cluster's primary (src/cluster.ts), which only supervises, and
 * each forked worker runs this same file as a full server on the shared port.
 */
import cluster from 'node:cluster';
import { ConfigError, loadConfig, type Config } from './config.js';
import { marksOnCallLoop, tuneHeapGrowth } from './gc-heap.js';
import { createLogger, type Logger } from './log.js';
import type { StartOptions } from './server.js';
import { describeError } from './startup.js';
import { handleStopSignals, STOP_GRACE_MS } from './stop-signals.js';

async function runServer(config: Config, log: Logger, options: StartOptions = {}): Promise<void> {
  // Imported here, not at the top: a PROCESSES > 1 primary never loads the server's modules (it only supervises).
  // The database opens (in its own thread, for PGlite) while they load.
  const { openServerDatabase } = await import('./db/server-database.js');
  const openingDatabase = openServerDatabase(config, log);
  openingDatabase.catch(() => {}); // awaited by startServer, which reports a failure; not unhandled meanwhile
  const { startServer } = await import('./server.js');
  const heapGrowth = tuneHeapGrowth();
  if (heapGrowth) log.info({ flag: heapGrowth }, 'garbage collection on the call loop: the heap may grow 3× between full collections');
  const server = await startServer(config, log, { ...options, openingDatabase });
  // A rejection nobody handled is a bug, but it must not take down the live calls of this process: say so
  // loudly and go on. (Fire-and-forget work in the server attaches its own handlers.)
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason instanceof Error ? { message: reason.message, stack: reason.stack } : String(reason) }, 'unhandled promise rejection');
  });
  handleStopSignals({
    log,
    message: 'shutting down',
    stop: () => server.stop().then(() => true),
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS + STOP_GRACE_MS,
  });
}

async function runPrimary(config: Config, log: Logger, processes: number): Promise<void> {
  const { Supervisor, prepareSharedSecrets, workerExecArgv } = await import('./cluster.js');
  const execArgv = workerExecArgv(config.GC_THREADS, processes);
  const supervisor = new Supervisor({
    processes,
    log,
    env: prepareSharedSecrets(config, log),
    stopTimeoutMs: config.SHUTDOWN_TIMEOUT_MS + 5000,
    execArgv,
  });
  const gc = marksOnCallLoop(execArgv) ? 'main thread' : 'parallel';
  let stopping = false;
  handleStopSignals({
    log,
    message: 'shutting down every server process',
    stop: () => {
      stopping = true;
      return supervisor.stop('SIGTERM');
    },
    // The supervisor kills a worker still running at stopTimeoutMs; this is for a primary that could not even do that.
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS + 5000 + STOP_GRACE_MS,
    abandon: () => supervisor.kill(),
  });
  log.info({ processes, gc }, 'starting server processes');
  await supervisor.start();
  void supervisor.whenAllExited().then(() => {
    if (!stopping) process.exit(0);
  });
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL);
  if (cluster.isWorker) {
    // pino puts every line's pid in already; the worker number ties restarts together.
    const worker = cluster.worker?.id;
    await runServer(config, log.child({ worker }), { clusterIpc: process as Required<StartOptions>['clusterIpc'], ...(worker !== undefined ? { worker } : {}) });
    return;
  }
  const { processCount } = await import('./cluster.js');
  const processes = processCount(config.PROCESSES);
  if (processes > 1) await runPrimary(config, log.child({ role: 'primary' }), processes);
  else await runServer(config, log);
}

main().catch((err: unknown) => {
  // A start step's error names its dependency and setting (src/startup.ts); any other error at least its cause.
  process.stderr.write(`Parley failed to start: ${describeError(err)}\n`);
  process.exit(1);
});
