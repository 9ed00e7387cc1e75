/**
 * Do background document ingestion and live calls get along? Starts the real server as a
 * child process (scripts/bench/lib/server-child.ts) with its workers on, the local hashing embedder and the local
 * scenario LLM, and fake Deepgram / Cartesia (tests/fakes) for speech; runs a few simulated Twilio calls
 * (scripts/bench/lib/bench-caller.ts) that talk turn after turn, first with nothing else going on (baseline), then
 * while large documents (default one 20 MB .txt, near UPLOAD_MAX_BYTES) are uploaded through the API and ingested.
 * It prints, for both phases:
 *   - reply time per turn, measured by the caller: its last speech frame sent → the bot's first audio frame
 *     received (voice-to-voice; it includes the fakes' fixed endpointing, STT and TTS latencies, the same in
 *     both phases, so the difference between the phases is what ingestion adds);
 *   - the server's event-loop delay, from the server's own /metrics (prom-client's monitor, p99 and max per 1 s
 *     window);
 *   - /healthz latency, measured from this process every 100 ms (a request round trip over loopback).
 * The documents go to another bot than the one called, so what is measured is ingestion's effect, not the first
 * search of a bot whose index just grew by 30,000 chunks.
 *   npm run bench:ingest -- [--calls 3] [--baseline-sec 15] [--docs 1] [--mb 20] [--database-url postgres://…]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { FakeCartesia } from '../../tests/fakes/fakeCartesia.js';
import { FakeDeepgram, mulawToneFrame } from '../../tests/fakes/fakeDeepgram.js';
import { FakeOpenAI } from '../../tests/fakes/fakeOpenAI.js';
import { BenchCaller, EncodedSpeech } from './lib/bench-caller.js';
import { cpuSeconds, loadAverage, rssBytes, RssSampler } from './lib/proc-stats.js';
import { scrapeMetrics, startServerChild, type ServerChild } from './lib/server-child.js';
import { fmtMs, fmtSummary, summarize } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '3' },
    'baseline-sec': { type: 'string', default: '15' },
    docs: { type: 'string', default: '1' },
    mb: { type: 'string', default: '20' },
    'database-url': { type: 'string' },
  },
});
const CALLS = Number(args.calls);
const BASELINE_MS = Number(args['baseline-sec']) * 1000;
const DOCS = Number(args.docs);
const DOC_BYTES = Math.round(Number(args.mb) * 1_000_000);
const STT_FINAL_MS = 150;
const TTS_FIRST_AUDIO_MS = 90;
const BOT_NUMBER = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/**
 * server-child.ts starts the server with WORKERS_ENABLED=false and cloud keys for every vendor. This benchmark
 * needs the workers on, and the local embedder (chosen when OPENAI_API_KEY is unset; the LLM is then the local
 * scenario engine): a preloaded module adjusts the child's environment before src/main.ts reads it.
 */
const ENV_PRELOAD = `data:text/javascript,${encodeURIComponent("process.env.WORKERS_ENABLED='true'; delete process.env.OPENAI_API_KEY;")}`;

/** A company with an API key and a bot (admin API, as an operator would). */
async function provision(server: ServerChild, name: string, phoneNumber: string | null): Promise<{ apiKey: string; botId: string }> {
  const c = await fetch(`${server.url}/v1/admin/companies`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (c.status !== 201) throw new Error(`creating the company answered ${c.status}: ${await c.text()}`);
  const apiKey = ((await c.json()) as { api_key: { key: string } }).api_key.key;
  const b = await fetch(`${server.url}/v1/bots`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: `${name} bot`,
      phone_number: phoneNumber,
      language: 'en',
      config: { greeting: 'Hello, how can I help?', systemPrompt: 'Be brief.', limits: { silenceRepromptSec: 60, silenceHangupSec: 120 } },
    }),
  });
  if (b.status !== 201) throw new Error(`creating the bot answered ${b.status}: ${await b.text()}`);
  return { apiKey, botId: ((await b.json()) as { id: string }).id };
}

/** Deterministic English-like text: paragraphs of sentences from a small vocabulary, `bytes` long. */
function makeText(bytes: number, seed: number): Buffer {
  const words = (
    'appointment booking cancel reschedule price cost payment insurance card cash clinic doctor dentist cleaning whitening ' +
    'implant crown braces child parking address street floor building hours open close monday friday saturday holiday ' +
    'emergency pain tooth gum check consultation scan treatment month week minute discount loyalty member visit free fee ' +
    'policy refund deposit online phone email reception waiting room access elevator station garden coffee consent form'
  ).split(' ');
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const parts: string[] = [];
  let size = 0;
  let section = 0;
  while (size < bytes) {
    let p = '';
    if (rand() < 0.1) p += `Section ${++section}\n\n`;
    const sentences = 3 + Math.floor(rand() * 5);
    for (let i = 0; i < sentences; i++) {
      const n = 8 + Math.floor(rand() * 12);
      const w = Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]!);
      p += `${w.join(' ').replace(/^./, (c) => c.toUpperCase())}. `;
    }
    p = `${p.trim()}\n\n`;
    parts.push(p);
    size += p.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

interface PhaseFigures {
  wallMs: number;
  voiceToVoice: number[];
  healthz: number[];
  healthzFailed: number;
  loopP99: number[];
  loopMax: number[];
  callErrors: string[];
}

/**
 * Runs `calls` callers that keep talking (one utterance, wait for the whole answer, next utterance) until
 * `until()` says stop, while /healthz and /metrics are sampled.
 */
async function phase(server: ServerChild, speech: EncodedSpeech, until: () => boolean, tagBase: number): Promise<PhaseFigures> {
  const f: PhaseFigures = { wallMs: 0, voiceToVoice: [], healthz: [], healthzFailed: 0, loopP99: [], loopMax: [], callErrors: [] };
  let running = true;
  const t0 = performance.now();
  const healthz = (async () => {
    while (running) {
      const s = performance.now();
      try {
        const res = await fetch(`${server.url}/healthz`);
        await res.arrayBuffer();
        if (res.status === 200) f.healthz.push(performance.now() - s);
        else f.healthzFailed++;
      } catch {
        f.healthzFailed++;
      }
      await sleep(100);
    }
  })();
  const metrics = (async () => {
    await scrapeMetrics(server); // starts a fresh window
    while (running) {
      await sleep(1000);
      const m = await scrapeMetrics(server).catch(() => null);
      // prom-client samples the loop every 10 ms; that period is part of its figures and is taken off.
      if (m?.eventLoopLagP99Sec != null) f.loopP99.push(Math.max(0, m.eventLoopLagP99Sec - 0.01) * 1000);
      if (m?.eventLoopLagMaxSec != null) f.loopMax.push(Math.max(0, m.eventLoopLagMaxSec - 0.01) * 1000);
    }
  })();
  const callers = Array.from({ length: CALLS }, async (_, i) => {
    await sleep(i * 300);
    let caller: BenchCaller | null = null;
    try {
      caller = await BenchCaller.dial({
        server: server.url, publicOrigin: server.url, authToken: server.twilioAuthToken,
        from: `+1555${String(3000000 + tagBase + i).padStart(7, '0')}`, to: BOT_NUMBER, tag: tagBase + i,
      });
      caller.watchAudioAfter(performance.now());
      if ((await caller.watchedAudio(15_000)) === null) throw new Error('no greeting within 15 s');
      await caller.waitForBotQuiet(500, 30_000);
      while (!until()) {
        const spoken = await caller.say(speech);
        const first = await caller.watchedAudio(30_000);
        if (first === null) throw new Error('no answer within 30 s');
        f.voiceToVoice.push(first - spoken.endAt);
        await caller.waitForBotQuiet(500, 60_000);
        caller.takePhaseBytes();
      }
      await caller.hangup();
    } catch (err) {
      f.callErrors.push(err instanceof Error ? err.message : String(err));
      caller?.terminate();
    }
  });
  await Promise.all(callers);
  f.wallMs = performance.now() - t0;
  running = false;
  await Promise.all([healthz, metrics]);
  return f;
}

async function main(): Promise<number> {
  const loadBefore = loadAverage();
  const deepgram = await FakeDeepgram.start({ finalLatencyMs: STT_FINAL_MS, minSpeechMs: 60 });
  deepgram.transcriptFor = () => 'what time do you close today';
  const cartesia = await FakeCartesia.start({ firstAudioLatencyMs: TTS_FIRST_AUDIO_MS, msPerWord: 60 });
  const openai = await FakeOpenAI.start({}); // unused: the child runs without an OpenAI key (see ENV_PRELOAD)
  let server: ServerChild | null = null;
  try {
    server = await startServerChild({
      deepgramUrl: deepgram.url, cartesiaUrl: cartesia.url, openaiBaseUrl: openai.baseUrl, databaseUrl: args['database-url'],
      nodeFlags: [`--import=${ENV_PRELOAD}`],
    });
    await provision(server, 'Calls', BOT_NUMBER);
    const docsOwner = await provision(server, 'Documents', null);
    const speech = new EncodedSpeech(mulawToneFrame(1200, 8000));
    const harnessLag = monitorEventLoopDelay({ resolution: 5 });
    harnessLag.enable();

    log('warm-up call…');
    const warmEnd = performance.now() + 3000;
    await phase(server, speech, () => performance.now() > warmEnd, 100);
    await sleep(1000);
    const idleRss = rssBytes(server.pid);

    log(`baseline: ${CALLS} calls talking for ${BASELINE_MS / 1000} s, nothing else running…`);
    const baseEnd = performance.now() + BASELINE_MS;
    const cpuBase0 = cpuSeconds(server.pid);
    const base = await phase(server, speech, () => performance.now() > baseEnd, 200);
    const cpuBase = cpuSeconds(server.pid) - cpuBase0;

    log(`generating ${DOCS} × ${(DOC_BYTES / 1e6).toFixed(0)} MB text…`);
    const texts = Array.from({ length: DOCS }, (_, i) => makeText(DOC_BYTES, 7 + i));
    log(`during ingestion: uploading ${DOCS} document(s) while ${CALLS} calls talk…`);
    const rss = new RssSampler(server.pid);
    rss.start();
    const cpuIngest0 = cpuSeconds(server.pid);
    const ingestStart = performance.now();
    let ingestDone = false;
    const docResults: { status: string; chunk_count: number; error_message: string | null; ms: number }[] = [];
    const uploads = (async () => {
      await sleep(2000); // let the calls settle into their turns first
      const ids = await Promise.all(
        texts.map(async (bytes, i) => {
          const form = new FormData();
          form.append('file', new Blob([bytes], { type: 'text/plain' }), `big-${i}.txt`);
          const res = await fetch(`${server!.url}/v1/bots/${docsOwner.botId}/knowledge`, {
            method: 'POST', headers: { authorization: `Bearer ${docsOwner.apiKey}` }, body: form,
          });
          if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
          return ((await res.json()) as { id: string }).id;
        }),
      );
      const pending = new Set(ids);
      while (pending.size) {
        await sleep(250);
        for (const id of [...pending]) {
          const res = await fetch(`${server!.url}/v1/bots/${docsOwner.botId}/knowledge/${id}`, { headers: { authorization: `Bearer ${docsOwner.apiKey}` } });
          const doc = (await res.json()) as { status: string; chunk_count: number; error_message: string | null };
          if (doc.status !== 'processing') {
            pending.delete(id);
            docResults.push({ ...doc, ms: performance.now() - ingestStart });
          }
        }
      }
      await sleep(1000); // and a second after the last commit
    })().finally(() => (ingestDone = true));
    const during = await phase(server, speech, () => ingestDone, 300);
    await uploads;
    const cpuIngest = cpuSeconds(server.pid) - cpuIngest0;
    rss.stop();
    harnessLag.disable();

    const out: string[] = [];
    const row = (k: string, v: string): void => void out.push(`  ${k.padEnd(40)} ${v}`);
    out.push('', `=== Ingestion under live calls — ${CALLS} calls, ${DOCS} × ${(DOC_BYTES / 1e6).toFixed(0)} MB .txt ===`);
    row('machine load average (before/after)', `${loadBefore}  /  ${loadAverage()}   (2 cores, shared)`);
    row('database', args['database-url'] ? 'PostgreSQL (--database-url)' : 'embedded PGlite on disk (in a worker thread of the server process)');
    row('server', 'child process, workers on, local embedder, local scenario LLM, fake Deepgram + Cartesia');
    row('reply time', "caller's last speech frame sent → first bot audio received (voice-to-voice), at the load generator;");
    row('', `it includes the fakes' fixed latencies (endpointing, STT final ${STT_FINAL_MS} ms, TTS first audio ${TTS_FIRST_AUDIO_MS} ms), equal in both phases`);
    row('event-loop delay', "the server's own /metrics (prom-client), p99 and max of each 1 s window, 10 ms sampling subtracted");
    row('/healthz', 'round trip from the load generator over loopback, every 100 ms');
    for (const [name, f, cpu] of [['BASELINE (no ingestion)', base, cpuBase], ['DURING INGESTION', during, cpuIngest]] as const) {
      out.push('', `  ${name}: ${(f.wallMs / 1000).toFixed(1)} s, ${f.voiceToVoice.length} turns${f.callErrors.length ? `, call errors: ${f.callErrors.join('; ')}` : ''}`);
      row('  reply time (voice-to-voice)', fmtSummary(summarize(f.voiceToVoice)));
      const p99 = summarize(f.loopP99);
      row('  event-loop delay p99 per 1 s window', `median ${fmtMs(p99.p50)}, worst ${fmtMs(p99.max)} (${p99.n} windows)`);
      row('  event-loop delay max per 1 s window', `median ${fmtMs(summarize(f.loopMax).p50)}, worst ${fmtMs(summarize(f.loopMax).max)}`);
      row('  /healthz latency', `${fmtSummary(summarize(f.healthz))}${f.healthzFailed ? `, ${f.healthzFailed} failed` : ''}`);
      row('  server CPU (all threads)', `${((cpu / (f.wallMs / 1000)) * 100).toFixed(0)} % of one core`);
    }
    out.push('');
    row('documents', docResults.map((d) => `${d.status} (${d.chunk_count} chunks${d.error_message ? `: ${d.error_message}` : ''}) after ${(d.ms / 1000).toFixed(1)} s`).join('; '));
    row('server RSS', `idle ${mb(idleRss)}, peak during ingestion ${mb(rss.peak)} (worker threads included)`);
    row('load generator event loop', `p99 ${(harnessLag.percentile(99) / 1e6).toFixed(1)} ms, max ${(harnessLag.max / 1e6).toFixed(1)} ms`);
    out.push('');
    process.stdout.write(out.join('\n') + '\n');
    return during.voiceToVoice.length > 0 && base.voiceToVoice.length > 0 ? 0 : 1;
  } finally {
    const code = await server?.stop();
    if (code !== undefined && code !== 0 && code !== null) log(`server exited with ${code}`);
    if (server && code !== 0) log(server.stderr().slice(-3000));
    await Promise.all([deepgram.close(), cartesia.close(), openai.close()]);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
