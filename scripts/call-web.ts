/**
 * The web-call simulator (`npm run call -- --web …`): plays a browser against a running Parley. Mints a token
 * with an API key (or takes one), opens the web-call socket, speaks a WAV or text (synthesized by flite) as
 * 20 ms PCM16 16 kHz frames with silence between utterances like a live microphone, plays the bot's audio on a
 * simulated clock and echoes marks when they have "played", honours `clear`, writes the bot's audio to a WAV and
 * prints the transcript with per-turn latencies.
 */
import { readFile, writeFile } from 'node:fs/promises';
import WebSocket from 'ws';
import { resampleOffline } from '../src/audio/resample.js';
import { readWav, wavToPcm16, writeWav } from '../src/audio/wav.js';
import { synthesize } from '../src/providers/tts/local-synth.js';

export interface WebCallOptions {
  /** Parley's base URL, e.g. http://127.0.0.1:3000. */
  server: string;
  token?: string;
  apiKey?: string;
  botId?: string;
  /** A WAV of what the caller says (any rate, mono or stereo). */
  wav?: string;
  /** Caller utterances, spoken by flite (or typed, with `typed`). */
  text?: string[];
  /** Where to write the bot's audio as played (16 kHz PCM16 WAV). */
  outWav?: string;
  /** true: frames and playback at wall-clock speed; false: as fast as the server takes them. */
  realtime: boolean;
  /** Send `text` as typed messages instead of speech. */
  typed?: boolean;
  /** Origin header to present (a browser page's origin); none by default. */
  origin?: string;
  /** Where report lines go; default console.log. Pass () => {} for silence. */
  print?: (line: string) => void;
  /** Give up waiting for one bot answer after this long. Default 30 s. */
  turnTimeoutMs?: number;
}

export interface WebCallTurn {
  role: 'caller' | 'bot';
  text: string;
  /** Server-measured stages of this bot turn (ms), when it reported them. */
  latency?: Record<string, number | null>;
}

export interface WebCallResult {
  callId: string;
  transcript: WebCallTurn[];
  /** Per answered caller turn: server stages plus `clientFirstAudioMs` (end of caller audio → first bot audio). */
  latencies: Record<string, number | null>[];
  endedReason: string | null;
  botAudioBytes: number;
  clears: number;
}

const RATE = 16000;
const FRAME_SAMPLES = 320;
const BYTES_PER_MS = 32;
const TAIL_SILENCE_MS = 1500;

type Msg = { type: string; [k: string]: unknown };

async function mint(o: WebCallOptions): Promise<{ token: string; callId?: string }> {
  if (o.token) return { token: o.token };
  if (!o.apiKey || !o.botId) throw new Error('runWebCall needs a token, or an API key and a bot id to mint one');
  const res = await fetch(`${o.server}/v1/bots/${o.botId}/web-calls`, { method: 'POST', headers: { authorization: `Bearer ${o.apiKey}` } });
  const body = (await res.json()) as { token?: string; call_id?: string; error?: { message: string } };
  if (res.status !== 201 || !body.token) throw new Error(`minting a web-call token failed (${res.status}): ${body.error?.message ?? JSON.stringify(body)}`);
  return { token: body.token, callId: body.call_id };
}

async function loadUtterances(o: WebCallOptions): Promise<Int16Array[]> {
  const out: Int16Array[] = [];
  if (o.wav) {
    const wav = readWav(new Uint8Array(await readFile(o.wav)));
    out.push(resampleOffline(wavToPcm16(wav), wav.sampleRate, RATE));
  }
  if (o.text && !o.typed) {
    for (const line of o.text) {
      const { samples, sampleRate } = await synthesize({ engine: 'flite', text: line, voice: 'slt', binary: 'flite', timeoutMs: 20_000 }).result;
      out.push(resampleOffline(samples, sampleRate, RATE));
    }
  }
  return out;
}

export async function runWebCall(o: WebCallOptions): Promise<WebCallResult> {
  const print = o.print ?? ((line: string) => console.log(line));
  const turnTimeoutMs = o.turnTimeoutMs ?? 30_000;
  const [{ token }, utterances] = await Promise.all([mint(o), loadUtterances(o)]);
  const socketUrl = new URL('/web-call/socket', o.server);
  socketUrl.protocol = socketUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(socketUrl, o.origin ? { origin: o.origin } : {});
  ws.binaryType = 'nodebuffer';

  const messages: Msg[] = [];
  const transcript: WebCallTurn[] = [];
  const latencies: Record<string, number | null>[] = [];
  const botAudio: Uint8Array[] = [];
  let botAudioBytes = 0;
  let clears = 0;
  let closed = false;
  let endedReason: string | null = null;
  let waiters: { test: () => boolean; resolve: () => void }[] = [];
  const check = (): void => {
    waiters = waiters.filter((w) => (w.test() ? (w.resolve(), false) : true));
  };
  const until = (test: () => boolean, timeoutMs: number): Promise<boolean> => {
    if (test()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiters = waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = { test, resolve: () => (clearTimeout(timer), resolve(true)) };
      waiters.push(waiter);
    });
  };
  const send = (m: Record<string, unknown>): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
  };

  // Simulated speaker: audio plays back to back from when it arrives; a mark is echoed once what precedes it played.
  let playheadAt = 0;
  const markTimers = new Set<NodeJS.Timeout>();
  let speechEndAt: number | null = null;
  let firstAudioAfterSpeech: number | null = null;

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const now = Date.now();
    if (isBinary) {
      // The recording keeps the bot's silences (while the caller spoke, while it thought): its timing is the call's.
      if (o.realtime && playheadAt > 0 && now > playheadAt) botAudio.push(new Uint8Array(Math.round((now - playheadAt) * BYTES_PER_MS) & ~1));
      botAudio.push(new Uint8Array(data));
      botAudioBytes += data.length;
      playheadAt = Math.max(playheadAt, now) + data.length / BYTES_PER_MS;
      if (speechEndAt !== null && firstAudioAfterSpeech === null) firstAudioAfterSpeech = now - speechEndAt;
      return;
    }
    const m = JSON.parse(data.toString()) as Msg;
    messages.push(m);
    switch (m.type) {
      case 'mark': {
        const name = m.name as string;
        if (!o.realtime) send({ type: 'mark-played', name });
        else {
          const t = setTimeout(() => {
            markTimers.delete(t);
            send({ type: 'mark-played', name });
          }, Math.max(0, playheadAt - now));
          markTimers.add(t);
        }
        break;
      }
      case 'clear': {
        clears++;
        for (const t of markTimers) clearTimeout(t);
        markTimers.clear();
        // Drop what had not played yet from the recording, as a speaker would never have played it.
        let unplayed = o.realtime ? Math.round(Math.max(0, playheadAt - now) * BYTES_PER_MS) & ~1 : 0;
        while (unplayed > 0 && botAudio.length > 0) {
          const last = botAudio[botAudio.length - 1]!;
          if (last.length <= unplayed) {
            botAudio.pop();
            unplayed -= last.length;
          } else {
            botAudio[botAudio.length - 1] = last.subarray(0, last.length - unplayed);
            unplayed = 0;
          }
        }
        playheadAt = now;
        break;
      }
      case 'transcript':
        if (m.final) transcript.push({ role: m.role as 'caller' | 'bot', text: m.text as string });
        break;
      case 'turn_latency': {
        const l = { ...(m.latency as Record<string, number | null>), clientFirstAudioMs: firstAudioAfterSpeech };
        latencies.push(l);
        const lastBot = [...transcript].reverse().find((t) => t.role === 'bot');
        if (lastBot) lastBot.latency = l;
        break;
      }
      case 'ended':
        endedReason = m.reason as string;
        break;
    }
    check();
  });
  const closedPromise = new Promise<void>((resolve) => ws.on('close', () => {
    closed = true;
    check();
    resolve();
  }));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  send({ type: 'start', token });
  await until(() => messages.some((m) => m.type === 'ready' || m.type === 'error') || closed, 15_000);
  const ready = messages.find((m) => m.type === 'ready');
  if (!ready) {
    const err = messages.find((m) => m.type === 'error');
    ws.close();
    throw new Error(`the server refused the call: ${(err?.message as string | undefined) ?? 'no answer'}`);
  }
  const callId = ready.call_id as string;
  print(`web call ${callId} connected`);

  // The microphone: in real time it never stops (silence between utterances), as a browser's would not.
  const silence = new Uint8Array(FRAME_SAMPLES * 2);
  let micQueue: Uint8Array[] = [];
  let onMicDrained: (() => void) | null = null;
  let micTimer: NodeJS.Timeout | null = null;
  if (o.realtime) {
    const started = Date.now();
    let sent = 0;
    const tick = (): void => {
      const due = Math.floor((Date.now() - started) / 20) + 1;
      while (sent < due && ws.readyState === WebSocket.OPEN) {
        ws.send(micQueue.shift() ?? silence, { binary: true });
        sent++;
        if (micQueue.length === 0 && onMicDrained) {
          onMicDrained();
          onMicDrained = null;
        }
      }
      micTimer = setTimeout(tick, 20 - ((Date.now() - started) % 20));
    };
    tick();
  }
  const speak = async (samples: Int16Array): Promise<void> => {
    const frames: Uint8Array[] = [];
    const padded = new Int16Array(Math.ceil((samples.length + (TAIL_SILENCE_MS * RATE) / 1000) / FRAME_SAMPLES) * FRAME_SAMPLES);
    padded.set(samples);
    for (let i = 0; i < padded.length; i += FRAME_SAMPLES) frames.push(new Uint8Array(padded.buffer, i * 2, FRAME_SAMPLES * 2));
    const speechFrames = Math.ceil(samples.length / FRAME_SAMPLES);
    if (o.realtime) {
      // The bot may have ended the call: nothing is sent on a closed socket, so nothing would ever drain.
      if (closed) return;
      micQueue = frames.slice(0, speechFrames);
      await Promise.race([new Promise<void>((r) => (onMicDrained = r)), closedPromise]);
      speechEndAt = Date.now();
    } else {
      for (let i = 0; i < frames.length; i++) {
        ws.send(frames[i]!, { binary: true });
        if (i === speechFrames - 1) speechEndAt = Date.now();
        if (i % 50 === 49) await new Promise((r) => setImmediate(r));
      }
    }
  };

  const botFinals = () => transcript.filter((t) => t.role === 'bot').length;
  const botDone = (before: number) => () => closed || endedReason !== null || botFinals() > before;
  // Let the greeting finish (its final transcript comes once all of it has played).
  await until(botDone(0), turnTimeoutMs);

  const turns: Array<{ audio?: Int16Array; typed?: string }> = o.typed ? (o.text ?? []).map((t) => ({ typed: t })) : utterances.map((a) => ({ audio: a }));
  for (const turn of turns) {
    if (closed || endedReason) break;
    const before = botFinals();
    speechEndAt = null;
    firstAudioAfterSpeech = null;
    if (turn.typed) {
      speechEndAt = Date.now();
      send({ type: 'text', text: turn.typed });
    } else await speak(turn.audio!);
    if (!(await until(botDone(before), turnTimeoutMs))) print(`(no answer within ${turnTimeoutMs} ms)`);
  }

  if (!closed) {
    if (o.realtime) await until(() => Date.now() >= playheadAt, Math.max(0, playheadAt - Date.now()) + 100);
    send({ type: 'end' });
    await Promise.race([closedPromise, new Promise((r) => setTimeout(r, 5000))]);
  }
  if (micTimer) clearTimeout(micTimer);
  for (const t of markTimers) clearTimeout(t);
  if (ws.readyState === WebSocket.OPEN) ws.close();

  if (o.outWav) {
    const all = new Uint8Array(botAudio.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of botAudio) {
      all.set(c, off);
      off += c.length;
    }
    await writeFile(o.outWav, writeWav(all, { encoding: 'pcm16', sampleRate: RATE }));
  }
  for (const line of formatTranscript(transcript)) print(line);
  print(`ended: ${endedReason ?? 'socket closed'}${clears ? `, ${clears} barge-in clear(s)` : ''}`);
  return { callId, transcript, latencies, endedReason, botAudioBytes, clears };
}

export function formatTranscript(transcript: WebCallTurn[]): string[] {
  return transcript.map((t) => {
    const l = t.latency;
    const ms = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${Math.round(v)} ms`);
    const suffix = l ? `   [total ${ms(l.totalMs)}, llm ${ms(l.llmFirstTokenMs)}, tts ${ms(l.ttsFirstAudioMs)}, client ${ms(l.clientFirstAudioMs)}]` : '';
    return `${t.role === 'caller' ? 'caller' : 'bot   '}: ${t.text}${suffix}`;
  });
}
