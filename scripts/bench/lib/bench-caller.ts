/**
 * A Twilio Media Streams caller for the load benchmark. Same protocol as scripts/lib/twilio-caller.ts (signed
 * voice webhook and media handshake, real-time 20 ms μ-law frames, simulated playback that echoes marks and
 * honours `clear`), with the hooks the benchmark needs: when each utterance's first and last speech frames went
 * out, each `clear`'s arrival time, bot audio bytes per phase, and inbound bytes sent. Frames are pre-encoded
 * (base64 shared by all callers) so hundreds of callers in one process stay cheap.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { dialTwilioStream } from '../../lib/twilio-dial.js';
import { tagHead, tagTail } from './watermark.js';

const FRAME_BYTES = 160; // 20 ms of 8 kHz μ-law
const FRAME_MS = 20;
const SILENCE_TAIL = tagTail(Buffer.alloc(FRAME_BYTES, 0xff));

/** μ-law audio cut into 20 ms frames; each frame's untagged part is base64-encoded once (see watermark.ts). */
export class EncodedSpeech {
  readonly tails: string[] = [];
  constructor(mulaw: Uint8Array) {
    for (let i = 0; i < mulaw.length; i += FRAME_BYTES) {
      const frame = Buffer.alloc(FRAME_BYTES, 0xff);
      frame.set(mulaw.subarray(i, Math.min(i + FRAME_BYTES, mulaw.length)));
      this.tails.push(tagTail(frame));
    }
  }
}

export interface BenchCallerOptions {
  server: string;
  publicOrigin: string;
  authToken: string;
  from: string;
  to: string;
  /** Frames sent later than this after their due time count as late. */
  lateThresholdMs?: number;
  /** Written into every frame's audio (watermark.ts), 0–4095. */
  tag: number;
  /** Where to record each frame's send time (the tracer reads it while the call runs). */
  frameSentAt?: number[];
}

export interface SpokenUtterance {
  /** When the first speech frame was sent (performance.now()). */
  startAt: number;
  /** When the last speech frame was sent. */
  endAt: number;
}

export class BenchCaller {
  readonly callSid = `CA${randomBytes(16).toString('hex')}`;
  readonly streamSid = `MZ${randomBytes(16).toString('hex')}`;
  callId = '';
  private ws!: WebSocket;
  private seq = 0;
  private speech: string[] = [];
  private speechIndex = 0;
  private onSpeechEnd: ((u: SpokenUtterance) => void) | null = null;
  private speechStartAt = 0;
  private micTimer: NodeJS.Timeout | null = null;
  private micStart = 0;
  private framesSent = 0;
  private playQueue: Array<{ bytes: number } | { mark: string }> = [];
  private playTimer: NodeJS.Timeout | null = null;
  /** μ-law bytes sent in media frames after `start`. */
  inboundBytesSent = 0;
  botAudioBytes = 0;
  /** Bot audio bytes since the last `takePhaseBytes()`. */
  private phaseBytes = 0;
  lastMediaAt = 0;
  /** First media arrival at or after `watchSince` (see firstAudioAfter). */
  private watchSince = Number.POSITIVE_INFINITY;
  private watchHit: number | null = null;
  readonly clearTimes: number[] = [];
  lateFrames = 0;
  maxFrameLateMs = 0;
  /** performance.now() at which frame n (its watermark number) was sent. */
  readonly frameSentAt: number[];
  readonly closed: Promise<{ code: number; reason: string }>;
  private resolveClosed!: (v: { code: number; reason: string }) => void;
  private readonly lateThresholdMs: number;

  private constructor(private readonly o: BenchCallerOptions) {
    this.lateThresholdMs = o.lateThresholdMs ?? 5;
    this.frameSentAt = o.frameSentAt ?? [];
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  static async dial(o: BenchCallerOptions): Promise<BenchCaller> {
    const caller = new BenchCaller(o);
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

  private sendJson(message: Record<string, unknown>): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify({ ...message, sequenceNumber: String(++this.seq) }));
  }

  private startMic(): void {
    this.micStart = performance.now();
    const tick = (): void => {
      const now = performance.now();
      const late = now - (this.micStart + this.framesSent * FRAME_MS);
      if (late > this.lateThresholdMs) this.lateFrames++;
      if (late > this.maxFrameLateMs) this.maxFrameLateMs = late;
      let tail = SILENCE_TAIL;
      if (this.speechIndex < this.speech.length) {
        if (this.speechIndex === 0) this.speechStartAt = now;
        tail = this.speech[this.speechIndex++]!;
        if (this.speechIndex === this.speech.length) {
          this.speech = [];
          this.speechIndex = 0;
          const done = this.onSpeechEnd;
          this.onSpeechEnd = null;
          this.watchAudioAfter(now);
          done?.({ startAt: this.speechStartAt, endAt: now });
        }
      }
      const payload = tagHead(this.o.tag, this.framesSent & 0xffff) + tail;
      // Frame numbers wrap at 65536 (~22 min): past that the tracer could pair a frame with the wrong send time.
      if (this.framesSent < 0x10000) this.frameSentAt.push(now);
      this.framesSent++;
      if (this.ws.readyState === WebSocket.OPEN) {
        this.inboundBytesSent += FRAME_BYTES;
        this.ws.send(
          `{"event":"media","sequenceNumber":"${++this.seq}","streamSid":"${this.streamSid}","media":{"track":"inbound","chunk":"${this.framesSent}","timestamp":"${this.framesSent * FRAME_MS}","payload":"${payload}"}}`,
        );
      }
      this.micTimer = setTimeout(tick, Math.max(0, this.micStart + this.framesSent * FRAME_MS - performance.now()));
    };
    tick();
  }

  /** Speaks the frames; resolves when the last one has been sent, with when the first and last went out. */
  say(speech: EncodedSpeech): Promise<SpokenUtterance> {
    if (this.onSpeechEnd) throw new Error('already speaking');
    this.speech = speech.tails;
    this.speechIndex = 0;
    return new Promise((resolve) => (this.onSpeechEnd = resolve));
  }

  /** Time the first speech frame of the utterance in progress went out (0 before it has). */
  get currentSpeechStartAt(): number {
    return this.speechIndex > 0 ? this.speechStartAt : 0;
  }

  private onMessage(raw: string): void {
    const m = JSON.parse(raw) as { event: string; media?: { payload: string }; mark?: { name: string } };
    if (m.event === 'media' && m.media) {
      // base64 length → bytes without decoding (the bench only needs the amount).
      const p = m.media.payload;
      const bytes = (p.length * 3) / 4 - (p.endsWith('==') ? 2 : p.endsWith('=') ? 1 : 0);
      this.botAudioBytes += bytes;
      this.phaseBytes += bytes;
      this.lastMediaAt = performance.now();
      if (this.watchHit === null && this.lastMediaAt >= this.watchSince) this.watchHit = this.lastMediaAt;
      this.playQueue.push({ bytes });
      this.schedulePlayback();
    } else if (m.event === 'mark' && m.mark) {
      this.playQueue.push({ mark: m.mark.name });
      this.schedulePlayback();
    } else if (m.event === 'clear') {
      this.clearTimes.push(performance.now());
      const marks = this.playQueue.filter((x): x is { mark: string } => 'mark' in x);
      this.playQueue = [];
      for (const x of marks) this.sendJson({ event: 'mark', streamSid: this.streamSid, mark: { name: x.mark } });
    }
  }

  private schedulePlayback(): void {
    if (this.playTimer) return;
    const step = (): void => {
      this.playTimer = null;
      while (this.playQueue.length && 'mark' in this.playQueue[0]!) {
        const { mark } = this.playQueue.shift() as { mark: string };
        this.sendJson({ event: 'mark', streamSid: this.streamSid, mark: { name: mark } });
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

  /** Audio is queued, or arrived moments ago (TTS paced in real time leaves the queue empty between chunks). */
  get botSpeaking(): boolean {
    return this.playQueue.some((x) => 'bytes' in x) || performance.now() - this.lastMediaAt < 100;
  }

  /** Bot audio bytes received since the previous call. */
  takePhaseBytes(): number {
    const b = this.phaseBytes;
    this.phaseBytes = 0;
    return b;
  }

  /** Starts watching for the first bot audio arriving at or after `since` (call it before that audio can come). */
  watchAudioAfter(since: number): void {
    this.watchSince = since;
    this.watchHit = null;
  }

  /** The watched arrival (see watchAudioAfter), waiting up to `timeoutMs`; null on timeout. */
  async watchedAudio(timeoutMs: number): Promise<number | null> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.watchHit !== null) return this.watchHit;
      if (performance.now() > deadline) return null;
      await sleep(10);
    }
  }

  /** First `clear` at or after `since`; null on timeout. */
  async clearAfter(since: number, timeoutMs: number): Promise<number | null> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const hit = this.clearTimes.find((t) => t >= since);
      if (hit !== undefined) return hit;
      if (performance.now() > deadline) return null;
      await sleep(10);
    }
  }

  /** Resolves once nothing is queued for playback and no audio arrived for `quietMs` (or after `timeoutMs`). */
  async waitForBotQuiet(quietMs: number, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (!this.botSpeaking && this.lastMediaAt > 0 && performance.now() - this.lastMediaAt > quietMs) return true;
      await sleep(50);
    }
    return false;
  }

  private stopTimers(): void {
    if (this.micTimer) clearTimeout(this.micTimer);
    if (this.playTimer) clearTimeout(this.playTimer);
    this.micTimer = null;
    this.playTimer = null;
  }

  async hangup(): Promise<void> {
    this.stopTimers();
    this.sendJson({ event: 'stop', streamSid: this.streamSid, stop: { accountSid: 'AC0', callSid: this.callSid } });
    this.ws.close(1000);
    await Promise.race([this.closed, sleep(5000)]);
  }

  /** Abandons the call without ceremony (harness clean-up after an error). */
  terminate(): void {
    this.stopTimers();
    this.ws?.terminate();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
