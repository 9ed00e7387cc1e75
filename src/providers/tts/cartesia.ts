/**
 * Text-to-speech over Cartesia's TTS WebSocket: one socket per call session, one context per agent turn,
 * text pushed phrase by phrase (continue:true, max_buffer_delay_ms 0) and closed with an empty transcript.
 *
 * Speaks the documented raw protocol with `ws` rather than @cartesia/cartesia-js 4.2: the SDK's per-context
 * receive loop is not woken when the socket drops mid-turn (a turn would hang), and its silent reconnect on send
 * hides the failure from the call loop. Here a drop fails the live turns, and the next turn reconnects once.
 */
import { AsyncQueue } from '../../util/async-queue.js';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { ParleyError, isAccountStatus } from '../../errors.js';
import { upstreamStatusDetails } from '../upstream-status.js';
import type { AudioFormat } from '../../audio/format.js';
import type { TtsProvider, TtsSession, TtsSessionOptions, TtsTurn } from '../types.js';

/** The model when neither the options nor the session name one (sonic-2 lost Russian on 2026-06-01). */
const CARTESIA_DEFAULT_MODEL = 'sonic-3';

export interface CartesiaTtsOptions {
  apiKey: string;
  /** WebSocket origin; default wss://api.cartesia.ai. */
  baseUrl?: string;
  model?: string;
  /** Voice id used when the session names none. */
  voice: string;
  /** cartesia-version header (the API version the request shapes follow). */
  apiVersion?: string;
  connectTimeoutMs?: number;
}

interface CartesiaMessage {
  type: 'chunk' | 'done' | 'error' | 'timestamps' | 'flush_done' | string;
  context_id?: string;
  data?: string;
  message?: string;
  title?: string;
  error_code?: string;
  status_code?: number;
}

export class CartesiaTts implements TtsProvider {
  readonly name = 'cartesia';
  readonly model: string;

  constructor(private readonly options: CartesiaTtsOptions) {
    this.model = options.model ?? CARTESIA_DEFAULT_MODEL;
  }

  async open(session: TtsSessionOptions): Promise<TtsSession> {
    const s = new CartesiaSession(this.options, session);
    await s.connect();
    return s;
  }
}

class CartesiaSession implements TtsSession {
  private socket: WebSocket | null = null;
  private connecting: Promise<void> | null = null;
  private readonly turns = new Map<string, CartesiaTurn>();
  private closed = false;
  private readonly request: Record<string, unknown>;

  constructor(
    private readonly options: CartesiaTtsOptions,
    session: TtsSessionOptions,
  ) {
    this.request = {
      model_id: session.model ?? options.model ?? CARTESIA_DEFAULT_MODEL,
      voice: { id: session.voice ?? options.voice },
      output_format: outputFormat(session.format),
      language: session.language,
      max_buffer_delay_ms: 0,
    };
  }

  connect(): Promise<void> {
    if (this.socket?.readyState === WebSocket.OPEN) return Promise.resolve();
    this.connecting ??= this.dial().finally(() => (this.connecting = null));
    return this.connecting;
  }

  startTurn(signal: AbortSignal): TtsTurn {
    if (this.closed) throw new ParleyError('PARLEY_ERR_UNAVAILABLE', 'TTS session is closed');
    const turn = new CartesiaTurn(randomUUID(), this, signal);
    this.turns.set(turn.contextId, turn);
    return turn;
  }

  /** Sends one message for a context, reconnecting once first if the socket closed between turns. */
  async send(message: Record<string, unknown>): Promise<void> {
    if (this.socket?.readyState !== WebSocket.OPEN) await this.connect();
    this.socket!.send(JSON.stringify(message));
  }

  generation(contextId: string, transcript: string, more: boolean): Record<string, unknown> {
    return { ...this.request, context_id: contextId, transcript, continue: more };
  }

  /** A cancel is only worth sending on a live socket; a dead one has no context to stop. */
  sendCancel(contextId: string): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ context_id: contextId, cancel: true }));
  }

  forget(contextId: string): void {
    this.turns.delete(contextId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const turn of this.turns.values()) void turn.cancel();
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.terminate();
        resolve();
      }, 1000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.close(1000);
    });
  }

  private dial(): Promise<void> {
    const url = `${(this.options.baseUrl ?? 'wss://api.cartesia.ai').replace(/\/$/, '')}/tts/websocket`;
    const socket = new WebSocket(url, {
      headers: { Authorization: `Bearer ${this.options.apiKey}`, 'cartesia-version': this.options.apiVersion ?? '2026-08-14' },
      handshakeTimeout: this.options.connectTimeoutMs ?? 5000,
      // ws offers permessage-deflate by default; base64 audio barely compresses, and inflating every chunk of
      // every call would cost more CPU than the bandwidth it saves.
      perMessageDeflate: false,
    });
    return new Promise<void>((resolve, reject) => {
      socket.once('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        socket.terminate();
        const what = status === 401 ? 'rejected the API key' : isAccountStatus(status) ? `refused the account (HTTP ${status}: credits or plan)` : `refused the connection (HTTP ${status})`;
        reject(new ParleyError('PARLEY_ERR_UPSTREAM', `Cartesia ${what}`, upstreamStatusDetails('cartesia', status)));
      });
      socket.once('error', (err) =>
        reject(new ParleyError('PARLEY_ERR_UPSTREAM', `Cartesia connection failed: ${err.message}`, { provider: 'cartesia', retryable: true })),
      );
      socket.once('open', () => {
        // Closed while this (re)dial was in flight (the call ended): nobody would ever close this socket.
        if (this.closed) {
          socket.close(1000);
          reject(new ParleyError('PARLEY_ERR_UNAVAILABLE', 'TTS session is closed'));
          return;
        }
        this.socket = socket;
        socket.on('error', () => undefined); // 'close' follows and fails the live turns
        socket.on('message', (data) => this.onMessage(data));
        socket.on('close', (code) => this.onClose(socket, code));
        resolve();
      });
    });
  }

  private onMessage(data: WebSocket.RawData): void {
    let msg: CartesiaMessage;
    try {
      msg = JSON.parse(String(data)) as CartesiaMessage;
    } catch {
      return;
    }
    const turn = msg.context_id ? this.turns.get(msg.context_id) : undefined;
    if (!turn) return; // cancelled or finished turn: late chunks are dropped
    if (msg.type === 'chunk' && msg.data) turn.onAudio(Buffer.from(msg.data, 'base64'));
    else if (msg.type === 'done') turn.onDone();
    else if (msg.type === 'error') {
      const detail = msg.message ?? msg.title ?? msg.error_code ?? 'unknown error';
      // The same statuses as the handshake's: an account refused mid-call (401/402/403) is not this phrase's fault.
      turn.onError(new ParleyError('PARLEY_ERR_UPSTREAM', `Cartesia error: ${detail}`, upstreamStatusDetails('cartesia', msg.status_code ?? 500)));
    }
  }

  private onClose(socket: WebSocket, code: number): void {
    if (this.socket === socket) this.socket = null;
    const err = new ParleyError('PARLEY_ERR_UPSTREAM', `Cartesia socket closed (code ${code})`, { provider: 'cartesia', retryable: true });
    for (const turn of this.turns.values()) turn.onError(err);
  }
}

class CartesiaTurn implements TtsTurn {
  readonly audio: AsyncIterable<Uint8Array>;
  /** A burst of chunks reaches a consumer that fell behind as one (AsyncQueue: merge). */
  private readonly queue = new AsyncQueue<Uint8Array>((chunks) => Buffer.concat(chunks));
  // Sends are chained so phrases reach Cartesia in order even while a reconnect is pending.
  private sending: Promise<void> = Promise.resolve();
  private finished = false;
  private ended = false;
  private readonly onAbort = (): void => void this.cancel();

  constructor(
    readonly contextId: string,
    private readonly session: CartesiaSession,
    private readonly signal: AbortSignal,
  ) {
    this.audio = this.queue;
    if (signal.aborted) this.finish(true);
    else signal.addEventListener('abort', this.onAbort, { once: true });
  }

  pushText(text: string): void {
    if (this.ended || this.finished || !text) return;
    this.enqueue(this.session.generation(this.contextId, text, true));
  }

  end(): void {
    if (this.ended || this.finished) return;
    this.ended = true;
    this.enqueue(this.session.generation(this.contextId, '', false));
  }

  async cancel(): Promise<void> {
    if (this.finished) return;
    this.finish(true);
    try {
      this.session.sendCancel(this.contextId);
    } catch {
      // the socket is going away; nothing left to stop
    }
  }

  onAudio(chunk: Uint8Array): void {
    this.queue.push(chunk);
  }

  onDone(): void {
    this.finish();
  }

  onError(err: Error): void {
    if (this.finished) return;
    this.queue.fail(err);
    this.finish();
  }

  private enqueue(message: Record<string, unknown>): void {
    this.sending = this.sending.then(
      () => (this.finished ? undefined : this.session.send(message)),
    ).catch((err: unknown) => this.onError(err instanceof Error ? err : new Error(String(err))));
  }

  private finish(dropPending = false): void {
    if (this.finished) return;
    this.finished = true;
    this.signal.removeEventListener('abort', this.onAbort);
    this.session.forget(this.contextId);
    // A cancelled turn drops queued audio: barge-in must not play anything more.
    if (dropPending) this.queue.abort();
    else this.queue.close();
  }
}

function outputFormat(format: AudioFormat): Record<string, unknown> {
  return { container: 'raw', encoding: format.encoding === 'mulaw' ? 'pcm_mulaw' : 'pcm_s16le', sample_rate: format.sampleRate };
}

