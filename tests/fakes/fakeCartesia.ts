/**
 * A local WebSocket server speaking Cartesia's TTS websocket protocol (/tts/websocket): contexts, continue,
 * cancel, raw output formats. For each transcript piece it streams `chunk` messages of base64 audio in the
 * requested format (a tone, `msPerWord` ms per word, in 20 ms chunks) after a first-audio latency; a context
 * finished with continue:false gets `done` once its audio is out. Bad requests get `error`. Records requests.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface FakeCartesiaOptions {
  apiKey?: string;
  /** Delay before the first chunk of a context (model latency). */
  firstAudioLatencyMs?: number;
  /** Wall time between chunks (0 = as fast as possible; 20 = real time). */
  chunkIntervalMs?: number;
  msPerWord?: number;
}

export interface FakeCartesiaConnection {
  readonly headers: IncomingMessage['headers'];
  readonly requests: Array<Record<string, unknown>>;
  drop(): void;
}

/** A context's first transcript arriving, and its first audio chunk going out (performance.now()). */
export interface FakeCartesiaTrace {
  kind: 'text' | 'first-audio';
  connection: number;
  contextId: string;
  transcript: string;
  at: number;
}

interface ContextState {
  format: { encoding: string; sample_rate: number };
  queue: number[]; // ms of audio per pending piece
  finished: boolean;
  cancelled: boolean;
  started: boolean;
  running: boolean;
  firstTranscript: string;
  firstAudioSent: boolean;
}

const ENCODINGS: Record<string, number> = { pcm_mulaw: 1, pcm_alaw: 1, pcm_s16le: 2, pcm_f32le: 4 };

export class FakeCartesia {
  readonly connections: FakeCartesiaConnection[] = [];
  rejectedHandshakes = 0;
  options: Required<FakeCartesiaOptions>;
  /** Observer for benchmarks; null costs nothing. */
  trace: ((event: FakeCartesiaTrace) => void) | null = null;
  /**
   * Misbehaviour for a new context, by its first transcript: 'silent' never answers it, { error } answers an error
   * frame for it (that status code), 'drop' closes the socket after its first audio chunk, 'empty' ends it (`done`)
   * without any audio.
   */
  misbehave: ((transcript: string, connection: number) => 'silent' | 'drop' | 'empty' | { error: number } | null) | null = null;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private port = 0;

  private constructor(options: FakeCartesiaOptions) {
    this.options = {
      apiKey: options.apiKey ?? 'cartesia-test',
      firstAudioLatencyMs: options.firstAudioLatencyMs ?? 0,
      chunkIntervalMs: options.chunkIntervalMs ?? 0,
      msPerWord: options.msPerWord ?? 60,
    };
    this.http = createServer((_req, res) => res.writeHead(426).end());
    this.wss = new WebSocketServer({ noServer: true });
    this.http.on('upgrade', (req, socket, head) => {
      const reject = (status: number, message: string): void => {
        this.rejectedHandshakes++;
        const body = JSON.stringify({ error: message });
        socket.end(`HTTP/1.1 ${status} Error\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      };
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/tts/websocket') return reject(404, 'not found');
      if (req.headers.authorization !== `Bearer ${this.options.apiKey}`) return reject(401, 'invalid API key');
      if (!req.headers['cartesia-version']) return reject(400, 'cartesia-version header is required');
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
    });
  }

  static async start(options: FakeCartesiaOptions = {}): Promise<FakeCartesia> {
    const fake = new FakeCartesia(options);
    await new Promise<void>((resolve) => fake.http.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.http.address() as AddressInfo).port;
    return fake;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** All requests over all connections, in order. */
  get requests(): Array<Record<string, unknown>> {
    return this.connections.flatMap((c) => c.requests);
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const requests: Array<Record<string, unknown>> = [];
    const connection = this.connections.length;
    this.connections.push({ headers: req.headers, requests, drop: () => ws.terminate() });
    const contexts = new Map<string, ContextState>();
    const send = (m: Record<string, unknown>): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
    };
    const error = (contextId: unknown, message: string): void =>
      send({ type: 'error', context_id: contextId, status_code: 400, title: 'Invalid request', message, error_code: 'invalid_request', done: true });

    const run = async (id: string, ctx: ContextState): Promise<void> => {
      const bad = this.misbehave?.(ctx.firstTranscript, connection) ?? null;
      if (bad === 'silent') return;
      if (bad === 'empty') {
        if (ctx.finished && !ctx.cancelled) {
          send({ type: 'done', context_id: id, done: true, status_code: 200 });
          contexts.delete(id);
        }
        return;
      }
      if (bad && typeof bad === 'object') {
        send({ type: 'error', context_id: id, status_code: bad.error, title: 'Scripted', message: `scripted error ${bad.error}`, error_code: 'scripted', done: true });
        contexts.delete(id);
        return;
      }
      if (bad === 'drop' && ctx.firstAudioSent) return;
      if (ctx.running) return;
      ctx.running = true;
      if (!ctx.started) {
        ctx.started = true;
        await sleep(this.options.firstAudioLatencyMs);
      }
      const bytesPerMs = (ENCODINGS[ctx.format.encoding]! * ctx.format.sample_rate) / 1000;
      while (ctx.queue.length > 0 && !ctx.cancelled) {
        let remaining = ctx.queue.shift()!;
        while (remaining > 0 && !ctx.cancelled) {
          const ms = Math.min(20, remaining);
          remaining -= ms;
          send({ type: 'chunk', context_id: id, data: toneBase64(ms * bytesPerMs, ctx.format.encoding), done: false, status_code: 206, step_time: 1 });
          if (!ctx.firstAudioSent) {
            ctx.firstAudioSent = true;
            this.trace?.({ kind: 'first-audio', connection, contextId: id, transcript: ctx.firstTranscript, at: performance.now() });
            if (bad === 'drop') {
              ws.terminate();
              return;
            }
          }
          await sleep(this.options.chunkIntervalMs);
        }
      }
      ctx.running = false;
      if (ctx.finished && !ctx.cancelled && ctx.queue.length === 0) {
        send({ type: 'done', context_id: id, done: true, status_code: 200 });
        contexts.delete(id);
      }
    };

    ws.on('message', (data) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(String(data)) as Record<string, unknown>;
      } catch {
        return error(null, 'invalid JSON');
      }
      requests.push(msg);
      const id = msg.context_id;
      if (typeof id !== 'string' || !id) return error(id, 'context_id is required');
      if (msg.cancel === true) {
        const ctx = contexts.get(id);
        if (ctx) ctx.cancelled = true;
        contexts.delete(id);
        return;
      }
      const format = msg.output_format as { container?: string; encoding?: string; sample_rate?: number } | undefined;
      if (typeof msg.model_id !== 'string' || !msg.voice || typeof msg.transcript !== 'string') {
        return error(id, 'model_id, voice and transcript are required');
      }
      if (!format || format.container !== 'raw' || !ENCODINGS[format.encoding ?? ''] || !format.sample_rate) {
        return error(id, 'output_format must be raw with a known encoding and sample_rate');
      }
      if (msg.language !== undefined && msg.language !== 'en' && msg.language !== 'ru') return error(id, 'unsupported language');
      let ctx = contexts.get(id);
      if (!ctx) {
        ctx = {
          format: { encoding: format.encoding!, sample_rate: format.sample_rate },
          queue: [], finished: false, cancelled: false, started: false, running: false,
          firstTranscript: msg.transcript, firstAudioSent: false,
        };
        contexts.set(id, ctx);
        this.trace?.({ kind: 'text', connection, contextId: id, transcript: msg.transcript, at: performance.now() });
      }
      const words = msg.transcript.split(/\s+/).filter(Boolean).length;
      if (words > 0) ctx.queue.push(words * this.options.msPerWord);
      if (msg.continue !== true) ctx.finished = true;
      void run(id, ctx);
    });
  }
}

/** Chunks are mostly the same size: encode each (size, encoding) once, so a load benchmark's fake stays cheap. */
const toneCache = new Map<string, string>();
function toneBase64(bytes: number, encoding: string): string {
  const key = `${bytes}:${encoding}`;
  let b64 = toneCache.get(key);
  if (b64 === undefined) toneCache.set(key, (b64 = tone(bytes, encoding).toString('base64')));
  return b64;
}

/** A 440 Hz tone in the requested encoding (μ-law/A-law approximated as alternating bytes: energy, not fidelity). */
function tone(bytes: number, encoding: string): Buffer {
  const out = Buffer.alloc(bytes);
  if (encoding === 'pcm_s16le') {
    for (let i = 0; i + 1 < bytes; i += 2) out.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 2 / 16000)), i);
  } else if (encoding === 'pcm_f32le') {
    for (let i = 0; i + 3 < bytes; i += 4) out.writeFloatLE(0.25 * Math.sin((2 * Math.PI * 440 * i) / 4 / 16000), i);
  } else {
    for (let i = 0; i < bytes; i++) out[i] = i % 2 ? 0x1f : 0x9f;
  }
  return out;
}

const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());
