/**
 * Runs Parley (src/main.ts) as a child process so its CPU, memory and event loop are measured apart from the
 * benchmark's callers and fake vendors. `node --import tsx` (not npx) keeps the server in the spawned pid; with
 * `entry` (a prebuilt dist/main.js, `npm run build`) plain node runs it instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ServerChildOptions {
  deepgramUrl: string;
  cartesiaUrl: string;
  openaiBaseUrl: string;
  databaseUrl?: string;
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']. */
  nodeFlags?: string[];
  /** CPU list for the server (taskset -c), e.g. '0'. */
  cpus?: string;
  /** PROCESSES for the server (node:cluster); more than 1 needs databaseUrl. */
  processes?: number;
  /** A built server entry (e.g. dist/main.js) to run with plain node; default src/main.ts under tsx. */
  entry?: string;
  /** More environment for the server (benchmark instrumentation, e.g. PARLEY_BENCH_GC_TRACE). */
  extraEnv?: Record<string, string>;
  /** Keep the server's log lines (stdout) for stdout(); the benchmarks leave them out. */
  captureStdout?: boolean;
}

export interface ServerChild {
  /** The server's process (with PROCESSES > 1: the primary, its workers below it). */
  pid: number;
  url: string;
  /** PUBLIC_URL of the server (what Twilio signatures are computed over). */
  publicUrl: string;
  adminToken: string;
  twilioAuthToken: string;
  /** Spawn → first 200 from /readyz, ms (polled every 50 ms). */
  readyMs: number;
  /** The child's stderr so far (for diagnosing a failed start). */
  stderr(): string;
  /** Its log lines (stdout) so far, with `captureStdout`. */
  stdout(): string;
  /** Its DATA_DIR (removed by stop()). */
  dataDir: string;
  /** Sends the server process a signal (stop() sends SIGTERM and waits). */
  signal(signal: NodeJS.Signals): void;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM, wait for a clean exit (the CPU profile is written then). */
  stop(): Promise<number | null>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startServerChild(o: ServerChildOptions): Promise<ServerChild> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const adminToken = randomBytes(16).toString('hex');
  const twilioAuthToken = randomBytes(16).toString('hex');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: url,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    ADMIN_TOKEN: adminToken,
    TWILIO_AUTH_TOKEN: twilioAuthToken,
    DEEPGRAM_API_KEY: 'dg-test',
    DEEPGRAM_URL: o.deepgramUrl,
    CARTESIA_API_KEY: 'cartesia-test',
    CARTESIA_URL: o.cartesiaUrl.replace(/^ws/, 'http'),
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: o.openaiBaseUrl,
    RATE_LIMIT_PER_MIN: '1000000',
    WORKERS_ENABLED: 'false',
    ...(o.databaseUrl ? { DATABASE_URL: o.databaseUrl } : {}),
    ...(o.processes && o.processes > 1 ? { PROCESSES: String(o.processes) } : {}),
    ...o.extraEnv,
  };
  const nodeArgs = [...(o.nodeFlags ?? []), ...(o.entry ? [o.entry] : ['--import', 'tsx', 'src/main.ts'])];
  // taskset execs node, so the server keeps the spawned pid (its CPU and RSS figures stay right).
  const [command, args] = o.cpus ? ['taskset', ['-c', o.cpus, process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const child: ChildProcess = spawn(command, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', o.captureStdout ? 'pipe' : 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let alive = true;
  void exited.then(() => (alive = false));

  const spawnedAt = performance.now();
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!alive) throw new Error(`the server exited during start-up:\n${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server was not ready within 60 s:\n${stderr}`);
    }
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const readyMs = performance.now() - spawnedAt;

  return {
    pid: child.pid!,
    url,
    publicUrl: url,
    readyMs,
    adminToken,
    twilioAuthToken,
    stderr: () => stderr,
    stdout: () => stdout,
    dataDir,
    signal: (signal) => {
      if (alive) child.kill(signal);
    },
    exited,
    async stop() {
      if (alive) child.kill('SIGTERM');
      const timer = setTimeout(() => alive && child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/**
 * A Parley started elsewhere (another machine, or by hand), given by URL and the secrets the benchmark needs.
 * Its cloud adapters must point at this benchmark's fakes (see --fakes-listen in calls.ts).
 */
export type ServerTarget = Omit<ServerChild, 'pid' | 'stdout' | 'dataDir' | 'signal' | 'exited'> & { pid: number | null };

export function remoteServer(o: { url: string; publicUrl?: string; adminToken: string; twilioAuthToken: string; pid?: number }): ServerTarget {
  return {
    pid: o.pid ?? null,
    url: o.url.replace(/\/+$/, ''),
    publicUrl: (o.publicUrl ?? o.url).replace(/\/+$/, ''),
    adminToken: o.adminToken,
    twilioAuthToken: o.twilioAuthToken,
    stderr: () => '',
    readyMs: NaN,
    stop: async () => null,
  };
}

/** Creates a company (admin API) and a bot answering `phoneNumber`; returns the bot id and the company's API key. */
export async function provisionBot(server: Pick<ServerChild, 'url' | 'adminToken'>, phoneNumber: string, config: Record<string, unknown>): Promise<{ botId: string; apiKey: string }> {
  const c = await fetch(`${server.url}/v1/admin/companies`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Bench Co' }),
  });
  if (c.status !== 201) throw new Error(`creating the company answered ${c.status}: ${await c.text()}`);
  const apiKey = ((await c.json()) as { api_key: { key: string } }).api_key.key;
  const b = await fetch(`${server.url}/v1/bots`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Bench bot', phone_number: phoneNumber, language: 'en', config }),
  });
  if (b.status !== 201) throw new Error(`creating the bot answered ${b.status}: ${await b.text()}`);
  return { botId: ((await b.json()) as { id: string }).id, apiKey };
}

export interface MetricsSnapshot {
  eventLoopLagP99Sec: number | null;
  eventLoopLagMaxSec: number | null;
  activeCalls: number;
  /** stage → { sum seconds, count } of parley_call_turn_latency_seconds. */
  turnStages: Map<string, { sum: number; count: number }>;
  /** parley_barge_in_seconds by stage: cumulative bucket counts (le seconds → count), sum and count. */
  bargeIn: Map<string, { buckets: Array<[number, number]>; sum: number; count: number }>;
  /** Summed over every server process (the cluster's /metrics adds them up); null when absent. */
  cpuSecondsTotal: number | null;
  residentBytes: number | null;
  /** Garbage-collection pauses by kind (major, minor, incremental, weakcb): seconds and count, summed over processes. */
  gcPauses: Map<string, { sum: number; count: number }>;
}

export async function scrapeMetrics(server: Pick<ServerChild, 'url'>): Promise<MetricsSnapshot> {
  const res = await fetch(`${server.url}/metrics`);
  const text = await res.text();
  const value = (name: string): number | null => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+|NaN)$`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  };
  let active = 0;
  for (const m of text.matchAll(/^parley_active_calls(?:\{[^}]*\})? ([0-9.eE+-]+)$/gm)) active += Number(m[1]);
  const turnStages = new Map<string, { sum: number; count: number }>();
  for (const m of text.matchAll(/^parley_call_turn_latency_seconds_(sum|count)\{stage="([^"]+)"\} ([0-9.eE+-]+)$/gm)) {
    const entry = turnStages.get(m[2]!) ?? { sum: 0, count: 0 };
    entry[m[1] as 'sum' | 'count'] = Number(m[3]);
    turnStages.set(m[2]!, entry);
  }
  const bargeIn = new Map<string, { buckets: Array<[number, number]>; sum: number; count: number }>();
  const bargeEntry = (stage: string) => {
    const e = bargeIn.get(stage) ?? { buckets: [], sum: 0, count: 0 };
    bargeIn.set(stage, e);
    return e;
  };
  for (const m of text.matchAll(/^parley_barge_in_seconds_bucket\{le="([^"]+)",stage="([^"]+)"\} ([0-9.eE+-]+)$/gm)) {
    bargeEntry(m[2]!).buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[3])]);
  }
  for (const m of text.matchAll(/^parley_barge_in_seconds_(sum|count)\{stage="([^"]+)"\} ([0-9.eE+-]+)$/gm)) {
    bargeEntry(m[2]!)[m[1] as 'sum' | 'count'] = Number(m[3]);
  }
  const gcPauses = new Map<string, { sum: number; count: number }>();
  for (const m of text.matchAll(/^parley_nodejs_gc_duration_seconds_(sum|count)\{kind="([^"]+)"\} ([0-9.eE+-]+)$/gm)) {
    const entry = gcPauses.get(m[2]!) ?? { sum: 0, count: 0 };
    entry[m[1] as 'sum' | 'count'] = Number(m[3]);
    gcPauses.set(m[2]!, entry);
  }
  return {
    bargeIn,
    gcPauses,
    cpuSecondsTotal: value('parley_process_cpu_seconds_total'),
    residentBytes: value('parley_process_resident_memory_bytes'),
    eventLoopLagP99Sec: value('parley_nodejs_eventloop_lag_p99_seconds'),
    eventLoopLagMaxSec: value('parley_nodejs_eventloop_lag_max_seconds'),
    activeCalls: active,
    turnStages,
  };
}
