/**
 * The PROCESSES > 1 primary (src/cluster.ts) with a small fixture worker: several processes answer on one port,
 * /metrics sums every process, a worker that dies is replaced, and stop() forwards SIGTERM and waits for each
 * worker's graceful exit. Plus the settings: PGlite refuses PROCESSES > 1, generated secrets are created once.
 */
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALL_LOOP_GC_FLAGS, Supervisor, prepareSharedSecrets, processCount, workerExecArgv, workerGcFlags } from '../../src/cluster.js';
import { ConfigError, loadConfig, testConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { until } from '../helpers/until.js';

const METRICS_MODULE = fileURLToPath(new URL('../../src/metrics.ts', import.meta.url));

/** One HTTP request on a fresh connection (so the cluster's round robin sees each one). */
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('the cluster primary with a fixture worker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-cluster-'));
  let port = 0;
  let supervisor: Supervisor;

  beforeAll(async () => {
    port = await freePort();
    // A worker: one counter in its own registry, /metrics through the primary (useClusterMetrics), /crash dies,
    // SIGTERM finishes "in-flight work" for 300 ms, then leaves a file saying it stopped cleanly.
    const worker = join(dir, 'worker.ts');
    writeFileSync(worker, `
      import { createServer } from 'node:http';
      import { writeFileSync } from 'node:fs';
      import cluster from 'node:cluster';
      import { createMetrics, useClusterMetrics } from ${JSON.stringify(METRICS_MODULE)};
      const metrics = createMetrics({ worker: String(cluster.worker?.id) });
      useClusterMetrics(metrics, process);
      metrics.webhookAttempts.inc({ outcome: 'delivered' });
      const server = createServer(async (req, res) => {
        if (req.url === '/crash') process.exit(3);
        if (req.url === '/metrics') { res.end(await metrics.render()); return; }
        if (req.url === '/argv') { res.end(JSON.stringify(process.execArgv)); return; }
        res.end(String(process.pid));
      });
      server.listen(${port}, '127.0.0.1');
      process.on('SIGTERM', () => {
        server.close();
        setTimeout(() => { writeFileSync(${JSON.stringify(dir)} + '/stopped-' + process.pid, 'ok'); process.exit(0); }, 300);
      });
    `);
    supervisor = new Supervisor({
      processes: 2,
      log: createLogger('silent'),
      stopTimeoutMs: 10_000,
      restartDelayMs: 10,
      exec: worker,
      // As the primary passes GC_THREADS=main on (main.ts): node must accept the flags in a forked worker.
      execArgv: ['--import', 'tsx', ...CALL_LOOP_GC_FLAGS],
    });
    await supervisor.start();
  }, 60_000);

  afterAll(async () => {
    await supervisor?.stop();
  });

  it('answers on one port from two processes', async () => {
    const pids = new Set<string>();
    for (let i = 0; i < 20 && pids.size < 2; i++) pids.add((await get(port, '/')).body);
    expect(pids.size).toBe(2);
    expect([...pids].sort()).toEqual(supervisor.workers.map((w) => String(w.process.pid)).sort());
  });

  it('starts every worker with the node flags it was given (the GC flags included)', async () => {
    const argv = JSON.parse((await get(port, '/argv')).body) as string[];
    expect(argv).toEqual(expect.arrayContaining([...CALL_LOOP_GC_FLAGS]));
  });

  it('serves one /metrics for every process', async () => {
    const { body } = await get(port, '/metrics');
    // Each worker counted one delivery: the sum is 2, whichever worker answered.
    expect(body).toMatch(/^parley_webhook_attempts_total\{outcome="delivered"\} 2$/m);
    // The process metrics stay per process (labelled with the worker's number), not averaged into one value.
    const heapByWorker = body.split('\n').filter((l) => l.startsWith('parley_nodejs_heap_size_used_bytes{'));
    expect(heapByWorker.map((l) => /worker="(\d+)"/.exec(l)?.[1]).sort()).toEqual(supervisor.workers.map((w) => String(w.id)).sort());
  });

  it('replaces a worker that dies, and its counts stay in the server\'s: the counters never go down', async () => {
    const delivered = async () => Number(/^parley_webhook_attempts_total\{outcome="delivered"\} (\d+)$/m.exec((await get(port, '/metrics')).body)?.[1]);
    expect(await delivered()).toBe(2);
    const before = supervisor.workers.map((w) => w.process.pid);
    await get(port, '/crash').catch(() => null);
    const after = await until(async () => {
      const pids = supervisor.workers.map((w) => w.process.pid);
      return pids.length === 2 && pids.some((p) => !before.includes(p)) ? pids : null;
    });
    expect(after).toHaveLength(2);
    // The replacement answers too.
    const seen = new Set<string>();
    await until(async () => {
      seen.add((await get(port, '/')).body);
      return after.every((p) => seen.has(String(p)));
    });
    // Each worker counts one delivery at its start: the dead one's, the survivor's and the replacement's.
    expect(await delivered()).toBe(3);
    // Each process's start time, apart (a restart shows as a new series).
    const starts = (await get(port, '/metrics')).body.split('\n').filter((l) => l.startsWith('parley_process_start_time_seconds{'));
    expect(starts.map((l) => /worker="(\d+)"/.exec(l)?.[1]).sort()).toEqual(supervisor.workers.map((w) => String(w.id)).sort());
  });

  it('stop() forwards SIGTERM and waits for every worker to finish', async () => {
    const pids = supervisor.workers.map((w) => w.process.pid);
    const clean = await supervisor.stop();
    expect(clean).toBe(true);
    expect(supervisor.workers).toHaveLength(0);
    // Both workers ran their shutdown to the end (300 ms of "in-flight work"), none was killed.
    for (const pid of pids) expect(existsSync(join(dir, `stopped-${pid}`))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('stopped-'))).toHaveLength(2);
  }, 30_000);
});

describe('a worker that cannot start', () => {
  it('fails the start instead of restarting it forever', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-cluster-fail-'));
    const worker = join(dir, 'worker.mjs');
    writeFileSync(worker, `process.stderr.write('no database\\n'); process.exit(1);`);
    const supervisor = new Supervisor({ processes: 2, log: createLogger('silent'), stopTimeoutMs: 5000, restartDelayMs: 10, exec: worker, execArgv: [] });
    await expect(supervisor.start()).rejects.toThrow(/exited during start-up/);
    expect(supervisor.workers).toHaveLength(0);
  }, 30_000);
});

describe('PROCESSES settings', () => {
  it('refuses more than one process on embedded PGlite, naming both variables', () => {
    for (const value of ['2', 'auto']) {
      let error: unknown;
      try {
        loadConfig({ PROCESSES: value });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain('PROCESSES');
      expect((error as Error).message).toContain('DATABASE_URL');
    }
    expect(loadConfig({ PROCESSES: '4', DATABASE_URL: 'postgres://x@127.0.0.1/db' }).PROCESSES).toBe('4');
    expect(() => loadConfig({ PROCESSES: 'many', DATABASE_URL: 'postgres://x@127.0.0.1/db' })).toThrow(/PROCESSES/);
    expect(() => loadConfig({ PROCESSES: '0', DATABASE_URL: 'postgres://x@127.0.0.1/db' })).toThrow(/PROCESSES/);
    expect(loadConfig({}).PROCESSES).toBe('1');
  });

  it('GC_THREADS: the collector on the main thread where the processes fill the cores, V8\'s helpers where cores are left', () => {
    expect(workerGcFlags('auto', 8, 8)).toEqual([...CALL_LOOP_GC_FLAGS]);
    expect(workerGcFlags('auto', 12, 8)).toEqual([...CALL_LOOP_GC_FLAGS]);
    expect(workerGcFlags('auto', 2, 8)).toEqual([]);
    expect(workerGcFlags('main', 2, 8)).toEqual([...CALL_LOOP_GC_FLAGS]);
    expect(workerGcFlags('parallel', 8, 8)).toEqual([]);
    const db = { DATABASE_URL: 'postgres://x@127.0.0.1/db' };
    expect(loadConfig({ ...db, PROCESSES: '2', GC_THREADS: 'main' }).GC_THREADS).toBe('main');
    expect(loadConfig({}).GC_THREADS).toBe('auto');
    expect(() => loadConfig({ ...db, PROCESSES: '2', GC_THREADS: 'helpers' })).toThrow(/GC_THREADS/);
    // The workers keep the primary's own flags (a loader, say) and get the GC flag once.
    expect(workerExecArgv('auto', 4, ['--import', 'tsx'], 4)).toEqual(['--import', 'tsx', ...CALL_LOOP_GC_FLAGS]);
    expect(workerExecArgv('main', 2, [...CALL_LOOP_GC_FLAGS], 8)).toEqual([...CALL_LOOP_GC_FLAGS]);
    expect(workerExecArgv('auto', 2, ['--max-old-space-size=512'], 8)).toEqual(['--max-old-space-size=512']);
    // One process cannot change its own collector once running: the setting says how, rather than doing nothing.
    expect(() => loadConfig({ GC_THREADS: 'main' })).toThrow(/--no-concurrent-marking/);
  });

  it('auto means one process per core', () => {
    expect(processCount('auto', 8)).toBe(8);
    expect(processCount('3', 8)).toBe(3);
  });

  it('creates the generated secrets once, before the workers, in DATA_DIR', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-secrets-'));
    const log = { warn: () => {} };
    const config = testConfig({ DATA_DIR: dataDir });
    expect(prepareSharedSecrets(config, log)).toEqual({});
    const admin = readFileSync(join(dataDir, 'admin-token'), 'utf8');
    expect(existsSync(join(dataDir, 'call-token-secret'))).toBe(true);
    expect(existsSync(join(dataDir, 'twilio-auth-token'))).toBe(true);
    prepareSharedSecrets(config, log);
    expect(readFileSync(join(dataDir, 'admin-token'), 'utf8')).toBe(admin);
  });

  it('hands memory:// secrets to the workers in their environment', () => {
    const env = prepareSharedSecrets(testConfig({ DATA_DIR: 'memory://' }), { warn: () => {} });
    expect(Object.keys(env).sort()).toEqual(['ADMIN_TOKEN', 'CALL_TOKEN_SECRET', 'TWILIO_AUTH_TOKEN']);
    expect(loadConfig({ ...env }).ADMIN_TOKEN).toBe(env.ADMIN_TOKEN);
    const set = prepareSharedSecrets(testConfig({ DATA_DIR: 'memory://', ADMIN_TOKEN: 'x'.repeat(40), CALL_TOKEN_SECRET: 'c'.repeat(40), TWILIO_AUTH_TOKEN: 't' }), { warn: () => {} });
    expect(set).toEqual({});
  });
});
