/**
 * Speech-to-text over Deepgram's live /v1/listen WebSocket (@deepgram/sdk v5). One socket per call session.
 * Reconnects are off (reconnectAttempts 0): a dropped socket becomes an `error` event and the call loop decides.
 * A socket found no longer OPEN when audio or a Finalize is handed to it (its closing handshake under way, its error
 * not yet surfaced) fails the session there and then and refuses what it was handed, so the call holds it for the
 * next session (stt-connection.ts) — with the audio of the packet that was never sent (unsent()).
 * Finals are concatenated until the recognizer marks the end of the utterance (speech_final, a Finalize flush,
 * or UtteranceEnd), then emitted as one `final`.
 *
 * A socket that stays open but stops answering (a half-open connection, a stuck server) never closes or errors:
 * the call would sit listening while the caller talks to nothing. Deepgram answers every Finalize (a result with
 * `from_finalize`), so a Finalize with no message of any kind back within `finalizeAnswerMs` fails the session
 * (recoverable: the call reopens it). The audio sent since Deepgram last answered is kept (references to the packets
 * already sent, no copy, at most UNANSWERED_MAX_MS of it) and handed back with unsent() when the session fails with
 * no words pending — the caller's utterance said to a recognizer that had stopped listening is heard by the next one.
 * With words pending (interim results of this utterance) it is not: the last interim stands for what was heard, and
 * a replay would have its words said twice.
 */
import { AsyncQueue } from '../../util/async-queue.js';
import { bytesPerMs } from '../../audio/format.js';
import type { DeepgramClient } from '@deepgram/sdk';
import { ParleyError } from '../../errors.js';
import { upstreamStatusDetails } from '../upstream-status.js';
import type { SttEvent, SttProvider, SttSession, SttSessionOptions } from '../types.js';

export interface DeepgramSttOptions {
  apiKey: string;
  /** WebSocket origin; default wss://api.deepgram.com. Tests point it at a local ws:// fake. */
  baseUrl?: string;
  model?: string;
  /** Silence (ms) after which Deepgram marks speech_final. */
  endpointingMs?: number;
  /** Gap (ms) after the last word before UtteranceEnd. */
  utteranceEndMs?: number;
  smartFormat?: boolean;
  /** A KeepAlive is sent on this period when no audio went out in it (Deepgram closes after 10 s idle). */
  keepAliveIntervalMs?: number;
  connectTimeoutMs?: number;
  /** How long close() waits for the last results after CloseStream. */
  closeTimeoutMs?: number;
  /**
   * Audio goes to Deepgram in packets of this many ms (Deepgram asks for 20–250 ms), not one socket write per
   * 20 ms frame: default 100 ms, a fifth of the writes (each write is a syscall and a ws frame: at 60 ms they were
   * still 6 % of the server's CPU at 200 calls). Finalize and CloseStream send what is held first, so the end of
   * a turn never waits; interim results and SpeechStarted come at most packetMs − 20 ms later, which the caller
   * does not hear: the call's own VAD pauses the bot at the onset, the words only confirm it. Audio is never held
   * longer than packetMs of wall time (when frames stop coming, what is held goes out then).
   */
  packetMs?: number;
  /** A Finalize with no message back within this many ms fails the session (a recognizer that stopped answering). */
  finalizeAnswerMs?: number;
}

const DEFAULT_PACKET_MS = 100;
/** Deepgram answers a Finalize in a few hundred ms; past this it has stopped answering. */
export const FINALIZE_ANSWER_MS = 3000;
/** The most audio sent since Deepgram last answered that is kept for the next session (see the file's comment). */
const UNANSWERED_MAX_MS = 10_000;

interface DeepgramResults {
  type: 'Results';
  is_final?: boolean;
  speech_final?: boolean;
  from_finalize?: boolean;
  channel?: { alternatives?: Array<{ transcript?: string; confidence?: number }> };
}

type DeepgramMessage =
  | DeepgramResults
  | { type: 'SpeechStarted'; timestamp?: number }
  | { type: 'UtteranceEnd' }
  | { type: 'Metadata' };

export class DeepgramStt implements SttProvider {
  readonly name = 'deepgram';
  /** The SDK (~17 MB of modules) loads on the first call that uses Deepgram, not at start. */
  private client: Promise<DeepgramClient> | null = null;

  readonly model: string;

  constructor(private readonly options: DeepgramSttOptions) {
    this.model = options.model ?? 'nova-3';
  }

  private sdk(): Promise<DeepgramClient> {
    this.client ??= import('@deepgram/sdk').then(({ DeepgramClient }) => new DeepgramClient({ apiKey: this.options.apiKey, baseUrl: this.options.baseUrl ?? 'wss://api.deepgram.com' }));
    return this.client;
  }

  async open(session: SttSessionOptions): Promise<SttSession> {
    const o = this.options;
    const wideband = session.format.encoding === 'pcm16';
    const client = await this.sdk();
    const model = session.model ?? this.model;
    const socket = await client.listen.v1.connect({
      model,
      language: session.language,
      encoding: wideband ? 'linear16' : 'mulaw',
      sample_rate: session.format.sampleRate,
      channels: 1,
      interim_results: 'true',
      smart_format: (o.smartFormat ?? true) ? 'true' : 'false',
      punctuate: 'true',
      endpointing: o.endpointingMs ?? 300,
      utterance_end_ms: o.utteranceEndMs ?? 1000,
      vad_events: 'true',
      ...(session.keyterms?.length ? { queryParams: biasParams(model, session.keyterms) } : {}),
      reconnectAttempts: 0,
      connectionTimeoutInSeconds: (o.connectTimeoutMs ?? 5000) / 1000,
    });
    const packetBytes = Math.max(1, Math.round((o.packetMs ?? DEFAULT_PACKET_MS) * bytesPerMs(session.format)));
    const packetMs = o.packetMs ?? DEFAULT_PACKET_MS;
    const live = new DeepgramSession(socket, session.signal, {
      keepAliveIntervalMs: o.keepAliveIntervalMs ?? 4000, closeTimeoutMs: o.closeTimeoutMs ?? 2000, packetBytes, packetMs,
      finalizeAnswerMs: o.finalizeAnswerMs ?? FINALIZE_ANSWER_MS, unansweredPackets: Math.max(1, Math.ceil(UNANSWERED_MAX_MS / packetMs)),
    });
    await live.waitForOpen(o.connectTimeoutMs ?? 5000);
    return live;
  }
}

/**
 * Words to bias toward, as the model takes them: Nova-3 (and later) take keyterm prompting (repeated `keyterm=`)
 * and reject `keywords`; older models (Nova-2, Enhanced, Base) take only `keywords=term` and reject `keyterm`.
 */
export function biasParams(model: string, terms: string[]): Record<string, string[]> {
  const older = /^(nova-2|nova\b|enhanced|base|whisper)/.test(model) && !/^nova-[3-9]/.test(model);
  return older ? { keywords: terms } : { keyterm: terms };
}

type ListenSocket = Awaited<ReturnType<DeepgramClient['listen']['v1']['connect']>>;

class DeepgramSession implements SttSession {
  readonly events: AsyncIterable<SttEvent>;
  private readonly queue = new AsyncQueue<SttEvent>();
  private pendingFinal = '';
  /** Deepgram's confidence in the last segment of the pending final. */
  private pendingConfidence: number | null = null;
  private audioSinceTick = false;
  /** Audio held until a packet is full (a new buffer per packet: ws may still hold the last one's). */
  private packet: Buffer | null = null;
  private packetFill = 0;
  /**
   * Sends a packet that has been held packetMs. One timer for the session, re-armed (refresh(), no allocation)
   * when a packet starts and left running when it fills: when it fires, the packet it was armed for is gone or
   * still held, so the held one goes (ending the wait) and no newer packet is ever cut short.
   */
  private packetTimer: NodeJS.Timeout | null = null;
  private readonly sendHeld = (): void => {
    if (this.canSend()) this.sendPacket();
  };
  private closing = false;
  private ended = false;
  private readonly keepAlive: NodeJS.Timeout;
  private readonly serverClosed: Promise<void>;
  private readonly onAbort = (): void => void this.close();

  private readonly closeTimeoutMs: number;
  private readonly packetBytes: number;
  private readonly packetMs: number;
  /** Packets sent since Deepgram last sent anything (the newest `unansweredPackets` of them; see the file's comment). */
  private readonly unanswered: Uint8Array[] = [];
  private readonly unansweredPackets: number;
  /** Interim words of this utterance have been handed on (a replay of the unanswered audio would repeat them). */
  private wordsPending = false;
  /** Armed when a Finalize goes out, cleared by any message: fires when Deepgram has stopped answering. */
  private finalizeWatch: NodeJS.Timeout | null = null;
  private readonly finalizeAnswerMs: number;
  private readonly noAnswer = (): void => {
    this.finalizeWatch = null;
    this.fail(new Error(`Deepgram did not answer a Finalize within ${this.finalizeAnswerMs} ms`), true);
  };

  constructor(
    private readonly socket: ListenSocket,
    private readonly signal: AbortSignal,
    o: { keepAliveIntervalMs: number; closeTimeoutMs: number; packetBytes: number; packetMs: number; finalizeAnswerMs: number; unansweredPackets: number },
  ) {
    this.closeTimeoutMs = o.closeTimeoutMs;
    this.packetBytes = o.packetBytes;
    this.packetMs = o.packetMs;
    this.finalizeAnswerMs = o.finalizeAnswerMs;
    this.unansweredPackets = o.unansweredPackets;
    const keepAliveIntervalMs = o.keepAliveIntervalMs;
    this.events = this.queue;
    // The SDK hands on whatever the socket carried, parsed: only objects are Deepgram's messages (a `null` or a
    // number would throw here, and the SDK would print the stack past the server's logger). Anything it sends, a
    // message or not, shows it is still answering.
    socket.on('message', (m) => {
      this.answered();
      if (typeof m === 'object' && m !== null && !Array.isArray(m)) this.onMessage(m as DeepgramMessage);
    });
    socket.on('error', (err) => this.fail(err, true));
    this.serverClosed = new Promise((resolve) => {
      socket.on('close', (event) => {
        if (!this.closing) this.fail(new Error(`Deepgram closed the stream (code ${event.code})`), true);
        this.finish();
        resolve();
      });
    });
    this.keepAlive = setInterval(() => {
      if (!this.audioSinceTick && this.isOpen()) socket.sendKeepAlive({ type: 'KeepAlive' });
      this.audioSinceTick = false;
    }, keepAliveIntervalMs);
    this.keepAlive.unref();
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  async waitForOpen(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      this.socket.connect();
      await Promise.race([
        this.socket.waitForOpen(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      this.closing = true;
      this.teardown();
      const message = describe(err);
      // The SDK's handshake error names the HTTP status: an account refusal (401 key, 402 credits, 403 plan) is
      // final; anything else (a timeout, a dropped or refused connection) may pass.
      const account = /\b(40[123])\b/.exec(message);
      throw account
        ? new ParleyError('PARLEY_ERR_UPSTREAM', `Deepgram ${account[1] === '401' ? 'rejected the API key' : 'refused the account'}: ${message}`, upstreamStatusDetails('deepgram', Number(account[1])))
        : new ParleyError('PARLEY_ERR_UPSTREAM', `Deepgram connection failed: ${message}`, { provider: 'deepgram', retryable: true });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Hot path: copies the frame into the packet (the caller may reuse it), one socket write per packet. False: the
   * socket has failed, the frame is not taken.
   */
  pushAudio(frame: Uint8Array): boolean {
    if (!this.canSend()) return false;
    this.audioSinceTick = true;
    let from = 0;
    while (from < frame.byteLength) {
      if (!this.packet) {
        this.packet = Buffer.allocUnsafe(this.packetBytes);
        if (this.packetTimer) this.packetTimer.refresh();
        else {
          this.packetTimer = setTimeout(this.sendHeld, this.packetMs);
          this.packetTimer.unref();
        }
      }
      const n = Math.min(frame.byteLength - from, this.packetBytes - this.packetFill);
      // The usual case, a whole frame into the packet, makes no subarray view.
      this.packet.set(n === frame.byteLength ? frame : frame.subarray(from, from + n), this.packetFill);
      this.packetFill += n;
      from += n;
      if (this.packetFill === this.packetBytes) this.sendPacket();
    }
    return true;
  }

  /** Sends the audio held so far (before a control message, so it covers all the audio). */
  private sendPacket(): void {
    if (!this.packet || this.packetFill === 0) return;
    const audio = this.packetFill === this.packetBytes ? this.packet : this.packet.subarray(0, this.packetFill);
    this.packet = null;
    this.packetFill = 0;
    this.socket.sendMedia(audio);
    // A reference, not a copy: the packet buffer is never written again.
    this.unanswered.push(audio);
    if (this.unanswered.length > this.unansweredPackets) this.unanswered.shift();
  }

  finalize(): boolean {
    if (!this.canSend()) return false;
    this.sendPacket();
    this.socket.sendFinalize({ type: 'Finalize' });
    if (!this.finalizeWatch) {
      this.finalizeWatch = setTimeout(this.noAnswer, this.finalizeAnswerMs);
      this.finalizeWatch.unref();
    }
    return true;
  }

  /** Deepgram sent something: it is answering. */
  private answered(): void {
    this.unanswered.length = 0;
    if (this.finalizeWatch) {
      clearTimeout(this.finalizeWatch);
      this.finalizeWatch = null;
    }
  }

  /**
   * After a failure: the audio taken into a packet that never went out (the socket failed first), after the audio
   * sent that Deepgram never answered for when no words of it are pending (see the file's comment).
   */
  unsent(): Uint8Array | null {
    if (this.isOpen()) return null;
    const parts = this.wordsPending ? [] : this.unanswered.splice(0);
    if (this.packet && this.packetFill > 0) parts.push(this.packet.subarray(0, this.packetFill));
    this.packet = null;
    this.packetFill = 0;
    this.unanswered.length = 0;
    if (parts.length === 0) return null;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * Whether audio and requests can go out now. A socket that is no longer OPEN although no close or error has
   * reached the session yet (a closing handshake under way can take seconds: until then it sends nothing, and the
   * SDK would throw) fails the session now, so the call reopens at once rather than when the close comes.
   */
  private canSend(): boolean {
    if (this.closing) return false;
    if (this.isOpen()) return true;
    this.fail(new Error(`Deepgram stream is no longer open (socket state ${this.socket.readyState})`), true);
    return false;
  }

  async close(): Promise<void> {
    if (this.closing) return this.serverClosed.then(() => undefined, () => undefined);
    this.closing = true;
    if (this.isOpen()) {
      // Let Deepgram flush the last results, but never wait unboundedly.
      this.sendPacket();
      this.socket.sendCloseStream({ type: 'CloseStream' });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.serverClosed, new Promise<void>((r) => (timer = setTimeout(r, this.closeTimeoutMs)))]);
      clearTimeout(timer);
    }
    this.teardown();
    this.finish();
  }

  private pushFinal(): void {
    this.wordsPending = false;
    this.queue.push({
      type: 'final', text: this.pendingFinal, endOfUtterance: true,
      ...(this.pendingConfidence !== null ? { confidence: this.pendingConfidence } : {}),
    });
    this.pendingFinal = '';
    this.pendingConfidence = null;
  }

  private onMessage(m: DeepgramMessage): void {
    switch (m.type) {
      case 'Results': {
        const { text, confidence } = firstAlternative(m);
        if (!m.is_final) {
          if (text) {
            this.wordsPending = true;
            this.queue.push({ type: 'interim', text: join(this.pendingFinal, text) });
          }
          return;
        }
        if (text) {
          this.pendingFinal = join(this.pendingFinal, text);
          this.pendingConfidence = confidence;
        }
        if ((m.speech_final || m.from_finalize) && this.pendingFinal) {
          this.pushFinal();
        } else if (text) {
          this.wordsPending = true;
          this.queue.push({ type: 'interim', text: this.pendingFinal });
        }
        return;
      }
      case 'UtteranceEnd':
        this.wordsPending = false;
        if (this.pendingFinal) this.pushFinal();
        this.queue.push({ type: 'utterance_end' });
        return;
      case 'SpeechStarted':
        this.queue.push({ type: 'speech_started', atMs: typeof m.timestamp === 'number' && Number.isFinite(m.timestamp) ? Math.round(m.timestamp * 1000) : 0 });
        return;
      default:
        return;
    }
  }

  private isOpen(): boolean {
    return this.socket.readyState === 1;
  }

  /**
   * The pending final is not flushed as a `final` here: the last interim already carries it and the words heard
   * since, and the call keeps that interim when the session is lost (turn-taking.ts); a final of the pending segments
   * alone would replace it with fewer words.
   */
  private fail(err: Error, recoverable: boolean): void {
    if (this.closing || this.ended) return;
    this.closing = true;
    this.queue.push({ type: 'error', error: err, recoverable });
    this.teardown();
    this.finish();
  }

  private teardown(): void {
    clearInterval(this.keepAlive);
    if (this.packetTimer) clearTimeout(this.packetTimer);
    if (this.finalizeWatch) clearTimeout(this.finalizeWatch);
    this.signal.removeEventListener('abort', this.onAbort);
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.close();
  }
}

/**
 * The words and confidence of a result's first alternative. The message is parsed JSON from the network: a field of
 * another type (a number for a transcript, an object for the alternatives) reads as no words or no confidence, never
 * as an exception in the socket's handler (which the SDK would print past the server's logger, the result lost).
 */
function firstAlternative(m: DeepgramResults): { text: string; confidence: number | null } {
  const alternatives: unknown = (m.channel as { alternatives?: unknown } | null | undefined)?.alternatives;
  const first: unknown = Array.isArray(alternatives) ? alternatives[0] : undefined;
  if (typeof first !== 'object' || first === null) return { text: '', confidence: null };
  const { transcript, confidence } = first as { transcript?: unknown; confidence?: unknown };
  return {
    text: typeof transcript === 'string' ? transcript.trim() : '',
    confidence: typeof confidence === 'number' && Number.isFinite(confidence) ? confidence : null,
  };
}

function join(a: string, b: string): string {
  return a ? `${a} ${b}` : b;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  const m = (err as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : String(err);
}

