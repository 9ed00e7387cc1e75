/**
 * Entry point of the embedded database's worker thread (started by pglite-thread.ts): PGlite (PostgreSQL in
 * WASM) and the pglite-socket server in front of it live here, so executing a query never runs on the event loop
 * that carries calls. The main thread reaches this thread's socket server over loopback with postgres.js, exactly
 * as it would a PostgreSQL server; the messages on the thread's port are about start-up, shutdown and the
 * notifications of the channels listened on (below).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import type { PGlite } from '@electric-sql/pglite';
import { NotificationScanner, type OnNotification } from './notification-scanner.js';
import type { CompiledModules, PGliteThreadMessage, PGliteThreadRequest, PGliteWorkerData } from './pglite-protocol.js';

const port = parentPort;
if (!port) throw new Error('pglite-worker.ts runs only as a worker thread');
const data = workerData as PGliteWorkerData;
const post = (m: PGliteThreadMessage): void => port.postMessage(m);

/**
 * PostgreSQL's own words while it starts (a FATAL line says which file or version is wrong), kept for the error
 * PGlite raises with only "failed to initialize properly". Nothing is kept once the database is open.
 */
const startupLog = {
  lines: [] as string[],
  open: false,
  collect(text: string): boolean {
    if (startupLog.open || !/\b(FATAL|PANIC|ERROR):/.test(text)) return false;
    startupLog.lines.push(text.replace(/^.*?\b(FATAL|PANIC|ERROR):\s*/, '$1: ').slice(0, 300));
    if (startupLog.lines.length > 5) startupLog.lines.shift();
    return false;
  },
};

/**
 * One full garbage collection of this thread's heap. Opening a database leaves hundreds of MB of dead WASM memory
 * behind (initdb's instance, the unpacked file bundle), and this thread allocates too little JavaScript for V8 to
 * collect it on its own: without this, the idle process stays 300-450 MB larger. `gc` is exposed only to a
 * fresh context, and the flag is switched off again at once.
 */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  try {
    (runInNewContext('gc') as () => void)();
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/** The compiled WASM modules the main thread sends (PGliteThreadRequest 'modules'); undefined: compile our own. */
const modulesSent = new Promise<CompiledModules | undefined>((resolve) => {
  const onMessage = (m: PGliteThreadRequest) => {
    if (m.type !== 'modules') return;
    port.off('message', onMessage);
    resolve(m.modules);
  };
  port.on('message', onMessage);
});

async function prepareDataDir(): Promise<void> {
  const { initialiseDataDir } = await import('./pglite-template.js');
  await initialiseDataDir(data.dataDir);
}

async function open() {
  const [{ PGlite }, { btree_gist }, { PGLiteSocketServer }] = await Promise.all([
    import('@electric-sql/pglite'), import('@electric-sql/pglite/contrib/btree_gist'), import('@electric-sql/pglite-socket'),
    data.prepareDataDir ? prepareDataDir() : undefined,
  ]);
  const modules = await modulesSent;
  // PostgreSQL's default 128 MB of shared buffers is most of PGlite's resident memory; a single-connection
  // embedded database serves Parley from 16 MB (idle RSS ~130 MB lower), the rest is the OS page cache's job.
  const startParams = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB', '-c', 'wal_buffers=1MB'];
  const db = await PGlite.create(data.dataDir, {
    extensions: { btree_gist },
    startParams,
    onStderr: startupLog.collect,
    ...(modules ? { pgliteWasmModule: modules.pglite, initdbWasmModule: modules.initdb } : {}),
  });
  const notify: OnNotification = (channel, payload) => post({ type: 'notification', channel, payload });
  const server = new PGLiteSocketServer({ db: observingNotifications(db, notify), host: '127.0.0.1', port: 0, maxConnections: 1 });
  try {
    // LISTEN before any client connects: the one backend every client shares is the listening session for good.
    for (const channel of data.channels) await db.exec(`LISTEN "${channel.replaceAll('"', '""')}"`);
    await server.start();
    startupLog.open = true;
    collectGarbage();
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  return { db, server };
}

/**
 * The database as the socket server sees it, except that every answer it streams to a client is also read for
 * notifications (notification-scanner.ts). PGlite raises a notification in the answer of the transaction that
 * committed it, which its own listeners never see; the client it goes to (postgres.js, not listening there)
 * ignores it. Every other property is PGlite's own, bound to it (its private state lives on the real instance).
 */
function observingNotifications(db: PGlite, onNotification: OnNotification): PGlite {
  const stream: PGlite['execProtocolRawStream'] = (message, options) => {
    const scanner = new NotificationScanner(onNotification);
    const onRawData = options?.onRawData;
    return db.execProtocolRawStream(message, {
      ...options,
      onRawData: (chunk) => {
        scanner.push(chunk);
        onRawData?.(chunk);
      },
    });
  };
  return new Proxy(db, {
    get(target, key) {
      if (key === 'execProtocolRawStream') return stream;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

open().then(
  ({ db, server }) => {
    const [host, portNumber] = server.getServerConn().split(':');
    post({ type: 'ready', host: host!, port: Number(portNumber) });
    port.on('message', (m: PGliteThreadRequest) => {
      if (m.type !== 'close') return;
      // Socket server first (no new queries), then PGlite, whose close is PostgreSQL's shutdown checkpoint: the
      // data directory is left clean, with nothing to recover at the next start.
      let dataDirTar: Uint8Array | undefined;
      server.stop()
        .then(async () => {
          if (m.dumpDataDir) dataDirTar = await dumpDataDir(db);
        })
        .then(() => db.close())
        .then(
          () => port.postMessage({ type: 'closed', ...(dataDirTar ? { dataDirTar } : {}) } satisfies PGliteThreadMessage, dataDirTar ? [dataDirTar.buffer as ArrayBuffer] : []),
          (err: unknown) => post({ type: 'closed', error: messageOf(err) }),
        )
        .finally(() => port.close());
    });
  },
  (err: unknown) => {
    const said = startupLog.lines.length ? ` (PostgreSQL: ${startupLog.lines.join('; ')})` : '';
    post({ type: 'failed', message: `${messageOf(err)}${said}` });
    port.close();
  },
);

/**
 * The data directory as a tar, taken after a checkpoint, so that a copy opened elsewhere has only the checkpoint
 * record itself to replay (PGlite makes a new on-disk cluster the same way: initdb in memory, then its dump).
 */
async function dumpDataDir(db: PGlite): Promise<Uint8Array> {
  await db.exec('CHECKPOINT');
  const tar = await db.dumpDataDir('none');
  return new Uint8Array(await tar.arrayBuffer());
}

function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.slice(0, 1000);
}

