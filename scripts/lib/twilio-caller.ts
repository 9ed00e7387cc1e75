/**
 * Plays Twilio against a running Parley: signs and posts the voice webhook, opens the media stream with a signed
 * handshake, streams μ-law in real-time 20 ms frames (silence between utterances, as Twilio does), plays the bot's
 * audio on a simulated clock and echoes marks when they are "heard", honours `clear`. Used by the simulator
 * (`npm run call`), the end-to-end tests and the load benchmark.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { dialTwilioStream } from './twilio-dial.js';

export interface TwilioCallerOptions {
  /** Where to connect, e.g. http://127.0.0.1:3000. */
  server: string;
  /** The server's PUBLIC_URL: Twilio signs the URLs it was configured with. */
  publicOrigin: string;
  authToken: string;
  from: string;
  to: string;
  callSid?: string;
  /** See DialOptions.answerPath. */
  answerPath?: string;
}

const FRAME_BYTES = 160; // 20 ms of 8 kHz μ-law
const SILENCE = new Uint8Array(FRAME_BYTES).fill(0xff);

export interface BotUtterance {
  /** When the first audio of this answer arrived (ms epoch). */
  firstAudioAt: number;
  bytes: number;
}

export class TwilioCaller {
  readonly callSid: string;
  callId = '';
  readonly streamSid = `MZ${randomBytes(16).toString('hex')}`;
  private ws!: WebSocket;
  private seq = 0;
  private speech: Uint8Array[] = [];
  private speechDone: (() => void) | null = null;
  private micTimer: NodeJS.Timeout | null = null;
  private micStart = 0;
  private framesSent = 0;
  /** Playback queue: audio bytes not yet "played", and marks waiting behind them. */
  private playQueue: Array<{ bytes: number } | { mark: string }> = [];
  private playTimer: NodeJS.Timeout | null = null;
  readonly botAudio: Uint8Array[] = [];
  botAudioBytes = 0;
  clears = 0;
  lastClearAt = 0;
  lastMediaAt = 0;
  /** First bot audio after each `markSpeechEnd()`. */
  readonly replies: Array<{ speechEndAt: number; firstAudioAt: number | null }> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private resolveClosed!: (v: { code: number; reason: string }) => void;
  maxFrameLateMs = 0;
  lateFrames = 0;

  private constructor(private readonly o: TwilioCallerOptions) {
    this.callSid = o.callSid ?? `CA${randomBytes(16).toString('hex')}`;
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  static async dial(o: TwilioCallerOptions): Promise<TwilioCaller> {
    const caller = new TwilioCaller(o);
    await caller.connect();
    return caller;
  }

  private async connect(): Promise<void> {
    const dialed = await dialTwilioStream({
      ...this.o,
      callSid: this.callSid,
      streamSid: this.streamSid,
      onMessage: (raw) => this.onMessage(raw),
      onClose: (code, reason) => {
        this.stopTimers();
        this.resolveClosed({ code, reason });
      },
    });
    this.ws = dialed.ws;
    this.callId = dialed.callId;
    this.seq = dialed.seq;
    this.startMic();
  }

  private send(message: Record<string, unknown>): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify({ ...message, sequenceNumber: String(++this.seq) }));
  }

  /** Twilio sends audio continuously: speech when there is some, silence otherwise. */
  private startMic(): void {
    this.micStart = Date.now();
    const tick = (): void => {
      const due = this.micStart + this.framesSent * 20;
      const late = Date.now() - due;
      if (late > 5) this.lateFrames++;
      if (late > this.maxFrameLateMs) this.maxFrameLateMs = late;
      let frame: Uint8Array = SILENCE;
      const next = this.speech[0];
      if (next) {
        frame = next;
        this.speech.shift();
        if (this.speech.length === 0) {
          const done = this.speechDone;
          this.speechDone = null;
          done?.();
        }
      }
      this.framesSent++;
      this.send({ event: 'media', streamSid: this.streamSid, media: { track: 'inbound', chunk: String(this.framesSent), timestamp: String(this.framesSent * 20), payload: Buffer.from(frame).toString('base64') } });
      this.micTimer = setTimeout(tick, Math.max(0, this.micStart + this.framesSent * 20 - Date.now()));
    };
    tick();
  }

  /** Queues μ-law speech; resolves when its last frame has been sent (the caller stopped talking). */
  say(mulaw: Uint8Array): Promise<void> {
    for (let i = 0; i < mulaw.length; i += FRAME_BYTES) {
      const frame = new Uint8Array(FRAME_BYTES).fill(0xff);
      frame.set(mulaw.subarray(i, Math.min(i + FRAME_BYTES, mulaw.length)));
      this.speech.push(frame);
    }
    return new Promise((resolve) => {
      this.speechDone = () => {
        this.replies.push({ speechEndAt: Date.now(), firstAudioAt: null });
        resolve();
      };
    });
  }

  sendDtmf(digit: string): void {
    this.send({ event: 'dtmf', streamSid: this.streamSid, dtmf: { track: 'inbound_track', digit } });
  }

  private onMessage(raw: string): void {
    const m = JSON.parse(raw) as { event: string; media?: { payload: string }; mark?: { name: string } };
    if (m.event === 'media' && m.media) {
      const audio = Buffer.from(m.media.payload, 'base64');
      this.botAudio.push(audio);
      this.botAudioBytes += audio.length;
      this.lastMediaAt = Date.now();
      const pending = this.replies.at(-1);
      if (pending && pending.firstAudioAt === null) pending.firstAudioAt = this.lastMediaAt;
      this.playQueue.push({ bytes: audio.length });
      this.schedulePlayback();
    } else if (m.event === 'mark' && m.mark) {
      this.playQueue.push({ mark: m.mark.name });
      this.schedulePlayback();
    } else if (m.event === 'clear') {
      this.clears++;
      this.lastClearAt = Date.now();
      // Twilio drops buffered audio and sends back every pending mark.
      const marks = this.playQueue.filter((x): x is { mark: string } => 'mark' in x);
      this.playQueue = [];
      for (const x of marks) this.send({ event: 'mark', streamSid: this.streamSid, mark: { name: x.mark } });
    }
  }

  /** Plays queued audio at 8 bytes/ms; a mark is echoed when everything before it has played. */
  private schedulePlayback(): void {
    if (this.playTimer) return;
    const step = (): void => {
      this.playTimer = null;
      while (this.playQueue.length && 'mark' in this.playQueue[0]!) {
        const { mark } = this.playQueue.shift() as { mark: string };
        this.send({ event: 'mark', streamSid: this.streamSid, mark: { name: mark } });
      }
      const head = this.playQueue[0] as { bytes: number } | undefined;
      if (!head) return;
      const ms = Math.max(1, Math.min(100, Math.ceil(head.bytes / 8)));
      head.bytes -= ms * 8;
      if (head.bytes <= 0) this.playQueue.shift();
      this.playTimer = setTimeout(step, ms);
    };
    step();
  }

  /** True while bot audio is still queued for playback. */
  get botSpeaking(): boolean {
    return this.playQueue.some((x) => 'bytes' in x);
  }

  /** Resolves once the bot has been quiet (nothing queued, no new audio) for `quietMs`, or after `timeoutMs`. */
  async waitForBotQuiet(quietMs = 600, timeoutMs = 30_000): Promise<void> {
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      if (!this.botSpeaking && Date.now() - this.lastMediaAt > quietMs && this.lastMediaAt > 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves when new bot audio starts arriving after now. */
  async waitForBotAudio(timeoutMs = 30_000): Promise<boolean> {
    const since = this.botAudioBytes;
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      if (this.botAudioBytes > since) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  private stopTimers(): void {
    if (this.micTimer) clearTimeout(this.micTimer);
    if (this.playTimer) clearTimeout(this.playTimer);
    this.micTimer = null;
    this.playTimer = null;
  }

  /** The caller hangs up: Twilio sends stop and closes. */
  async hangup(): Promise<void> {
    this.stopTimers();
    this.send({ event: 'stop', streamSid: this.streamSid, stop: { accountSid: 'AC0', callSid: this.callSid } });
    this.ws.close(1000);
    await this.closed;
  }
}
