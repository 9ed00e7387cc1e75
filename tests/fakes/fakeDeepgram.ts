/**
 * A local WebSocket server that speaks Deepgram's live /v1/listen protocol. It listens to the audio the way the
 * real service does: it decodes the frames (μ-law or linear16 per the query), detects speech and silence by
 * energy on the audio clock, and answers with SpeechStarted, interim Results, a final Results with
 * speech_final after `endpointing` ms of silence (plus a configurable processing latency), and UtteranceEnd.
 * The words come from a script (one transcript per utterance). It records everything it received.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface FakeDeepgramOptions {
  apiKey?: string;
  /** Transcripts, one per detected utterance, used in order (the last one repeats). */
  utterances?: string[];
  /** Wall-clock delay between the audio that justifies a message and the message (model latency). */
  interimLatencyMs?: number;
  finalLatencyMs?: number;
  speechStartedLatencyMs?: number;
  /** Audio ms of speech per word revealed in interim results. */
  msPerWord?: number;
  /** Audio ms of speech between interim results. */
  interimIntervalMs?: number;
  /** Mean absolute sample value (of 32767) above which a frame counts as speech. */
  energyThreshold?: number;
  /** Audio ms of continuous energy before speech is considered started. */
  minSpeechMs?: number;
  /** If the client stops sending audio mid-speech for this long (wall ms), treat it as silence. */
  audioGapMs?: number;
}

/**
 * What the fake saw and did, stamped with performance.now() — the load benchmark joins these with its callers'
 * stamps to split each turn into server time and provider time. `endpoint` is the audio frame that completed
 * the endpointing silence; `final` is a speech_final result going out.
 */
export type FakeDeepgramTrace =
  | { kind: 'audio'; connection: number; at: number; audio: Buffer }
  | { kind: 'endpoint' | 'final'; connection: number; utterance: number; at: number };

export interface FakeDeepgramConnection {
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  /** Total audio bytes received. */
  audioBytes: number;
  /** JSON control messages received (KeepAlive, Finalize, CloseStream), in order. */
  readonly controls: Array<{ type: string; [k: string]: unknown }>;
  /** Messages sent to the client, in order. */
  readonly sent: Array<Record<string, unknown>>;
  /** Send an arbitrary message (for edge cases). */
  send(message: Record<string, unknown>): void;
  /** Send text as it is: what a broken or hostile server might (not JSON, or JSON that is not a message). */
  sendRaw(text: string): void;
  /** Drop the connection abruptly (no close frame), as a network failure would. */
  drop(): void;
  /**
   * Stop answering, and never close: the fake goes on reading audio and control messages but sends nothing more (a
   * stuck server, a half-open connection). What it would have sent is not recorded in `sent`.
   */
  stall(): void;
  /**
   * Send a close frame and never finish the closing handshake (a server or proxy that goes away mid-close): the fake
   * stops reading, and the client's socket stays CLOSING — its `close` event seconds away (ws waits 30 s). Resolves
   * when the client has answered with its own close frame, i.e. it has seen the close and can send nothing more.
   * Call it while the client is not sending (the fake's reader must not be inside a frame).
   */
  closeHalfway(code?: number): Promise<void>;
  readonly closed: Promise<{ code: number }>;
}

export class FakeDeepgram {
  readonly connections: FakeDeepgramConnection[] = [];
  rejectedHandshakes = 0;
  options: Required<FakeDeepgramOptions>;
  /** Observer of every frame and turn boundary (benchmarks); null costs nothing. */
  trace: ((event: FakeDeepgramTrace) => void) | null = null;
  /** Overrides `utterances`: the transcript for a connection's nth utterance. */
  transcriptFor: ((connection: number, utterance: number) => string) | null = null;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private port = 0;

  private constructor(options: FakeDeepgramOptions) {
    this.options = {
      apiKey: options.apiKey ?? 'dg-test',
      utterances: options.utterances ?? ['hello there'],
      interimLatencyMs: options.interimLatencyMs ?? 0,
      finalLatencyMs: options.finalLatencyMs ?? 0,
      speechStartedLatencyMs: options.speechStartedLatencyMs ?? 0,
      msPerWord: options.msPerWord ?? 250,
      interimIntervalMs: options.interimIntervalMs ?? 300,
      energyThreshold: options.energyThreshold ?? 300,
      minSpeechMs: options.minSpeechMs ?? 60,
      audioGapMs: options.audioGapMs ?? 500,
    };
    this.http = createServer((_req, res) => {
      res.writeHead(426).end();
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.http.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const reject = (status: number, body: string): void => {
        this.rejectedHandshakes++;
        socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      };
      if (url.pathname !== '/v1/listen') return reject(400, '{"err_code":"NOT_FOUND"}');
      if (req.headers.authorization !== `Token ${this.options.apiKey}`) {
        return reject(401, '{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}');
      }
      const encoding = url.searchParams.get('encoding');
      if (encoding !== 'mulaw' && encoding !== 'linear16') return reject(400, '{"err_code":"INVALID_QUERY_PARAMETER"}');
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, url.searchParams));
    });
  }

  static async start(options: FakeDeepgramOptions = {}): Promise<FakeDeepgram> {
    const fake = new FakeDeepgram(options);
    await new Promise<void>((resolve) => fake.http.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.http.address() as AddressInfo).port;
    return fake;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private accept(ws: WebSocket, req: IncomingMessage, query: URLSearchParams): void {
    const index = this.connections.length;
    const session = new ListenSession(ws, query, this.options, index, this);
    let resolveClosed!: (v: { code: number }) => void;
    const closed = new Promise<{ code: number }>((r) => (resolveClosed = r));
    const conn: FakeDeepgramConnection = {
      query,
      headers: req.headers,
      audioBytes: 0,
      controls: session.controls,
      sent: session.sent,
      send: (m) => session.send(m),
      sendRaw: (text) => {
        if (ws.readyState === ws.OPEN && !session.stalled) ws.send(text);
      },
      drop: () => ws.terminate(),
      stall: () => session.stall(),
      closeHalfway: (code = 1011) => closeHalfway(ws, code),
      closed,
    };
    this.connections.push(conn);
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const buf = data as Buffer;
        conn.audioBytes += buf.length;
        this.trace?.({ kind: 'audio', connection: index, at: performance.now(), audio: buf });
        session.onAudio(buf);
      } else session.onControl(String(data));
    });
    ws.on('close', (code) => {
      session.dispose();
      resolveClosed({ code });
    });
  }
}

/** See FakeDeepgramConnection.closeHalfway: writes the close frame past `ws` and reads what follows raw. */
function closeHalfway(ws: WebSocket, code: number): Promise<void> {
  const socket = (ws as unknown as { _socket: Socket })._socket;
  // ws stops reading this connection: it never sees the client's close frame, so it never ends the connection.
  socket.removeAllListeners('data');
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (hasCloseFrame(received)) resolve();
    });
    socket.write(Buffer.from([0x88, 0x02, code >> 8, code & 0xff]));
  });
}

/** Whether client frames (masked), read from a frame boundary, include a close frame (opcode 8). */
function hasCloseFrame(buf: Buffer): boolean {
  let at = 0;
  while (at + 2 <= buf.length) {
    if ((buf[at]! & 0x0f) === 0x8) return true;
    let length = buf[at + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      if (at + 4 > buf.length) return false;
      length = buf.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      if (at + 10 > buf.length) return false;
      length = Number(buf.readBigUInt64BE(at + 2));
      header = 10;
    }
    if (buf[at + 1]! & 0x80) header += 4;
    at += header + length;
  }
  return false;
}

const MULAW_TO_LINEAR = (() => {
  const table = new Int16Array(256);
  for (let i = 0; i < 256; i++) {
    const u = ~i & 0xff;
    const sign = u & 0x80;
    const exponent = (u >> 4) & 0x07;
    const mantissa = u & 0x0f;
    const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    table[i] = sign ? -magnitude : magnitude;
  }
  return table;
})();

/** One client's recognizer state: speech detection on the audio clock, scripted words. */
class ListenSession {
  readonly controls: Array<{ type: string; [k: string]: unknown }> = [];
  readonly sent: Array<Record<string, unknown>> = [];
  private readonly bytesPerMs: number;
  private readonly linear16: boolean;
  private readonly endpointingMs: number | null;
  private readonly utteranceEndMs: number | null;
  private readonly interim: boolean;
  private readonly vadEvents: boolean;
  private audioMs = 0;
  private energeticRunMs = 0;
  private inSpeech = false;
  private speechMs = 0;
  private silenceMs = 0;
  private lastInterimAtSpeechMs = 0;
  private utteranceIndex = 0;
  private segmentStartMs = 0;
  private timers = new Set<NodeJS.Timeout>();
  private gapTimer: NodeJS.Timeout | null = null;
  private requestId: string;

  constructor(
    private readonly ws: WebSocket,
    query: URLSearchParams,
    private readonly options: Required<FakeDeepgramOptions>,
    private readonly index: number,
    private readonly owner: Pick<FakeDeepgram, 'trace' | 'transcriptFor'>,
  ) {
    this.linear16 = query.get('encoding') === 'linear16';
    const rate = Number(query.get('sample_rate') ?? 8000);
    this.bytesPerMs = ((this.linear16 ? 2 : 1) * rate) / 1000;
    const ep = query.get('endpointing');
    this.endpointingMs = ep === 'false' ? null : Number(ep ?? 10);
    const ue = query.get('utterance_end_ms');
    this.utteranceEndMs = ue ? Number(ue) : null;
    this.interim = query.get('interim_results') === 'true';
    this.vadEvents = query.get('vad_events') === 'true';
    this.requestId = `fake-${index}`;
  }

  stalled = false;

  stall(): void {
    this.stalled = true;
  }

  send(message: Record<string, unknown>): void {
    if (this.stalled) return;
    this.sent.push(message);
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }

  onAudio(buf: Buffer): void {
    const ms = buf.length / this.bytesPerMs;
    const energy = this.meanAbs(buf);
    this.audioMs += ms;
    this.armGapTimer();
    if (energy >= this.options.energyThreshold) {
      this.energeticRunMs += ms;
      this.silenceMs = 0;
      if (!this.inSpeech && this.energeticRunMs >= this.options.minSpeechMs) this.startSpeech();
      if (this.inSpeech) {
        this.speechMs += ms;
        if (this.interim && this.speechMs - this.lastInterimAtSpeechMs >= this.options.interimIntervalMs) {
          this.lastInterimAtSpeechMs = this.speechMs;
          const words = this.wordsHeard();
          this.later(this.options.interimLatencyMs, () => this.sendResults(words, false, false, false));
        }
      }
    } else {
      this.energeticRunMs = 0;
      if (this.inSpeech) {
        this.silenceMs += ms;
        if (this.endpointingMs !== null && this.silenceMs >= this.endpointingMs) {
          this.owner.trace?.({ kind: 'endpoint', connection: this.index, utterance: this.utteranceIndex, at: performance.now() });
          this.endSpeech(true, false);
        }
      }
    }
  }

  onControl(text: string): void {
    let msg: { type: string };
    try {
      msg = JSON.parse(text) as { type: string };
    } catch {
      this.ws.close(1011, 'invalid control message');
      return;
    }
    this.controls.push(msg);
    if (msg.type === 'Finalize') {
      if (this.inSpeech) this.endSpeech(false, true);
      else this.later(this.options.finalLatencyMs, () => this.sendResults('', true, false, true));
    } else if (msg.type === 'CloseStream') {
      if (this.inSpeech) this.endSpeech(false, false);
      this.later(this.options.finalLatencyMs + 1, () => {
        this.send({ type: 'Metadata', request_id: this.requestId, duration: this.audioMs / 1000, channels: 1 });
        if (!this.stalled) this.ws.close(1000);
      });
    }
  }

  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.gapTimer) clearTimeout(this.gapTimer);
  }

  private startSpeech(): void {
    this.inSpeech = true;
    this.speechMs = this.energeticRunMs;
    this.lastInterimAtSpeechMs = 0;
    this.segmentStartMs = this.audioMs - this.energeticRunMs;
    if (this.vadEvents) {
      const timestamp = this.segmentStartMs / 1000;
      this.later(this.options.speechStartedLatencyMs, () => this.send({ type: 'SpeechStarted', channel: [0], timestamp }));
    }
  }

  private endSpeech(speechFinal: boolean, fromFinalize: boolean): void {
    const transcript = this.currentTranscript();
    const utterance = this.utteranceIndex;
    this.inSpeech = false;
    this.speechMs = 0;
    this.silenceMs = 0;
    this.utteranceIndex++;
    this.later(this.options.finalLatencyMs, () => {
      if (speechFinal) this.owner.trace?.({ kind: 'final', connection: this.index, utterance, at: performance.now() });
      this.sendResults(transcript, true, speechFinal, fromFinalize);
      if (this.utteranceEndMs !== null && this.interim) {
        this.later(this.utteranceEndMs, () => this.send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: this.audioMs / 1000 }));
      }
    });
  }

  private currentTranscript(): string {
    if (this.owner.transcriptFor) return this.owner.transcriptFor(this.index, this.utteranceIndex);
    const list = this.options.utterances;
    return list[Math.min(this.utteranceIndex, list.length - 1)] ?? '';
  }

  private wordsHeard(): string {
    const words = this.currentTranscript().split(/\s+/).filter(Boolean);
    const n = Math.min(words.length, Math.max(1, Math.floor(this.speechMs / this.options.msPerWord)));
    return words.slice(0, n).join(' ');
  }

  private sendResults(transcript: string, isFinal: boolean, speechFinal: boolean, fromFinalize: boolean): void {
    const start = this.segmentStartMs / 1000;
    const duration = Math.max(0, this.audioMs / 1000 - start);
    const words = transcript.split(/\s+/).filter(Boolean).map((w, i) => ({
      word: w.toLowerCase().replace(/[^\p{L}\p{N}']/gu, ''),
      punctuated_word: w,
      start: start + i * 0.25,
      end: start + (i + 1) * 0.25,
      confidence: 0.98,
    }));
    const message: Record<string, unknown> = {
      type: 'Results',
      channel_index: [0, 1],
      duration,
      start,
      is_final: isFinal,
      speech_final: speechFinal,
      channel: { alternatives: [{ transcript, confidence: transcript ? 0.98 : 0, words }] },
      metadata: { request_id: this.requestId, model_info: { name: 'fake', version: '1', arch: 'fake' }, model_uuid: 'fake' },
    };
    if (fromFinalize) message.from_finalize = true;
    this.send(message);
  }

  /** The client went quiet (stopped sending audio) while the caller was speaking: treat as silence. */
  private armGapTimer(): void {
    if (this.gapTimer) clearTimeout(this.gapTimer);
    if (!this.inSpeech) return;
    this.gapTimer = setTimeout(() => {
      if (this.inSpeech) this.endSpeech(true, false);
    }, this.options.audioGapMs);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private meanAbs(buf: Buffer): number {
    let sum = 0;
    if (this.linear16) {
      const n = buf.length >> 1;
      for (let i = 0; i < n; i++) sum += Math.abs(buf.readInt16LE(i * 2));
      return n ? sum / n : 0;
    }
    for (let i = 0; i < buf.length; i++) sum += Math.abs(MULAW_TO_LINEAR[buf[i]!]!);
    return buf.length ? sum / buf.length : 0;
  }
}

/** Test helpers: 20 ms frames of a tone (speech-like energy) or digital silence, in μ-law 8 kHz. */
export function mulawToneFrame(ms = 20, amplitude = 8000): Uint8Array {
  const n = (8000 * ms) / 1000;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = linearToMulaw(Math.round(amplitude * Math.sin((2 * Math.PI * 440 * i) / 8000)));
  return out;
}

export function mulawSilenceFrame(ms = 20): Uint8Array {
  return new Uint8Array((8000 * ms) / 1000).fill(0xff);
}

function linearToMulaw(sample: number): number {
  const BIAS = 0x84;
  const sign = sample < 0 ? 0x80 : 0;
  let s = Math.min(Math.abs(sample), 32635) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  s = ~(sign | (exponent << 4) | mantissa) & 0xff;
  return s;
}
