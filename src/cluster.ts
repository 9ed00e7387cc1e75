/**
 * PROCESSES > 1: several server processes on one port (node:cluster). The primary only supervises — it creates
 * the generated secrets once (so every worker agrees), forks the workers, restarts one that dies, answers the
 * workers' requests for cluster-wide metrics (src/cluster-metrics.ts: every worker's registry over IPC, summed), and on SIGTERM/SIGINT
 * forwards the signal and waits for every worker's graceful shutdown. Each worker is a full Parley
 * (startServer): HTTP, media sockets and background workers, which claim their work in the database
 * (FOR UPDATE SKIP LOCKED), so nothing is shared in memory between processes.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Config } from './config.js';
import { CALL_LOOP_GC_FLAGS } from './gc-heap.js';
import type { Logger } from './log.js';
import { persistentSecret } from './secrets-file.js';
import { ClusterMetrics } from './cluster-metrics.js';
import { METRICS_REQUEST, METRICS_RESPONSE, type MetricsRequest, type MetricsResponse } from './metrics.js';

/** How many server processes PROCESSES asks for on this machine. */
export function processCount(setting: string, cores: number = availableParallelism()): number {
  return setting === 'auto' ? Math.max(1, cores) : Number(setting);
}

export { CALL_LOOP_GC_FLAGS };

/**
 * The node flags GC_THREADS asks for in each forked server process (gc-heap.ts says why): with V8's helper
 * threads taking turns with the call loops on the same cores, every call waits (docs/benchmarks.md: two processes
 * sharing one core, 200 calls, server-added p99 112–142 → 52–53 ms with the work on the main threads; one process
 * alone on its core, 92–129 → 42–65 ms). `auto` keeps the collector's pauses on the main thread where the
 * processes fill the cores (one per core or more), and leaves V8's default where cores are left over for the helpers.
 * `setting` is GC_THREADS: auto, main or parallel (config.ts checks it).
 */
export function workerGcFlags(setting: string, processes: number, cores: number = availableParallelism()): string[] {
  const mainThread = setting === 'main' || (setting === 'auto' && processes >= cores);
  return mainThread ? [...CALL_LOOP_GC_FLAGS] : [];
}

/** The node flags every forked server process starts with: the primary's own, plus what GC_THREADS asks for. */
export function workerExecArgv(gcSetting: string, processes: number, parentArgv: readonly string[] = process.execArgv, cores?: number): string[] {
  const extra = workerGcFlags(gcSetting, processes, cores).filter((f) => !parentArgv.includes(f));
  return [...parentArgv, ...extra];
}

/**
 * The generated secrets (ADMIN_TOKEN, CALL_TOKEN_SECRET, the development TWILIO_AUTH_TOKEN), created once here
 * before any worker starts. On disk they go to DATA_DIR, where every worker reads the same files; with a
 * memory:// DATA_DIR nothing is written, so they travel to the workers in their environment.
 */
export function prepareSharedSecrets(config: Config, log: Pick<Logger, 'warn'>): Record<string, string> {
  const wanted: Array<[string, string]> = [];
  if (!config.ADMIN_TOKEN) wanted.push(['ADMIN_TOKEN', 'admin-token']);
  if (!config.CALL_TOKEN_SECRET) wanted.push(['CALL_TOKEN_SECRET', 'call-token-secret']);
  // With TWILIO_ACCOUNT_SID set, a TWILIO_AUTH_TOKEN in the environment would switch the REST client on: keep
  // the development token a file (workers generate nothing when it already exists).
  if (!config.TWILIO_AUTH_TOKEN && !config.TWILIO_ACCOUNT_SID) wanted.push(['TWILIO_AUTH_TOKEN', 'twilio-auth-token']);
  else if (!config.TWILIO_AUTH_TOKEN) wanted.push(['', 'twilio-auth-token']);
  const env: Record<string, string> = {};
  for (const [variable, file] of wanted) {
    const s = persistentSecret(config.DATA_DIR, file);
    if (s.path === null) {
      if (variable) env[variable] = s.value;
    } else if (s.created) {
      log.warn({ variable: variable || 'TWILIO_AUTH_TOKEN', file: s.path }, `${variable || 'TWILIO_AUTH_TOKEN'} not set; generated one into DATA_DIR`);
    }
  }
  return env;
}

export interface SupervisorOptions {
  processes: number;
  log: Logger;
  /** Extra environment for every worker (e.g. secrets from prepareSharedSecrets). */
  env?: Record<string, string>;
  /** How long a worker may take to shut down after SIGTERM before it is killed (SHUTDOWN_TIMEOUT_MS + margin). */
  stopTimeoutMs: number;
  /** A worker that dies is forked again after this delay, doubled for each crash within a minute of its start. */
  restartDelayMs?: number;
  /** The script workers run (default: this process's own entry). Tests point it at a fixture. */
  exec?: string;
  /** Node flags of every worker (default: this process's own). */
  execArgv?: string[];
}

/** The primary of a PROCESSES > 1 server. */
export class Supervisor {
  private stopping = false;
  private starting = false;
  private readonly started = new Map<number, number>();
  private readonly live = new Map<number, Worker>();
  private quickCrashes = 0;
  private readonly metrics = new ClusterMetrics();
  private readonly exited: Promise<void>;
  private resolveExited!: () => void;
  private failures = 0;
  private restartTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly o: SupervisorOptions) {
    this.exited = new Promise((r) => (this.resolveExited = r));
  }

  /** Live workers (forked and not yet exited; cluster.workers keeps a dead one until its IPC channel closes too). */
  get workers(): Worker[] {
    return [...this.live.values()];
  }

  /**
   * Forks the workers; resolves once every one of them is listening. A worker that exits before it listens
   * (bad database URL, a migration that fails) fails the start: the others are stopped and this rejects, rather
   * than restarting it forever.
   */
  async start(): Promise<void> {
    if (!cluster.isPrimary) throw new Error('the supervisor runs in the primary process');
    if (this.o.exec || this.o.execArgv) cluster.setupPrimary({ ...(this.o.exec ? { exec: this.o.exec } : {}), ...(this.o.execArgv ? { execArgv: this.o.execArgv } : {}) });
    cluster.on('message', (worker, message: unknown) => this.onMessage(worker, message));
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
    this.starting = true;
    const listening = await Promise.all(Array.from({ length: this.o.processes }, () => this.fork()));
    this.starting = false;
    if (!listening.every(Boolean)) {
      await this.stop();
      throw new Error('a server process exited during start-up (its log says why)');
    }
    this.o.log.info({ processes: this.o.processes, pids: this.workers.map((w) => w.process.pid) }, 'all server processes listening');
  }

  /** Resolves true once the worker listens, false if it exits first. */
  private fork(): Promise<boolean> {
    const worker = cluster.fork(this.o.env ?? {});
    this.started.set(worker.id, Date.now());
    this.live.set(worker.id, worker);
    return new Promise((resolve) => {
      worker.once('listening', () => resolve(true));
      worker.once('exit', () => resolve(false));
    });
  }

  private onMessage(worker: Worker, message: unknown): void {
    if (!this.live.has(worker.id) || this.metrics.onMessage(message)) return;
    const m = message as Partial<MetricsRequest> | null;
    if (!m || m.type !== METRICS_REQUEST || typeof m.id !== 'number') return;
    const id = m.id;
    const reply = (r: Omit<MetricsResponse, 'type' | 'id'>): void => {
      if (worker.isConnected()) worker.send({ type: METRICS_RESPONSE, id, ...r } satisfies MetricsResponse);
    };
    this.metrics.render(this.workers).then(
      (text) => reply({ text }),
      (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
    );
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    if (!this.live.has(worker.id)) return; // not one of this supervisor's
    const startedAt = this.started.get(worker.id) ?? Date.now();
    this.started.delete(worker.id);
    this.live.delete(worker.id);
    this.metrics.retire(worker.id);
    const crashed = (code !== 0 && code !== null) || signal !== null;
    if (crashed) this.failures++;
    if (this.stopping || this.starting || !crashed) {
      if (!this.stopping) this.o.log.info({ pid: worker.process.pid, code }, 'server process exited cleanly; not restarted');
      if (this.workers.length === 0 && this.restartTimers.size === 0) this.resolveExited();
      return;
    }
    this.quickCrashes = Date.now() - startedAt < 60_000 ? this.quickCrashes + 1 : 0;
    const delay = Math.min(30_000, (this.o.restartDelayMs ?? 1000) * 2 ** Math.max(0, this.quickCrashes - 1));
    this.o.log.error({ pid: worker.process.pid, code, signal, restartInMs: delay }, 'server process died; starting another');
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (!this.stopping) void this.fork();
      else if (this.workers.length === 0) this.resolveExited();
    }, delay);
    this.restartTimers.add(timer);
  }

  /** Kills every worker at once (SIGKILL): the operator's second signal, or a primary out of time. */
  kill(): void {
    for (const w of this.workers) w.process.kill('SIGKILL');
  }

  /** Resolves when no worker is left (after stop(), or when every worker exited cleanly). */
  whenAllExited(): Promise<void> {
    return this.exited;
  }

  /**
   * Forwards `signal` to every worker and waits for them to finish their calls and jobs; a worker still
   * running after stopTimeoutMs is killed. Resolves true when every worker exited cleanly.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
    if (!this.stopping) {
      this.stopping = true;
      this.failures = 0;
      for (const t of this.restartTimers) clearTimeout(t);
      this.restartTimers.clear();
      for (const w of this.workers) w.process.kill(signal);
    }
    if (this.workers.length === 0) this.resolveExited();
    const killer = setTimeout(() => {
      for (const w of this.workers) {
        this.o.log.error({ pid: w.process.pid }, 'server process did not stop in time; killing it');
        w.process.kill('SIGKILL');
      }
    }, this.o.stopTimeoutMs);
    await this.exited;
    clearTimeout(killer);
    return this.failures === 0;
  }
}
