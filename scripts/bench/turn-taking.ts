/**
 * `npm run bench:turns`: turn-taking measured at the caller's ear, over real audio, through the real server.
 *
 * Parley runs in this process (startServer: embedded PGlite or --database-url, local recognizer = Silero VAD +
 * pocketsphinx, local TTS = flite; the LLM is a fake OpenAI so the bot's answers are known); each trial is one web
 * call (16 kHz PCM over the web-call socket) from scripts/bench/lib/web-caller.ts, which sends the microphone in
 * real time and plays the bot's audio on a simulated speaker, echoing marks as they play. Caller audio is made by
 * flite / espeak-ng and sox. Prints:
 *   0. the caller VAD's CPU per call (in process, real-time paced streams) for each engine, which is why the cloud
 *      path runs the energy VAD and the local path one Silero shared with the recognizer;
 *   a. interruptions: caller speech onset (first voiced sample sent) → the bot goes quiet at the ear (the `clear`
 *      arrives, or the received audio runs out, whichever is first), p50/p95;
 *   b. non-speech over the bot (coughs, "uh-huh", "ага", door-slam clicks): ignored / paused then resumed /
 *      committed (a false interruption), and how much audio the caller heard twice after a resume;
 *   c. end of turn over the fixture set of scripts/bench/lib/turn-fixtures.ts (44 sentences, each spoken whole by
 *      flite with a pause of --eot-pause-ms spliced in at a word boundary, and 44 complete sentences): false
 *      cut-offs (the caller's turn closed before the second half was sent) and the wait after complete sentences.
 *
 * --stt local (default): the local recognizer (its Silero VAD is the call's VAD). --stt deepgram: the cloud path,
 * against tests/fakes/fakeDeepgram.ts — the call's energy VAD plus Deepgram's SpeechStarted / interim / final /
 * UtteranceEnd; the fake's words are the clip's own text (unpunctuated), so only the recognizer's timing is fake.
 *
 *   npm run bench:turns -- [--stt local|deepgram] [--trials 20] [--eot-pause-ms 700] [--eot-items 44]
 *                          [--database-url postgres://…] [--skip-vad-cost] [--only abc] [--verbose]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { WIDEBAND_FORMAT, TWILIO_FORMAT, type AudioFormat } from '../../src/audio/format.js';
import { pcm16FromBytes } from '../../src/audio/pcm.js';
import { encodeSamples } from '../../src/audio/convert.js';
import { resampleOffline } from '../../src/audio/resample.js';
import { localCallerVoice } from '../../src/call/caller-voice.js';
import { systemClock } from '../../src/call/types.js';
import { testConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';
import { FakeDeepgram } from '../../tests/fakes/fakeDeepgram.js';
import { FakeOpenAI } from '../../tests/fakes/fakeOpenAI.js';
import { speak, wavToFormat } from '../lib/speech-audio.js';
import { provisionBot } from './lib/server-child.js';
import { fmtMs, percentile } from './lib/stats.js';
import { COMPLETE_EN, PAUSED_EN, speakWhole, speakWithBoundary } from './lib/turn-fixtures.js';
import { firstVoiced, lastVoiced, WebCaller } from './lib/web-caller.js';
import { concatSamples } from '../../src/audio/pcm.js';

const run = promisify(execFile);
const args = parseArgs({
  options: {
    trials: { type: 'string', default: '20' },
    'database-url': { type: 'string' },
    'skip-vad-cost': { type: 'boolean', default: false },
    stt: { type: 'string', default: 'local' },
    'eot-pause-ms': { type: 'string', default: '700' },
    'eot-items': { type: 'string' },
    /** Which parts to run, e.g. "ac". Default all. */
    only: { type: 'string' },
    /** a: print each trial; c: every sentence's heard text and the end-of-turn score and rules, not only the misses. */
    verbose: { type: 'boolean', default: false },
  },
}).values;
const TRIALS = Number(args.trials);
const CLOUD = args.stt === 'deepgram';
if (!CLOUD && args.stt !== 'local') throw new Error('--stt is local or deepgram');
const EOT_PAUSE_MS = Number(args['eot-pause-ms']);
/** What the fake recognizer hears: the clip's words, lower case, without punctuation. */
const words = (text: string): string => text.toLowerCase().replace(/[^\p{L}\p{N}' ]+/gu, '').replace(/\s+/g, ' ').trim();

const LONG_ANSWER =
  'We are open from nine in the morning to six in the evening on weekdays. On Saturdays we open at ten and close at four. ' +
  'On Sundays and public holidays we are closed, but you can always leave a message and we will call you back the next morning. ' +
  'Parking is free behind the building, and the entrance is next to the pharmacy on the corner.';
/** For the non-speech trials: long enough to talk over, short enough to wait for its end. */
const MEDIUM_ANSWER = 'Parking is free behind the building, and the entrance is next to the pharmacy on the corner. Just ring the bell and we will let you in.';
const SHORT_ANSWER = 'Okay.';
let firstAnswer = LONG_ANSWER;
/** The bot's transcript of the whole long answer (phrases re-joined by the server). */
const isAnswer = (text: string, answer: string): boolean => text.replace(/\s+/g, ' ').trim() === answer;

const print = (label: string, value: string): void => console.log(`  ${label.padEnd(44)} ${value}`);
const pct = (n: number, d: number): string => (d ? `${((100 * n) / d).toFixed(0)} % (${n}/${d})` : 'n/a');
const p5095 = (xs: number[]): string => `p50 ${fmtMs(percentile(xs, 50))} / p95 ${fmtMs(percentile(xs, 95))} (max ${fmtMs(Math.max(...xs))}, n=${xs.length})`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------- audio ----------

async function say(text: string, language: 'en' | 'ru' = 'en'): Promise<Int16Array> {
  return pcm16FromBytes(await speak(text, WIDEBAND_FORMAT, language)).slice();
}

async function sox(effects: string[]): Promise<Int16Array> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-sox-'));
  try {
    const out = join(dir, 'noise.wav');
    await run('sox', ['-n', '-r', '16000', '-b', '16', '-c', '1', out, ...effects]);
    return pcm16FromBytes(wavToFormat(new Uint8Array(await readFile(out)), WIDEBAND_FORMAT)).slice();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const silence = (ms: number): Int16Array => new Int16Array(ms * 16);
const concat = concatSamples;
/** The clip from its first to its last voiced 10 ms (synthesised speech carries silence at both ends). */
function trim(x: Int16Array): Int16Array {
  const a = firstVoiced(x);
  const b = lastVoiced(x);
  return a < 0 ? x : x.slice(a, b);
}

// ---------- 0. VAD cost ----------

async function vadCost(): Promise<void> {
  console.log('\n0. Caller VAD CPU per call (this process, 20 streams paced at real time for 8 s, speech audio; baseline subtracted)');
  const speech = await say('Could you tell me when you are open on Saturday and whether I need to book in advance.');
  const configs: { label: string; format: AudioFormat; engine: 'energy' | 'silero' | null }[] = [
    { label: 'none (the 20 ms timer loop alone)', format: TWILIO_FORMAT, engine: null },
    { label: 'energy, Twilio 8 kHz μ-law (cloud default)', format: TWILIO_FORMAT, engine: 'energy' },
    { label: 'energy, web 16 kHz PCM (cloud default)', format: WIDEBAND_FORMAT, engine: 'energy' },
    { label: 'Silero, Twilio 8 kHz μ-law → 16 kHz', format: TWILIO_FORMAT, engine: 'silero' },
    { label: 'Silero, web 16 kHz PCM', format: WIDEBAND_FORMAT, engine: 'silero' },
  ];
  let baseline = 0;
  for (const c of configs) {
    const audio = encodeSamples(resampleOffline(speech, 16000, c.format.sampleRate), c.format.encoding);
    const frameBytes = c.format.sampleRate === 8000 ? 160 : 640;
    const rssBefore = process.memoryUsage().rss;
    const voices = await Promise.all(
      Array.from({ length: 20 }, () => (c.engine ? localCallerVoice({ engine: c.engine })({ format: c.format, clock: systemClock, onEvent: () => {} }) : null)),
    );
    const rssAfter = process.memoryUsage().rss;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let frame = 0;
    await new Promise<void>((resolve) => {
      const h = setInterval(() => {
        if (performance.now() - t0 >= 8000) return (clearInterval(h), resolve());
        const o = (frame++ * frameBytes) % (audio.length - frameBytes);
        const f = audio.subarray(o, o + frameBytes);
        for (const v of voices) if (v) v.push(f);
      }, 20);
    });
    const cpu = process.cpuUsage(cpu0);
    const perCall = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100 / 20;
    if (!c.engine) baseline = perCall;
    await Promise.all(voices.map((v) => v?.close()));
    print(c.label, c.engine ? `${Math.max(0, perCall - baseline).toFixed(3)} % of a core per call; +${((rssAfter - rssBefore) / 20 / 1e6).toFixed(2)} MB RSS per call at creation` : `${perCall.toFixed(3)} % of a core per call (the timer loop; subtracted below)`);
  }
}

// ---------- the server and one call ----------

interface Env {
  url: string;
  botId: string;
  apiKey: string;
  /** The fake recognizer (--stt deepgram); its transcripts are scripted per call with `script`. */
  deepgram: FakeDeepgram | null;
  stop(): Promise<void>;
}

/** Deepgram mode: connection index → what the caller will say, utterance by utterance. */
const scripts = new Map<number, string[]>();

async function startEnv(): Promise<Env> {
  const openai = await FakeOpenAI.start({ apiKey: 'sk-bench', firstTokenLatencyMs: 300, tokenIntervalMs: 5 });
  openai.reply = (body) => {
    const messages = body.messages as { role: string; content: string }[];
    const last = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    // The first question of a call gets the answer the running part talks over (the recognizer's words may be off).
    const first = messages.filter((m) => m.role === 'user').length === 1;
    return { text: first && last ? firstAnswer : SHORT_ANSWER };
  };
  const deepgram = CLOUD ? await FakeDeepgram.start({ minSpeechMs: 60 }) : null;
  if (deepgram) deepgram.transcriptFor = (connection, utterance) => scripts.get(connection)?.[utterance] ?? '';
  const config = testConfig({
    ...(deepgram ? { DEFAULT_STT: 'deepgram', DEEPGRAM_API_KEY: 'dg-test', DEEPGRAM_URL: deepgram.url } : { DEFAULT_STT: 'local' }),
    OPENAI_API_KEY: 'sk-bench',
    OPENAI_BASE_URL: openai.baseUrl,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MIN: '1000000',
    WORKERS_ENABLED: 'false',
    ...(args['database-url'] ? { DATABASE_URL: args['database-url'] } : {}),
  });
  const server = await startServer(config, createLogger('error'), { port: 0 });
  const { botId, apiKey } = await provisionBot({ url: server.url, adminToken: server.adminToken }, '+15550001111', {
    greeting: 'Hello.',
    systemPrompt: 'You answer questions about a clinic.',
    limits: { silenceRepromptSec: 60, silenceHangupSec: 120 },
  });
  return {
    url: server.url,
    botId,
    apiKey,
    deepgram,
    stop: async () => {
      await server.stop();
      await openai.close();
      await deepgram?.close();
    },
  };
}

const callIds = new WeakMap<WebCaller, string>();

/** Why the server closed the caller's `index`-th spoken turn (the transcript's `endOfTurn`), read after the call. */
async function endOfTurnOf(env: Env, caller: WebCaller, index: number): Promise<string> {
  const res = await fetch(`${env.url}/v1/calls/${callIds.get(caller)}`, { headers: { authorization: `Bearer ${env.apiKey}` } });
  const call = (await res.json()) as { transcript?: { role: string; endOfTurn?: { score: number; rule: string } }[] };
  const e = call.transcript?.filter((t) => t.role === 'caller')[index]?.endOfTurn;
  return e ? `score ${e.score} (${e.rule})` : '(no end-of-turn record)';
}

/** One web call, through its greeting; `says` = the caller's utterances in order (the fake recognizer's words). */
async function call(env: Env, says: string[] = []): Promise<WebCaller> {
  const res = await fetch(`${env.url}/v1/bots/${env.botId}/web-calls`, { method: 'POST', headers: { authorization: `Bearer ${env.apiKey}` } });
  const body = (await res.json()) as { token: string; call_id: string };
  const caller = await WebCaller.connect(env.url, body.token);
  callIds.set(caller, body.call_id);
  // Calls run one at a time: the newest recognizer connection is this call's.
  if (env.deepgram) {
    await caller.until(() => env.deepgram!.connections.length > scripts.size, 5000);
    scripts.set(env.deepgram.connections.length - 1, says.map(words));
  }
  // The greeting plays, then the bot listens.
  await caller.until(() => caller.log.audio.length > 0, 10_000);
  await caller.until(() => caller.unplayedMs === 0 && caller.log.transcripts.some((t) => t.role === 'bot'), 10_000);
  await sleep(300);
  return caller;
}

/** Asks the question that gets the long answer and waits until `heardMs` of it has played. Returns the audio played before the question. */
async function askAndListen(caller: WebCaller, question: Int16Array, heardMs: number): Promise<number | null> {
  const before = caller.playedMs;
  const audioBefore = caller.log.audio.length;
  await caller.say(question);
  if (!(await caller.until(() => caller.log.audio.length > audioBefore, 15_000))) return null;
  const firstAt = caller.log.audio[audioBefore]!.at;
  await sleep(Math.max(0, firstAt + heardMs - performance.now()));
  return before;
}

// ---------- a. interruptions ----------

async function interruptions(env: Env, question: Int16Array, questionText: string): Promise<void> {
  const lines = ['Wait, can I book for tomorrow instead?', 'Sorry, what about Sunday?', 'Hold on, I have another question.', 'No, I meant the other clinic.'];
  const clips = await Promise.all(lines.map((l) => say(l)));
  const quiet: number[] = [];
  let committed = 0;
  let missed = 0;
  const serverQuiet: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const caller = await call(env, [questionText, lines[i % lines.length]!]);
    try {
      if ((await askAndListen(caller, question, 1500 + ((i * 373) % 2000))) === null) {
        missed++;
        continue;
      }
      const clip = clips[i % clips.length]!;
      const clears = caller.log.clears.length;
      const { markAt: onsetAt } = await caller.say(concat(clip, silence(300)), Math.max(0, firstVoiced(clip)));
      if (!(await caller.until(() => caller.log.clears.length > clears, 5000))) {
        missed++;
        continue;
      }
      // Quiet at the ear: the clear cut the speaker, unless the received audio had already run out.
      const clearAt = caller.log.clears[clears]!;
      const lastAudioBefore = caller.log.audio.filter((a) => a.at <= clearAt);
      let playsUntil = 0;
      for (const a of lastAudioBefore) playsUntil = Math.max(playsUntil, a.at) + a.bytes / 32;
      quiet.push(Math.min(clearAt, playsUntil) - onsetAt);
      await caller.until(() => caller.log.transcripts.some((t) => t.role === 'caller' && t.at > onsetAt), 8000);
      if (caller.log.transcripts.some((t) => t.role === 'caller' && t.at > onsetAt)) committed++;
      // The server's own figure (onset as its VAD placed it → clear sent), reported with the cut answer's latency.
      await caller.until(() => caller.log.latencies.some((l) => l.latency.bargeInOnsetToQuietMs != null), 3000);
      const s = caller.log.latencies.find((l) => l.latency.bargeInOnsetToQuietMs != null)?.latency.bargeInOnsetToQuietMs;
      if (s != null) serverQuiet.push(s);
      // Server and callers share this process's clock: where the server placed the onset = clear received − its figure.
      if (args.verbose) {
        const ear = Math.min(clearAt, playsUntil) - onsetAt;
        const placed = s == null ? 'n/a' : `${(clearAt - s - onsetAt).toFixed(0)} ms after the first voiced sample was sent`;
        console.log(`  trial ${i}: "${lines[i % lines.length]}" onset → quiet at the ear ${ear.toFixed(0)} ms; server: onset → clear ${s ?? 'n/a'} ms, onset placed ${placed}`);
      }
    } finally {
      await caller.close();
    }
  }
  console.log(`\na. Interruptions: the bot reads a long answer, the caller talks over it 1.5–3.5 s in (${lines.length} flite sentences)`);
  print('caller onset → bot quiet at the ear', p5095(quiet));
  print('  server side (its VAD onset → clear sent)', serverQuiet.length ? p5095(serverQuiet) : 'n/a');
  print('interruptions committed (the turn was cut)', pct(committed, quiet.length));
  print('trials without a clear within 5 s', `${missed} of ${TRIALS}`);
  print('target', `p95 ≤ 300 ms at the ear: ${percentile(quiet, 95) <= 300 ? 'PASS' : 'MISS'}; p95 ≤ 150 ms server side: ${!serverQuiet.length ? 'n/a' : percentile(serverQuiet, 95) <= 150 ? 'PASS' : 'MISS'}`);
}

// ---------- b. non-speech over the bot ----------

async function nonSpeech(env: Env): Promise<void> {
  // `heard`: what a cloud recognizer makes of it (nothing, for noise).
  const kinds: { label: string; heard: string; make: () => Promise<Int16Array> }[] = [
    { label: 'cough (sox noise burst)', heard: '', make: () => sox(['synth', '0.3', 'pinknoise', 'fade', 'q', '0.02', '0.3', '0.2', 'gain', '-6']) },
    { label: '"uh-huh" (flite)', heard: 'uh-huh', make: async () => trim(await say('uh-huh')) },
    { label: '"ага" (espeak-ng ru)', heard: 'ага', make: async () => trim(await say('ага', 'ru')) },
    { label: 'door slam (sox click)', heard: '', make: () => sox(['synth', '0.08', 'whitenoise', 'fade', '0', '0.08', '0.075', 'gain', '-3']) },
  ];
  const clips = await Promise.all(kinds.map((k) => k.make()));
  const question = await say('Where can I park?');
  firstAnswer = MEDIUM_ANSWER;
  // The answer's full audio, played uninterrupted: the reference for "heard twice".
  const fullMs = await answerAudioMs(env, question, MEDIUM_ANSWER);
  const rows = kinds.map(() => ({ ignored: 0, resumed: 0, committed: 0, other: 0 }));
  const repeated: number[] = [];
  const trialsPerKind = Math.max(2, Math.ceil(TRIALS / 4));
  for (let i = 0; i < trialsPerKind * kinds.length; i++) {
    const k = i % kinds.length;
    const caller = await call(env, ['Where can I park?', kinds[k]!.heard]);
    try {
      const before = await askAndListen(caller, question, 1000 + ((i * 311) % 2500));
      if (before === null) {
        rows[k]!.other++;
        continue;
      }
      const clears = caller.log.clears.length;
      const { markAt } = await caller.say(concat(clips[k]!, silence(200)));
      const done = await caller.until(
        () => caller.log.transcripts.some((t) => t.at > markAt && ((t.role === 'bot' && isAnswer(t.text, MEDIUM_ANSWER)) || t.role === 'caller')),
        30_000,
      );
      const caughtUp = caller.log.transcripts.find((t) => t.at > markAt && (t.role === 'caller' || t.role === 'bot'));
      if (!done || !caughtUp) rows[k]!.other++;
      else if (caughtUp.role === 'caller') rows[k]!.committed++;
      else if (caller.log.clears.length === clears) rows[k]!.ignored++;
      else {
        rows[k]!.resumed++;
        await sleep(caller.unplayedMs + 100);
        repeated.push(caller.playedMs - before - fullMs);
      }
    } finally {
      await caller.close();
    }
  }
  console.log(`\nb. Non-speech over the bot: ${trialsPerKind} trials of each, 1–3.5 s into a 9 s answer`);
  let ok = 0;
  let all = 0;
  let paused = 0;
  let resumed = 0;
  kinds.forEach((kind, k) => {
    const r = rows[k]!;
    const n = r.ignored + r.resumed + r.committed + r.other;
    ok += r.ignored + r.resumed;
    all += n;
    paused += r.resumed + r.committed;
    resumed += r.resumed;
    print(kind.label, `not paused ${r.ignored}, paused then resumed ${r.resumed}, committed (false interruption) ${r.committed}, no outcome ${r.other}`);
  });
  print('the answer went on (not paused, or resumed)', pct(ok, all));
  print('of the pauses, resumed', pct(resumed, paused));
  print('audio heard twice after a resume', repeated.length ? `${p5095(repeated)} (played − the answer's ${fullMs.toFixed(0)} ms; < 0 = a slice lost)` : 'n/a');
  print('target', `non-speech resumed (or never paused) ≥ 90 %: ${all && ok / all >= 0.9 ? 'PASS' : 'MISS'}`);
}

/** Ms of the bot's audio for `answer`, played to the end without interruption. */
async function answerAudioMs(env: Env, question: Int16Array, answer: string): Promise<number> {
  const caller = await call(env, ['Where can I park?']);
  try {
    const before = (await askAndListen(caller, question, 0)) ?? 0;
    await caller.until(() => caller.log.transcripts.some((t) => t.role === 'bot' && isAnswer(t.text, answer)), 60_000);
    if (!caller.log.transcripts.some((t) => t.role === 'bot' && isAnswer(t.text, answer))) {
      throw new Error(`the reference answer did not play to the end: ${JSON.stringify(caller.log.transcripts)}`);
    }
    await sleep(caller.unplayedMs + 100);
    return caller.playedMs - before;
  } finally {
    await caller.close();
  }
}

// ---------- c. end of turn ----------

async function endOfTurn(env: Env): Promise<void> {
  firstAnswer = SHORT_ANSWER;
  const n = Math.min(PAUSED_EN.length, Number(args['eot-items'] ?? PAUSED_EN.length));
  const paused = await Promise.all(
    PAUSED_EN.slice(0, n).map(async ([a, b]) => {
      // One sentence spoken whole, the pause spliced in where the first part's last word ends.
      const { pcm, boundary } = await speakWithBoundary(a, b);
      const start = Math.max(0, firstVoiced(pcm));
      const end = lastVoiced(pcm);
      return { says: [a, b], label: `${a} … ${b}`, clip: concat(pcm.slice(start, boundary), silence(EOT_PAUSE_MS), pcm.slice(boundary, end)) };
    }),
  );
  const complete = await Promise.all(COMPLETE_EN.slice(0, n).map(async (s) => ({ says: [s], label: s, clip: trim(await speakWhole(s)) })));
  let cutOffs = 0;
  const cutTexts: string[] = [];
  const clientWait: number[] = [];
  const endpoint: number[] = [];
  const rulesWait: number[] = [];
  const slowComplete: string[] = [];
  // Alternate, so that load drifts hit both kinds alike.
  const order = paused.flatMap((p, i) => [{ ...p, isPaused: true }, ...(complete[i] ? [{ ...complete[i], isPaused: false }] : [])]);
  for (const { isPaused, ...item } of order) {
    const caller = await call(env, item.says);
    try {
      const callerTurns = caller.log.transcripts.filter((t) => t.role === 'caller').length;
      const latencies = caller.log.latencies.length;
      const { endAt } = await caller.say(concat(item.clip, silence(100)), 0);
      const speechEndAt = endAt - 100;
      await caller.until(() => caller.log.transcripts.filter((t) => t.role === 'caller').length > callerTurns, 15_000);
      const closed = caller.log.transcripts.filter((t) => t.role === 'caller')[callerTurns];
      if (isPaused) {
        if (!closed || closed.at < speechEndAt) {
          cutOffs++;
          cutTexts.push(`"${item.label}" closed on "${closed?.text ?? '(nothing)'}": ${await endOfTurnOf(env, caller, callerTurns)}`);
        } else if (args.verbose) {
          console.log(`  paused   "${item.label}" → "${closed.text}": ${await endOfTurnOf(env, caller, callerTurns)}`);
        }
      } else if (closed) {
        clientWait.push(closed.at - speechEndAt);
        await caller.until(() => caller.log.latencies.length > latencies, 15_000);
        const l = caller.log.latencies[latencies]?.latency;
        if (l?.endpointMs != null) {
          endpoint.push(l.endpointMs);
          // What the end-of-turn model added: the decision after both the VAD's 200 ms of silence and the recognizer's final.
          const added = l.endpointMs - Math.max(200, l.sttFinalMs ?? 0);
          rulesWait.push(added);
          if (added > 300) slowComplete.push(`"${item.label}" heard as "${closed.text}": +${added.toFixed(0)} ms, ${await endOfTurnOf(env, caller, callerTurns)}`);
          else if (args.verbose) console.log(`  complete "${item.label}" → "${closed.text}": +${added.toFixed(0)} ms, ${await endOfTurnOf(env, caller, callerTurns)}`);
        }
      }
    } finally {
      await caller.close();
    }
  }
  const recognizer = CLOUD ? 'fake Deepgram, the clip\'s own words' : 'pocketsphinx: its mistakes count';
  console.log(`\nc. End of turn (${recognizer}; flite speech, the pause spliced into one sentence)`);
  print(`${paused.length} sentences with a ${EOT_PAUSE_MS} ms pause: false cut-offs`, `${pct(cutOffs, paused.length)} (the caller's turn closed before the second half was sent)`);
  for (const t of cutTexts) print('  cut off', t);
  print(`${complete.length} complete sentences: end of speech → turn closed`, `${p5095(clientWait)} (at the client: caller's last voiced frame sent → final transcript)`);
  print('  server endpointMs (end of speech → decision)', p5095(endpoint));
  print('  added by the end-of-turn model', `${p5095(rulesWait)} (endpointMs − max(200 ms VAD silence, sttFinalMs))`);
  for (const t of slowComplete) print('  waited', t);
  print('target', `false cut-offs ≤ 5 %: ${paused.length && cutOffs / paused.length <= 0.05 ? 'PASS' : 'MISS'}; median added wait ≤ 300 ms: ${percentile(rulesWait, 50) <= 300 ? 'PASS' : 'MISS'}`);
}

async function main(): Promise<void> {
  const stt = CLOUD ? 'energy VAD + fake Deepgram' : 'local Silero VAD + pocketsphinx';
  const load = (await readFile('/proc/loadavg', 'utf8').catch(() => '')).split(' ').slice(0, 3).join(' ');
  console.log(`bench:turns — ${TRIALS} trials per figure; ${args['database-url'] ? 'PostgreSQL' : 'embedded PGlite'}; server in this process (web transport, ${stt}, flite, fake OpenAI); load average at start ${load || 'n/a'}`);
  if (!args['skip-vad-cost']) await vadCost();
  const env = await startEnv();
  try {
    const questionText = 'Could you tell me your opening hours?';
    const question = await say(questionText);
    if (!args.only || args.only.includes('a')) {
      // The server shares this process's event loop with the simulated callers: a stall delays both.
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      await interruptions(env, question, questionText);
      loop.disable();
      print('  event loop (server + callers) delay', `p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms`);
    }
    if (!args.only || args.only.includes('b')) await nonSpeech(env);
    if (!args.only || args.only.includes('c')) await endOfTurn(env);
  } finally {
    await env.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('bench failed:', err);
    process.exit(1);
  },
);
