/**
 * Load benchmark: N concurrent simulated phone calls against one Parley server (a child process) whose cloud
 * adapters talk to fake Deepgram / OpenAI / Cartesia servers answering with set latencies. Prints server-added
 * latency per turn (voice-to-voice minus the set provider latencies and the turn-taking policy's set waits),
 * hop by hop, barge-in → clear time, the server's event-loop delay, CPU and RSS per call, and late or dropped
 * frames. Exits non-zero only when the harness itself fails; missed targets are printed as MISS.
 *   npm run bench:calls -- --calls 50 [--turns 3] [--stagger-ms 2000] [--database-url postgres://…] [--cpu-prof]
 *     [--pin 0-1:1  (server CPUs : load-generator CPUs, via taskset; a PostgreSQL on this machine goes to the
 *      generator's CPUs for the run, lib/pin-database.ts, unless --database-floats)] [--server-node-flags "…"]
 *     [--llm-token-interval-ms 0] [--tts-chunk-interval-ms 0] [--processes N  (PROCESSES for the server; needs --database-url)]
 *     [--server-entry dist/main.js  (run a prebuilt server with plain node instead of src/main.ts under tsx)]
 *     [--warm-up-calls 10  (concurrent calls before the measurement, so V8 has optimised the path; 1 = one call)]
 *     [--turns-out FILE  (every matched turn's hops, and when its largest hop began, as JSON lines)]
 *     [--gc-trace  (the server's processes log their collections and loop stalls: each full collection of the load is
 *      printed with the stall around it and how many of the worst 1 % of turns fell near it; scripts/bench/lib/gc-trace.ts)]
 *     [--listen-only-ms 30000  (the measured callers say nothing after the greeting, then hang up: what the line
 *      itself costs — Twilio's 50 frames a second in, Deepgram packets out — without turns; compare with a full run
 *      and with scripts/bench/transport-floor.ts, the same traffic through bare sockets)]
 *   An idle server: npm run bench:calls -- --idle [--workers] [--database-url …] [--server-entry dist/main.js]: time to
 *     healthy, idle RSS, its CPU time per second over 30 s, and with --database-url the transactions per second it asks
 *     of that database (give it a database of its own; --workers runs the background workers, off by default here)
 *   The load generator alone, against a Parley started elsewhere (another machine, or by hand):
 *     npm run bench:calls -- --server-url http://10.0.0.5:3000 --admin-token … --twilio-auth-token … [--public-url …]
 *       --fakes-listen 0.0.0.0:4100 [--server-pid PID  (when the server runs on this machine: CPU/RSS from /proc)]
 *   The fake vendors then listen on PORT, PORT+1, PORT+2 (Deepgram, OpenAI, Cartesia); --print-server-env prints the
 *   settings the server needs for them (start it with those, then run the benchmark).
 */
import { execFileSync } from 'node:child_process';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { FakeCartesia } from '../../tests/fakes/fakeCartesia.js';
import { FakeDeepgram, mulawToneFrame } from '../../tests/fakes/fakeDeepgram.js';
import { FakeOpenAI, type FakeChatReply } from '../../tests/fakes/fakeOpenAI.js';
import { EncodedSpeech } from './lib/bench-caller.js';
import { runCall, type CallResult, type CallScriptOptions } from './lib/call-script.js';
import { forwardPort } from './lib/forward.js';
import { pinDatabase, type PinnedDatabase } from './lib/pin-database.js';
import { fullCollections, readGcTraces } from './lib/gc-trace.js';
import { loadAverage, processTree, RssSampler, treeCpuSeconds, treeRssBytes, treeRunQueueWaitSeconds } from './lib/proc-stats.js';
import { provisionBot, remoteServer, scrapeMetrics, startServerChild, type MetricsSnapshot, type ServerTarget } from './lib/server-child.js';
import { parseTurnTag, tailBursts, TurnTracer, turnTag, type TurnBreakdown } from './lib/turn-trace.js';
import { fmtMs, fmtSummary, percentile, summarize } from './lib/stats.js';
import { VOICE_END_SILENCE_MS, VOICE_ONSET_MS } from '../../src/call/caller-voice.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '50' },
    turns: { type: 'string', default: '3' },
    'stagger-ms': { type: 'string', default: '2000' },
    'stt-final-ms': { type: 'string', default: '150' },
    'llm-first-token-ms': { type: 'string', default: '300' },
    'tts-first-audio-ms': { type: 'string', default: '90' },
    'tts-chunk-interval-ms': { type: 'string', default: '0' },
    'llm-token-interval-ms': { type: 'string', default: '0' },
    'barge-in-min-ms': { type: 'string', default: '200' },
    'database-url': { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    /** e.g. 0:1 — the server on CPU 0, this load generator (callers + fakes) on CPU 1, as if on separate machines. */
    pin: { type: 'string' },
    /** With --pin and a PostgreSQL on this machine: leave it floating instead of moving it to the generator's CPUs. */
    'database-floats': { type: 'boolean', default: false },
    /** Extra flags for the server's node, e.g. "--max-semi-space-size=32". */
    'server-node-flags': { type: 'string', default: '' },
    'cpu-prof-dir': { type: 'string', default: '/tmp/parley-bench-prof' },
    processes: { type: 'string', default: '1' },
    'server-url': { type: 'string' },
    'public-url': { type: 'string' },
    'admin-token': { type: 'string' },
    'twilio-auth-token': { type: 'string' },
    'server-pid': { type: 'string' },
    /** HOST:PORT where the fakes listen for a server given by --server-url (PORT, PORT+1, PORT+2). */
    'fakes-listen': { type: 'string' },
    'print-server-env': { type: 'boolean', default: false },
    /** Only start the server (as `npm start` would, no calls), report time to healthy and idle RSS, stop. */
    idle: { type: 'boolean', default: false },
    /** Run the server's background workers (WORKERS_ENABLED; off by default: the benchmark measures calls). */
    workers: { type: 'boolean', default: false },
    'server-entry': { type: 'string' },
    /** Calls run (concurrently, 2 turns each) before the measurement; 1 = a single 1-turn call, as before. */
    'warm-up-calls': { type: 'string', default: '10' },
    'listen-only-ms': { type: 'string' },
    /** Writes every matched turn's hop breakdown (with when its largest hop began, epoch ms) as JSON lines. */
    'turns-out': { type: 'string' },
    'gc-trace': { type: 'boolean', default: false },
  },
});

const N = Number(args.calls);
const TURNS = Number(args.turns);
const STAGGER_MS = Number(args['stagger-ms']);
const STT_FINAL_MS = Number(args['stt-final-ms']);
const LLM_FIRST_TOKEN_MS = Number(args['llm-first-token-ms']);
const TTS_FIRST_AUDIO_MS = Number(args['tts-first-audio-ms']);
const BARGE_IN_MIN_MS = Number(args['barge-in-min-ms']);
const TTS_MS_PER_WORD = 120;
/** The fake Deepgram reports SpeechStarted once this much energetic audio has arrived (its minSpeechMs). */
const FAKE_MIN_SPEECH_MS = 60;
/** The bench bot's end-of-turn wait once its text reads complete (set explicitly; the default is 0). */
const EOT_COMPLETE_WAIT_MS = 0;
const FRAME_MS = 20;
// A fresh number per run: a shared --database-url keeps the bots of earlier runs active.
const BOT_NUMBER = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
const GREETING = 'Hello, how can I help?';
const SHORT_REPLY = 'We are open from nine to six on weekdays.';
const LONG_REPLY = Array.from({ length: 8 }, (_, i) => `Point ${i + 1} of our policy is that every visit is confirmed by a text message the day before.`).join(' ');
/**
 * How often /metrics is read during the load (event-loop delay windows, peak active calls). Each scrape costs the
 * server a few ms (prom-client's default process metrics read /proc and the registry serialises every series):
 * every second, that was ~1–2 % of the server's CPU in this benchmark — the benchmark's cost, not the calls'.
 * Prometheus itself scrapes every 15–60 s.
 */
const SCRAPE_INTERVAL_MS = 5000;
const WARM_UP_CALLS = Math.min(N, Number(args['warm-up-calls']));
/** Set: the measured calls only listen (see --listen-only-ms); the warm-up calls still talk, to warm every path. */
const LISTEN_MS = args['listen-only-ms'] === undefined ? undefined : Number(args['listen-only-ms']);
const TARGET_SERVER_ADDED_P99_MS = 20;
const TARGET_RSS_PER_CALL_MB = 5;
/** ≤ 0.2 % of a core per call on the cloud path. */
const TARGET_CPU_MS_PER_CALL_SECOND = 2.0;

const words = (s: string): number => s.split(/\s+/).filter(Boolean).length;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MB`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function lastUserText(body: Record<string, unknown>): string {
  const messages = (body.messages ?? []) as Array<{ role: string; content?: unknown }>;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role === 'user' && typeof m.content === 'string') return m.content;
  }
  return '';
}

/** The TurnLatency fields the call loop stores on each bot turn of the transcript. */
const STORED_STAGES = ['speechMs', 'sttFinalMs', 'endpointMs', 'llmFirstTokenMs', 'ttsFirstAudioMs', 'responseMs', 'totalMs'] as const;
/** What each stored field measures (src/call/types.ts TurnLatency), and what to compare it with here. */
const STAGE_MEANING: Record<string, string> = {
  speechMs: '[onset → end of speech: how long the caller spoke]',
  sttFinalMs: `[→ the recognizer's final: VAD silence ${VOICE_END_SILENCE_MS} + Finalize + STT ${STT_FINAL_MS}]`,
  endpointMs: '[→ the turn closed ("the caller is done")]',
  llmFirstTokenMs: `[→ first LLM token: + LLM ${LLM_FIRST_TOKEN_MS}]`,
  ttsFirstAudioMs: `[→ first TTS audio: + TTS ${TTS_FIRST_AUDIO_MS}]`,
  responseMs: '[→ first audio frame handed to the transport]',
  totalMs: '[= responseMs]',
};

/** Reads each call's stored transcript (GET /v1/calls/:id) and collects its bot turns' latency fields. */
async function storedTurnStages(server: ServerTarget, apiKey: string, callIds: string[]): Promise<{ calls: number; turns: number; stages: Map<string, number[]> }> {
  const stages = new Map<string, number[]>();
  let calls = 0;
  let turns = 0;
  for (let i = 0; i < callIds.length; i += 10) {
    await Promise.all(callIds.slice(i, i + 10).map(async (id) => {
      const res = await fetch(`${server.url}/v1/calls/${id}`, { headers: { authorization: `Bearer ${apiKey}` } }).catch(() => null);
      if (!res || res.status !== 200) return;
      calls++;
      const body = (await res.json()) as { transcript?: Array<{ role: string; latency?: Record<string, number | null> }> };
      for (const e of body.transcript ?? []) {
        if (e.role !== 'bot' || !e.latency) continue;
        turns++;
        for (const f of STORED_STAGES) {
          const v = e.latency[f];
          if (typeof v === 'number') stages.set(f, [...(stages.get(f) ?? []), v]);
        }
      }
    }));
  }
  return { calls, turns, stages };
}

/** Mean and bucket-bound p50/p95 of a Prometheus histogram's growth since `before`. */
function histogramSummary(h: MetricsSnapshot['bargeIn'] extends Map<string, infer V> ? V : never, before?: typeof h): string {
  const count = h.count - (before?.count ?? 0);
  if (count <= 0) return 'none';
  const sum = h.sum - (before?.sum ?? 0);
  const bound = (q: number): string => {
    for (const [le, c] of h.buckets) {
      const prev = before?.buckets.find(([l]) => l === le)?.[1] ?? 0;
      if (c - prev >= q * count) return le === Infinity ? '> last bucket' : `≤ ${(le * 1000).toFixed(0)} ms`;
    }
    return '?';
  };
  return `n ${count}, mean ${((sum / count) * 1000).toFixed(0)} ms, p50 ${bound(0.5)}, p95 ${bound(0.95)}`;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function main(): Promise<number> {
  if (!Number.isInteger(N) || N < 1 || !Number.isInteger(TURNS) || TURNS < 1) throw new Error('--calls and --turns must be positive integers');
  if (!Number.isInteger(WARM_UP_CALLS) || WARM_UP_CALLS < 1) throw new Error('--warm-up-calls must be a positive integer');
  if (LISTEN_MS !== undefined && (!Number.isInteger(LISTEN_MS) || LISTEN_MS < 1000)) throw new Error('--listen-only-ms takes whole ms, at least 1000');
  if (args['print-server-env']) {
    const listen = args['fakes-listen'] ?? '127.0.0.1:4100';
    const host = listen.replace(/:\d+$/, '').replace('0.0.0.0', '<this machine>');
    const base = Number(/:(\d+)$/.exec(listen)?.[1] ?? 4100);
    process.stdout.write([
      '# Start Parley with these (plus DATABASE_URL, PROCESSES, ADMIN_TOKEN, TWILIO_AUTH_TOKEN, PUBLIC_URL), then run',
      `# npm run bench:calls -- --server-url … --admin-token … --twilio-auth-token … --fakes-listen ${listen}`,
      `DEEPGRAM_API_KEY=dg-test DEEPGRAM_URL=ws://${host}:${base}`,
      `OPENAI_API_KEY=sk-test OPENAI_BASE_URL=http://${host}:${base + 1}/v1`,
      `CARTESIA_API_KEY=cartesia-test CARTESIA_URL=http://${host}:${base + 2}`,
      'RATE_LIMIT_PER_MIN=1000000 WORKERS_ENABLED=false LOG_LEVEL=warn',
      '',
    ].join('\n'));
    return 0;
  }
  const loadBefore = loadAverage();

  const tracer = new TurnTracer(VOICE_END_SILENCE_MS, STT_FINAL_MS);
  /** Caller tag → its number of ordinary turns: the answer to the next utterance is the long one to interrupt. */
  const turnsByTag = new Map<number, number>();
  const deepgram = await FakeDeepgram.start({ finalLatencyMs: STT_FINAL_MS, minSpeechMs: FAKE_MIN_SPEECH_MS });
  // Punctuated, as Deepgram returns it (punctuate and smart_format are on).
  deepgram.transcriptFor = tracer.transcript('What time do you close today?');
  deepgram.trace = tracer.onDeepgram;
  const openai = await FakeOpenAI.start({ firstTokenLatencyMs: LLM_FIRST_TOKEN_MS, tokenIntervalMs: Number(args['llm-token-interval-ms']) });
  const cartesia = await FakeCartesia.start({ firstAudioLatencyMs: TTS_FIRST_AUDIO_MS, chunkIntervalMs: Number(args['tts-chunk-interval-ms']), msPerWord: TTS_MS_PER_WORD });
  cartesia.trace = tracer.onCartesia;
  // The reply starts with the turn's tag, so the first phrase Parley sends to TTS can be matched to the turn.
  openai.reply = (body): FakeChatReply => {
    const last = lastUserText(body);
    tracer.onLlmRequest(last, performance.now());
    const t = parseTurnTag(last);
    if (!t) return { text: SHORT_REPLY };
    return { text: `${turnTag(t.caller, t.utterance)} ${t.utterance === turnsByTag.get(t.caller) ? LONG_REPLY : SHORT_REPLY}` };
  };
  openai.onFirstToken = (body, at) => tracer.onLlmFirstToken(lastUserText(body), at);

  const nodeFlags: string[] = args['server-node-flags'].split(/\s+/).filter(Boolean);
  if (args['cpu-prof']) {
    mkdirSync(args['cpu-prof-dir'], { recursive: true });
    nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${args['cpu-prof-dir']}`);
  }
  // The preload runs in each server process (forked workers inherit the flag) and writes `<gcTrace>.<pid>`.
  const gcTrace = args['gc-trace'] ? join(mkdtempSync(join(tmpdir(), 'parley-gc-trace-')), 'trace') : null;
  if (gcTrace) nodeFlags.push('--import', new URL('./lib/gc-trace-preload.mjs', import.meta.url).href);
  let server: ServerTarget | null = null;
  let pinnedDatabase: PinnedDatabase | null = null;
  let databasePinning = 'PostgreSQL and the kernel float';
  const forwards: Array<import('node:net').Server> = [];
  const PROCESSES = Number(args.processes);
  // Interrupted (Ctrl-C), the finally below never runs: the server child must not outlive the benchmark, nor
  // PostgreSQL stay on the generator's CPUs.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      pinnedDatabase?.restore();
      void (server?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
  try {
    const [serverCpus, harnessCpus] = (args.pin ?? '').split(':');
    if (args.pin && (!serverCpus || !harnessCpus)) throw new Error('--pin takes SERVER_CPUS:HARNESS_CPUS, e.g. 0:1');
    if (!Number.isInteger(PROCESSES) || PROCESSES < 1) throw new Error('--processes takes a positive integer');
    if (PROCESSES > 1 && !args['database-url'] && !args['server-url']) throw new Error('--processes > 1 needs --database-url (embedded PGlite is single-process)');
    if (harnessCpus) execFileSync('taskset', ['-a', '-p', '-c', harnessCpus, String(process.pid)], { stdio: 'ignore' });
    if (harnessCpus && args['database-url'] && !args['database-floats']) {
      try {
        pinnedDatabase = await pinDatabase(args['database-url'], harnessCpus);
        databasePinning = `PostgreSQL (postmaster ${pinnedDatabase.postmasterPid}, ${pinnedDatabase.processes} processes and the backends it forks) on CPU ${harnessCpus} with the generator; the kernel floats`;
      } catch (err) {
        databasePinning = `PostgreSQL floats (not pinned: ${(err as Error).message}), and the kernel`;
      }
    } else if (args['database-floats']) databasePinning = 'PostgreSQL floats (--database-floats), and the kernel';
    if (args['server-url']) {
      if (!args['admin-token'] || !args['twilio-auth-token']) throw new Error('--server-url needs --admin-token and --twilio-auth-token (the server\'s ADMIN_TOKEN and TWILIO_AUTH_TOKEN)');
      if (args['fakes-listen']) {
        const [host, base] = [args['fakes-listen'].replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(args['fakes-listen'])?.[1])];
        if (!Number.isInteger(base)) throw new Error('--fakes-listen takes HOST:PORT');
        const portOf = (url: string) => Number(new URL(url).port);
        forwards.push(await forwardPort(host, base, portOf(deepgram.url)), await forwardPort(host, base + 1, portOf(openai.baseUrl)), await forwardPort(host, base + 2, portOf(cartesia.url.replace(/^ws/, 'http'))));
        log(`fakes listen on ${host}:${base} (Deepgram), :${base + 1} (OpenAI), :${base + 2} (Cartesia)`);
      }
      server = remoteServer({ url: args['server-url'], publicUrl: args['public-url'], adminToken: args['admin-token'], twilioAuthToken: args['twilio-auth-token'], ...(args['server-pid'] ? { pid: Number(args['server-pid']) } : {}) });
    } else {
      server = await startServerChild({ deepgramUrl: deepgram.url, cartesiaUrl: cartesia.url, openaiBaseUrl: openai.baseUrl, databaseUrl: args['database-url'], nodeFlags, cpus: serverCpus, processes: PROCESSES, entry: args['server-entry'], extraEnv: { ...(gcTrace ? { PARLEY_BENCH_GC_TRACE: gcTrace } : {}), ...(args.workers ? { WORKERS_ENABLED: 'true' } : {}) } });
    }
    if (args.idle) {
      if (server.pid === null) throw new Error('--idle starts its own server (no --server-url)');
      const afterReady = treeRssBytes(server.pid);
      await sleep(5000);
      const idle = treeRssBytes(server.pid);
      process.stdout.write(`idle server (${args['database-url'] ? 'PostgreSQL' : 'embedded PGlite on disk'}, PROCESSES=${PROCESSES}, workers ${args.workers ? 'on' : 'off'}, ${args['server-entry'] ? `node ${args['server-entry']}` : 'tsx src/main.ts'}, cloud keys set, no calls yet): healthy ${(server.readyMs / 1000).toFixed(2)} s after spawn (GET /readyz 200); RSS ${mb(afterReady)} at ready, ${mb(idle)} 5 s later (server processes: ${processTree(server.pid).length})\n`);
      // What the idle server costs over 30 s: its processes' CPU time (the embedded database's thread included),
      // and with PostgreSQL the database's committed and rolled-back transactions (everything on that database
      // counts: give it one of its own).
      const pg = args['database-url'] ? postgres(args['database-url'], { max: 1, onnotice: () => {} }) : null;
      const count = async () => (pg ? Number((await pg<{ n: string }[]>`select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()`)[0]!.n) : 0);
      const transactionsBefore = await count();
      const cpuBefore = treeCpuSeconds(server.pid);
      await sleep(30_000);
      const cpuMsPerSecond = ((treeCpuSeconds(server.pid) - cpuBefore) * 1000) / 30;
      const transactionsPerSecond = (await count() - transactionsBefore - 1) / 30; // less the first count's own transaction
      await pg?.end();
      process.stdout.write(`idle CPU: ${cpuMsPerSecond.toFixed(1)} CPU-ms per second (server processes, /proc, 30 s)\n`);
      if (pg) process.stdout.write(`idle database load: ${transactionsPerSecond.toFixed(2)} transactions per second on the server's database (30 s, pg_stat_database)\n`);
      return 0;
    }
    const { apiKey } = await provisionBot(server, BOT_NUMBER, {
      greeting: GREETING,
      systemPrompt: 'Be brief.',
      limits: { silenceRepromptSec: 60, silenceHangupSec: 120, bargeInMinMs: BARGE_IN_MIN_MS, bargeInMinWords: 0, endOfTurnCompleteWaitMs: EOT_COMPLETE_WAIT_MS },
    });

    const speech = new EncodedSpeech(mulawToneFrame(1200, 8000));
    const bargeSpeech = new EncodedSpeech(mulawToneFrame(800, 8000));
    let callIndex = 0;
    const script = (turns: number, listenMs?: number): CallScriptOptions => {
      const tag = callIndex++;
      turnsByTag.set(tag, turns);
      const frameSentAt: number[] = [];
      tracer.registerCaller(tag, frameSentAt);
      return {
      caller: { server: server!.url, publicOrigin: server!.publicUrl, authToken: server!.twilioAuthToken, from: `+1555${String(2000000 + tag).padStart(7, '0')}`, to: BOT_NUMBER, tag, frameSentAt },
      turns,
      speech,
      bargeSpeech,
      bargeAfterMs: 600,
      quietMs: 600,
      ...(listenMs !== undefined ? { listenMs } : {}),
      };
    };

    // Warm-up: calls that load every module and run every path (greeting, short and long answers, barge-in) before
    // the measurement, so idle RSS is the real baseline and the CPU figure is the steady state. One call is not
    // enough for that: V8 optimises a function only after many runs, and with a single warm-up call its optimising
    // compiler was ~10 % of the server's CPU over the first ~20 s of the load (perf), a once-per-process cost.
    log(`warm-up: ${WARM_UP_CALLS} call(s)…`);
    const warm = await Promise.all(Array.from({ length: WARM_UP_CALLS }, async (_, i) => {
      await sleep((i * 1000) / WARM_UP_CALLS);
      return runCall(script(WARM_UP_CALLS > 1 ? 2 : 1));
    }));
    const warmFailed = warm.find((w) => !w.ok);
    if (warmFailed) throw new Error(`a warm-up call failed: ${warmFailed.error}`);
    await sleep(1500);
    const endpointingMs = Number(deepgram.connections[0]?.query.get('endpointing') ?? 300);
    const dgBytesBefore = deepgram.connections.reduce((s, c) => s + c.audioBytes, 0);
    const idleMetrics = await scrapeMetrics(server);
    const pid = server.pid;
    // Server processes only: the server's pid and every process below it (PROCESSES > 1: the primary and its
    // workers), from /proc; a server elsewhere: its own /metrics (workers' process_cpu_seconds_total, summed).
    const serverCpu = (m: MetricsSnapshot | null): number => (pid !== null ? treeCpuSeconds(pid) : (m?.cpuSecondsTotal ?? NaN));
    const serverRss = (m: MetricsSnapshot | null): number => (pid !== null ? treeRssBytes(pid) : (m?.residentBytes ?? NaN));
    const idleRss = serverRss(idleMetrics);
    const lagResolutionSec = 0.01; // prom-client samples the loop every 10 ms; its figures include that period

    log(`load: ${N} calls, ${LISTEN_MS !== undefined ? `listening ${LISTEN_MS} ms after the greeting` : `${TURNS} turns + 1 barge-in each`}, started over ${STAGGER_MS} ms…`);
    const rss = new RssSampler(pid ?? 0, 250, true);
    if (pid !== null) rss.start();
    let remotePeakRss = idleRss;
    const harnessLag = monitorEventLoopDelay({ resolution: 5 });
    harnessLag.enable();
    /** This process (callers + fakes): how busy the generator's own core is decides how late it reads. */
    const harnessCpu0 = process.cpuUsage();
    const lagWindows: number[] = [];
    /** The longest single event-loop delay of each window: a collection or a long task holding every call. */
    const lagMaxWindows: number[] = [];
    let peakActive = 0;
    let scraping = true;
    const scraper = (async () => {
      await scrapeMetrics(server!); // resets the window
      while (scraping) {
        await sleep(SCRAPE_INTERVAL_MS);
        if (!scraping) break;
        const m = await scrapeMetrics(server!).catch(() => null);
        if (m?.eventLoopLagP99Sec != null) lagWindows.push(Math.max(0, m.eventLoopLagP99Sec - lagResolutionSec) * 1000);
        if (m?.eventLoopLagMaxSec != null) lagMaxWindows.push(Math.max(0, m.eventLoopLagMaxSec - lagResolutionSec) * 1000);
        if (m) peakActive = Math.max(peakActive, m.activeCalls);
        if (m?.residentBytes != null) remotePeakRss = Math.max(remotePeakRss, m.residentBytes);
      }
    })();
    const cpu0 = serverCpu(pid === null ? await scrapeMetrics(server) : null);
    const kernel0 = pid !== null ? treeCpuSeconds(pid, 'kernel') : null;
    const wait0 = pid !== null ? treeRunQueueWaitSeconds(pid) : null;
    const t0 = Date.now();
    const results: CallResult[] = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        await sleep((i * STAGGER_MS) / N);
        return runCall(script(TURNS, LISTEN_MS));
      }),
    );
    const wallSec = (Date.now() - t0) / 1000;
    const cpuSec = serverCpu(pid === null ? await scrapeMetrics(server) : null) - cpu0;
    const kernelSec = kernel0 !== null ? treeCpuSeconds(pid!, 'kernel') - kernel0 : null;
    const wait1 = pid !== null ? treeRunQueueWaitSeconds(pid) : null;
    const waitSec = wait0 !== null && wait1 !== null ? wait1 - wait0 : null;
    scraping = false;
    await scraper;
    harnessLag.disable();
    const harnessCpu = process.cpuUsage(harnessCpu0);
    if (pid !== null) rss.stop();
    const peakRss = pid !== null ? rss.peak : remotePeakRss;
    await sleep(2000); // let the server close its Deepgram streams so every byte is counted
    const after = await scrapeMetrics(server);
    const dgBytes = deepgram.connections.reduce((s, c) => s + c.audioBytes, 0) - dgBytesBefore;

    // ---- figures ----
    const ok = results.filter((r) => r.ok);
    const failed = results.filter((r) => !r.ok);
    // The call's VAD ends the caller's speech after VOICE_END_SILENCE_MS of silence and Parley sends Finalize;
    // Deepgram's own endpointing (the query's `endpointing`) is not on the path.
    const setLatency = VOICE_END_SILENCE_MS + STT_FINAL_MS + EOT_COMPLETE_WAIT_MS + LLM_FIRST_TOKEN_MS + TTS_FIRST_AUDIO_MS;
    const v2v = results.flatMap((r) => r.turns.map((t) => t.voiceToVoiceMs));
    const serverAdded = v2v.map((x) => x - setLatency);
    // The line goes quiet at the first onset heard: the call's VAD after VOICE_ONSET_MS of speech (the frame that
    // completes it); bargeInMinMs only decides later whether the interruption is committed.
    const bargeExpected = (Math.ceil(VOICE_ONSET_MS / FRAME_MS) - 1) * FRAME_MS;
    const bargeDeepgram = (Math.ceil(FAKE_MIN_SPEECH_MS / FRAME_MS) - 1) * FRAME_MS;
    const barge = results.flatMap((r) => (r.bargeInMs === null ? [] : [r.bargeInMs]));
    const bargeAdded = barge.map((x) => x - bargeExpected);
    const greeting = results.flatMap((r) => (r.greetingMs === null ? [] : [r.greetingMs]));
    const sent = results.reduce((s, r) => s + r.inboundBytesSent, 0);
    const framesSent = results.reduce((s, r) => s + r.framesSentTotal, 0);
    const late = results.reduce((s, r) => s + r.lateFrames, 0);
    const maxLate = Math.max(0, ...results.map((r) => r.maxFrameLateMs));
    const expectedReplyBytes = (words(SHORT_REPLY) + 1) * TTS_MS_PER_WORD * 8; // + the turn tag word
    const expectedGreetingBytes = words(GREETING) * TTS_MS_PER_WORD * 8;
    const replies = results.flatMap((r) => r.turns.flatMap((t) => (t.replyBytes === null ? [] : [t.replyBytes])));
    const shortReplies = replies.filter((b) => b < expectedReplyBytes).length;
    const outBytes = replies.reduce((s, b) => s + b, 0) + results.reduce((s, r) => s + (r.greetingBytes ?? 0), 0);
    const outExpected = replies.length * expectedReplyBytes + results.filter((r) => r.greetingBytes !== null).length * expectedGreetingBytes;
    const cpuPct = (cpuSec / wallSec) * 100;
    const rssPerCall = (peakRss - idleRss) / N;
    const callSeconds = results.reduce((sum, r) => sum + r.durationSec, 0);
    const cpuMsPerCallSecond = (cpuSec * 1000) / Math.max(1e-9, callSeconds);
    const stored = await storedTurnStages(server, apiKey, results.map((r) => r.callId).filter(Boolean));
    const lag = summarize(lagWindows);
    const lagMax = summarize(lagMaxWindows);
    const gcDuringLoad = [...after.gcPauses].map(([kind, v]) => {
      const before = idleMetrics.gcPauses.get(kind) ?? { sum: 0, count: 0 };
      const count = v.count - before.count;
      return count > 0 ? `${kind} ${count} × ${(((v.sum - before.sum) / count) * 1000).toFixed(1)} ms` : '';
    }).filter(Boolean).join(', ');
    const harness = { p99: harnessLag.percentile(99) / 1e6, max: harnessLag.max / 1e6 };
    const p99Added = percentile(serverAdded, 99);
    const hops = tracer.breakdown(results);
    const hopSummary = (k: Exclude<keyof TurnBreakdown, 'worstHop'>): string => fmtSummary(summarize(hops.turns.map((t) => t[k])));
    const p99Hops = percentile(hops.turns.map((t) => t.serverAdded), 99);
    const frameDelays = tracer.inboundFrameDelays();
    const packetDelays = tracer.inboundPacketDelays();

    const out: string[] = [];
    const row = (k: string, v: string): void => void out.push(`  ${k.padEnd(34)} ${v}`);
    out.push('', `=== Parley call load benchmark — N = ${N} concurrent calls ===`);
    row('machine load average (before/after)', `${loadBefore}  /  ${loadAverage()}   (${cpus().length} cores, shared)`);
    row('server', args['server-url'] ? `given by URL ${server.url}${pid !== null ? ` (pid ${pid}: CPU/RSS from /proc)` : ' (CPU/RSS from its /metrics: worker processes only)'}` : `child process, PROCESSES=${PROCESSES}`);
    row('database', args['server-url'] ? '(the server\'s)' : args['database-url'] ? 'PostgreSQL (--database-url)' : 'embedded PGlite on disk');
    row('warm-up (--warm-up-calls)', `${WARM_UP_CALLS} call(s) before the measurement${WARM_UP_CALLS > 1 ? ', concurrent, 2 turns each' : ', 1 turn'}`);
    if (args.pin) row('CPU pinning (--pin)', `server on CPU ${serverCpus}, load generator on CPU ${harnessCpus} (${databasePinning})`);
    const talking = LISTEN_MS === undefined;
    if (talking) {
      row('set latencies on the path', `VAD end-of-speech silence ${VOICE_END_SILENCE_MS} ms + STT final after Finalize ${STT_FINAL_MS} ms + end-of-turn wait (complete text) ${EOT_COMPLETE_WAIT_MS} ms + LLM first token ${LLM_FIRST_TOKEN_MS} ms + TTS first audio ${TTS_FIRST_AUDIO_MS} ms = ${setLatency} ms`);
      row('formula', 'server-added = voice-to-voice − set latencies on the path');
      row('', '(voice-to-voice = caller\'s last speech frame sent → first bot audio frame received. The call\'s own VAD');
      row('', ` ends the turn ${VOICE_END_SILENCE_MS} ms of audio after the last speech and sends Deepgram a Finalize; Deepgram's`);
      row('', ` endpointing=${endpointingMs} in the query is not waited for. The VAD works on 20 ms frames: up to ~20 ms of quantization)`);
    }
    row('calls completed / failed', `${ok.length} / ${failed.length}   (peak parley_active_calls ${peakActive}, load wall ${wallSec.toFixed(1)} s)`);
    if (!talking) row('listening calls (--listen-only-ms)', `greeting, then ${LISTEN_MS} ms of the caller's silence (20 ms frames), hang up: no turns`);
    if (talking) {
      row('turns measured', `${v2v.length}  (${TURNS} ordinary + 1 long answer per call)`);
      row('server-added latency per turn', fmtSummary(summarize(serverAdded)));
      row('voice-to-voice', fmtSummary(summarize(v2v)));
      out.push('', `  server-added, hop by hop (${hops.turns.length} turns matched, ${hops.unmatched} not; the parts below add up to voice-to-voice):`);
      row('  Parley total', hopSummary('serverAdded'));
      row('    end-of-speech frame → Finalize', `${hopSummary('toFinalize')}  [inbound, the call's VAD, Finalize out; held audio goes first]`);
      row(`    Finalize → LLM request − ${STT_FINAL_MS}`, `${hopSummary('toLlm')}  [end-of-turn decision, prompt; a late fake final counts here]`);
      row('    first token → TTS request', `${hopSummary('toTts')}${Number(args['llm-token-interval-ms']) > 0 ? '  [includes the LLM streaming the rest of the first phrase]' : ''}`);
      row('    TTS first audio → caller', hopSummary('toCaller'));
      row('  policy, fakes and load generator', '(set value in brackets; the excess is the harness running late)');
      row(`    end-of-speech silence [${VOICE_END_SILENCE_MS}]`, `${hopSummary('endSilence')}  (audio the caller sends before the VAD may end the turn)`);
      row(`    STT final [${STT_FINAL_MS}]`, '(set; not stamped separately)');
      row(`    LLM first token [${LLM_FIRST_TOKEN_MS}]`, hopSummary('llmFirstToken'));
      row(`    TTS first audio [${TTS_FIRST_AUDIO_MS}]`, hopSummary('ttsFirstAudio'));
      if (hops.turns.length > 0) {
        const { worst, bursts } = tailBursts(hops.turns);
        const at = (t: TurnBreakdown) => `+${((t.worstHopAt - t0) / 1000).toFixed(1)} s`;
        const top = bursts.slice(0, 3).map((b) => `${b.length} at ${at(b[0]!)} (${b.map((t) => t.worstHop).filter((h, i, a) => a.indexOf(h) === i).join(', ')})`);
        row('  worst 1 % of turns, by when', `${worst.length} turns (≥ ${fmtMs(worst[worst.length - 1]!.serverAdded)}) in ${bursts.length} burst(s) of their largest hop (≤ 250 ms apart); largest: ${top.join('; ')}  [a few bursts: stalls that held every call at once; many: queueing]`);
        if (gcTrace) {
          const full = fullCollections(readGcTraces(gcTrace), worst.map((t) => t.worstHopAt), t0, t0 + wallSec * 1000);
          const near = full.reduce((n, c) => n + c.worstTurns, 0);
          const each = full.map((c) => `+${((c.at - t0) / 1000).toFixed(1)} s: pause ${fmtMs(c.pauseMs)}, loop held ${fmtMs(c.loopHeldMs)}, ${c.worstTurns} of the worst`);
          row('  server full collections (--gc-trace)', `${full.length} in the load${full.length ? ` — ${each.join('; ')}` : ''}; ${near} of the ${worst.length} worst turns began their largest hop within 300 ms of one`);
        }
      }
      if (args['turns-out']) writeFileSync(args['turns-out'], hops.turns.map((t) => JSON.stringify(t)).join('\n') + '\n');
    }
    row('caller frame → Deepgram, each', `${fmtSummary(summarize(frameDelays))}  (includes the wait for its packet: Parley sends Deepgram 100 ms packets)`);
    row('caller frame → Deepgram, transit', `${fmtSummary(summarize(packetDelays))}  (the last frame of each packet: forwarding alone)`);
    out.push('');
    if (talking) row('barge-in speech start → clear', fmtSummary(summarize(barge)));
    if (talking) row('  of which server-added', `${fmtSummary(summarize(bargeAdded))}  (expected ${bargeExpected} ms: the call's VAD onset after ${VOICE_ONSET_MS} ms of speech, the frame sent at +${bargeExpected} ms; the fake Deepgram's SpeechStarted after ${FAKE_MIN_SPEECH_MS} ms, frame at +${bargeDeepgram} ms, can come first: then up to ${bargeExpected - bargeDeepgram} ms below 0. bargeInMinMs ${BARGE_IN_MIN_MS} decides the commit, not the clear)`);
    row('stream start → greeting audio', fmtSummary(summarize(greeting)));
    row('server event-loop delay p99', `median of ${SCRAPE_INTERVAL_MS / 1000} s windows ${fmtMs(lag.p50)}, worst window ${fmtMs(lag.max)} (prom-client, 10 ms sampling subtracted; ${lag.n} windows; idle ${fmtMs(Math.max(0, (idleMetrics.eventLoopLagP99Sec ?? 0) - lagResolutionSec) * 1000)})`);
    row('server event-loop worst delay', `per ${SCRAPE_INTERVAL_MS / 1000} s window: median ${fmtMs(lagMax.p50)}, worst ${fmtMs(lagMax.max)} (prom-client's max; a collection or a long task holds every call on the loop that long)`);
    if (gcDuringLoad) row('server GC pauses (load + 2 s)', `${gcDuringLoad}  (count × mean pause on the processes' main threads, /metrics)`);
    row('server CPU', `${cpuPct.toFixed(1)} % of one core over the load (${(cpuPct / N).toFixed(2)} % per call; ${((cpuSec * 1000) / N).toFixed(0)} ms CPU per call of ~${(wallSec).toFixed(0)} s)`);
    row('server CPU per call-second', `${cpuMsPerCallSecond.toFixed(2)} CPU-ms per second of call = ${(cpuMsPerCallSecond / 10).toFixed(3)} % of a core per call  (${(cpuSec * 1000).toFixed(0)} CPU-ms of the server processes / ${callSeconds.toFixed(0)} call-seconds, stream open → hang-up)`);
    if (kernelSec !== null) row('  of which in the kernel', `${((kernelSec / Math.max(1e-9, cpuSec)) * 100).toFixed(0)} %  (system time: socket reads and writes and the loopback TCP path under them; the rest is JavaScript, GC and libraries)`);
    if (waitSec !== null) row('server run-queue wait (all threads)', `${waitSec.toFixed(1)} s runnable-but-not-running vs ${cpuSec.toFixed(1)} s on CPU (${((waitSec / Math.max(1e-9, cpuSec)) * 100).toFixed(0)} %): CPU starvation by other processes`);
    row('server RSS', `idle ${mb(idleRss)}, peak ${mb(peakRss)} → ${mb(rssPerCall)} per call${PROCESSES > 1 ? ` (all ${PROCESSES} processes + primary)` : ''}`);
    row('caller frames late (>5 ms)', `${late} of ${framesSent} (${((late / Math.max(1, framesSent)) * 100).toFixed(2)} %), worst ${maxLate.toFixed(1)} ms  [harness loop p99 ${harness.p99.toFixed(1)} ms, max ${harness.max.toFixed(1)} ms]`);
    row('load generator CPU', `${(((harnessCpu.user + harnessCpu.system) / 1e6 / wallSec) * 100).toFixed(0)} % of one core (callers + fakes, this process; its reads run late as its core fills, and every hop's end is stamped here)`);
    row('inbound dropped (caller → Deepgram)', `${sent - dgBytes} of ${sent} bytes (${(((sent - dgBytes) / Math.max(1, sent)) * 100).toFixed(3)} %)`);
    row('outbound (TTS → caller)', `${outBytes} of ${outExpected} expected bytes for greetings + uninterrupted answers (${shortReplies} answers short)`);
    const stages = [...after.turnStages.entries()].map(([s, v]) => `${s} ${v.count ? ((v.sum / v.count) * 1000).toFixed(0) : '-'} ms`).join(', ');
    if (stages && talking) row('server turn stages (mean, /metrics)', stages);
    if (talking) {
      out.push('', `  per-turn stages stored in the transcripts (${stored.turns} bot turns of ${stored.calls} calls; server clock, ms from the`);
      out.push('  caller\'s end of speech as the call\'s VAD places it — the last voiced audio, not its detection — except speechMs):');
      for (const [field, values] of stored.stages) row(`  ${field}`, `${fmtSummary(summarize(values))}  ${STAGE_MEANING[field] ?? ''}`);
      for (const [stage, h] of after.bargeIn) {
        const before = idleMetrics.bargeIn.get(stage);
        row(`  barge-in ${stage} (/metrics)`, histogramSummary(h, before));
    }
    out.push('');
    }
    const nNote = N === 200 ? '' : `  [this run is N = ${N}]`;
    if (talking) out.push(`  TARGET (N = 200) server-added p99 ≤ ${TARGET_SERVER_ADDED_P99_MS} ms, voice-to-voice − set latencies: ${p99Added <= TARGET_SERVER_ADDED_P99_MS ? 'PASS' : 'MISS'} (${fmtMs(p99Added)})${nNote}`);
    if (talking) out.push(`  TARGET (N = 200) server-added p99 ≤ ${TARGET_SERVER_ADDED_P99_MS} ms, hop by hop:                      ${p99Hops <= TARGET_SERVER_ADDED_P99_MS ? 'PASS' : 'MISS'} (${fmtMs(p99Hops)})${nNote}`);
    out.push(`  TARGET server CPU ≤ ${TARGET_CPU_MS_PER_CALL_SECOND.toFixed(1)} CPU-ms per call-second (0.2 % of a core per call): ${cpuMsPerCallSecond <= TARGET_CPU_MS_PER_CALL_SECOND ? 'PASS' : 'MISS'} (${cpuMsPerCallSecond.toFixed(2)})`);
    out.push(`  TARGET (N = 200) RSS ≤ ${TARGET_RSS_PER_CALL_MB} MB per call: ${rssPerCall <= TARGET_RSS_PER_CALL_MB * 1024 * 1024 ? 'PASS' : 'MISS'} (${mb(rssPerCall)})${N === 200 ? '' : '  [this run is N = ' + N + ']'}`);
    if (failed.length) {
      const reasons = new Map<string, number>();
      for (const f of failed) reasons.set(f.error ?? '?', (reasons.get(f.error ?? '?') ?? 0) + 1);
      out.push('', '  failed calls:');
      for (const [reason, count] of reasons) out.push(`    ${count} × ${reason}`);
    }
    out.push('');
    process.stdout.write(out.join('\n') + '\n');
    if (args['cpu-prof']) log(`CPU profile of the server goes to ${args['cpu-prof-dir']} when it exits`);
    return talking ? (v2v.length > 0 ? 0 : 1) : ok.length > 0 ? 0 : 1;
  } finally {
    const code = await server?.stop();
    pinnedDatabase?.restore();
    if (code !== undefined && code !== 0 && code !== null) log(`server exited with ${code}`);
    for (const f of forwards) f.close();
    await Promise.all([deepgram.close(), openai.close(), cartesia.close()]);
    if (gcTrace) rmSync(dirname(gcTrace), { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exit(1);
  },
);
