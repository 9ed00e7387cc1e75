/**
 * A web-call client for the turn-taking benchmark, measuring at the caller's ear: a microphone that sends 20 ms
 * PCM16 16 kHz frames in real time (silence unless audio is queued), a speaker that plays the bot's audio back to
 * back from its arrival (marks echoed once what precedes them has played, unplayed audio dropped on `clear`), and
 * a log of what happened when (clock: performance.now() of this process).
 */
import WebSocket from 'ws';

const FRAME_BYTES = 640;
const BYTES_PER_MS = 32;

export interface CallerEventLog {
  /** Arrival of each bot audio chunk: when, and how many bytes. */
  audio: { at: number; bytes: number }[];
  clears: number[];
  /** Final transcripts the server sent (caller turns closed, bot turns completed). */
  transcripts: { at: number; role: 'caller' | 'bot'; text: string }[];
  latencies: { at: number; latency: Record<string, number | null> }[];
}

export class WebCaller {
  readonly log: CallerEventLog = { audio: [], clears: [], transcripts: [], latencies: [] };
  /** Bot audio actually played (ms), i.e. received minus what a `clear` dropped unplayed. */
  playedMs = 0;
  private playheadAt = 0;
  private readonly markTimers = new Set<NodeJS.Timeout>();
  private mic: Uint8Array[] = [];
  private micTimer: NodeJS.Timeout | null = null;
  private framesSent = 0;
  private micStarted = 0;
  private waiters: { test: () => boolean; resolve: (ok: boolean) => void }[] = [];
  private closed = false;

  private constructor(private readonly ws: WebSocket) {}

  /** Opens the socket with a minted token and starts the microphone (silence). */
  static async connect(server: string, token: string): Promise<WebCaller> {
    const url = new URL('/web-call/socket', server);
    url.protocol = 'ws:';
    const ws = new WebSocket(url);
    ws.binaryType = 'nodebuffer';
    const caller = new WebCaller(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (data: Buffer, isBinary: boolean): void => {
        if (isBinary) return;
        const m = JSON.parse(data.toString()) as { type: string; message?: string };
        if (m.type === 'ready') resolve();
        else if (m.type === 'error') reject(new Error(`the server refused the call: ${m.message ?? ''}`));
      };
      ws.on('message', onMessage);
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => caller.onMessage(data, isBinary));
    ws.on('close', () => {
      caller.closed = true;
      caller.check();
    });
    ws.send(JSON.stringify({ type: 'start', token }));
    await ready;
    caller.startMic();
    return caller;
  }

  /** Ms of bot audio still to play. */
  get unplayedMs(): number {
    return Math.max(0, this.playheadAt - performance.now());
  }

  /** When the speaker will have played everything received so far. */
  get playsUntil(): number {
    return this.playheadAt;
  }

  /**
   * Queues caller audio (16 kHz PCM16) after what is queued; resolves with the send time of the frame holding
   * sample `markSample` (e.g. the first voiced sample) and of the last frame.
   */
  say(samples: Int16Array, markSample = 0): Promise<{ markAt: number; endAt: number }> {
    const bytes = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
    const first = this.framesSent + this.mic.length;
    const frames: Uint8Array[] = [];
    for (let o = 0; o < bytes.length; o += FRAME_BYTES) {
      const f = new Uint8Array(FRAME_BYTES);
      f.set(bytes.subarray(o, Math.min(bytes.length, o + FRAME_BYTES)));
      frames.push(f);
    }
    this.mic.push(...frames);
    const markFrame = first + Math.floor((markSample * 2) / FRAME_BYTES);
    const lastFrame = first + frames.length - 1;
    const markOffsetMs = ((markSample * 2) % FRAME_BYTES) / BYTES_PER_MS;
    return new Promise((resolve) => {
      let markAt = 0;
      const wait = (): void => {
        if (markAt === 0 && this.framesSent > markFrame) markAt = this.frameSentAt(markFrame) + markOffsetMs;
        if (this.framesSent > lastFrame || this.closed) resolve({ markAt, endAt: this.frameSentAt(lastFrame) + 20 });
        else setTimeout(wait, 5);
      };
      wait();
    });
  }

  /** Resolves true when `test` holds (checked on every message), false after `timeoutMs`. */
  until(test: () => boolean, timeoutMs: number): Promise<boolean> {
    if (test()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        test,
        resolve: (ok: boolean) => {
          clearTimeout(timer);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(test());
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  async close(): Promise<void> {
    if (this.micTimer) clearInterval(this.micTimer);
    for (const t of this.markTimers) clearTimeout(t);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'end' }));
    await this.until(() => this.closed, 3000);
    if (!this.closed) this.ws.terminate();
  }

  /** Frames are sent on a 20 ms clock (catching up after a late tick), as a browser microphone would. */
  private startMic(): void {
    this.micStarted = performance.now();
    const silence = new Uint8Array(FRAME_BYTES);
    this.micTimer = setInterval(() => {
      const due = Math.floor((performance.now() - this.micStarted) / 20) + 1;
      while (this.framesSent < due && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(this.mic.shift() ?? silence, { binary: true });
        this.framesSent++;
      }
    }, 5);
  }

  /** The scheduled send time of frame `n` (frames leave on the 20 ms clock; a late tick sends them a little later). */
  private frameSentAt(n: number): number {
    return this.micStarted + n * 20;
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    const now = performance.now();
    if (isBinary) {
      this.log.audio.push({ at: now, bytes: data.length });
      this.playheadAt = Math.max(this.playheadAt, now) + data.length / BYTES_PER_MS;
      this.playedMs += data.length / BYTES_PER_MS;
      return this.check();
    }
    const m = JSON.parse(data.toString()) as { type: string; [k: string]: unknown };
    switch (m.type) {
      case 'mark': {
        const t = setTimeout(() => {
          this.markTimers.delete(t);
          if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'mark-played', name: m.name }));
        }, Math.max(0, this.playheadAt - now));
        this.markTimers.add(t);
        break;
      }
      case 'clear':
        this.log.clears.push(now);
        for (const t of this.markTimers) clearTimeout(t);
        this.markTimers.clear();
        // What had not played yet is never heard.
        this.playedMs -= Math.max(0, this.playheadAt - now);
        this.playheadAt = now;
        break;
      case 'transcript':
        if (m.final) this.log.transcripts.push({ at: now, role: m.role as 'caller' | 'bot', text: m.text as string });
        break;
      case 'turn_latency':
        this.log.latencies.push({ at: now, latency: m.latency as Record<string, number | null> });
        break;
    }
    this.check();
  }

  private check(): void {
    this.waiters = this.waiters.filter((w) => (w.test() ? (w.resolve(true), false) : true));
  }
}

/** Index of the first sample of a 10 ms window louder than `dbfs` (the speech onset of a clip), or -1. */
export function firstVoiced(samples: Int16Array, dbfs = -40): number {
  return scanVoiced(samples, dbfs, 1);
}

/** Index just past the last 10 ms window louder than `dbfs`, or -1. */
export function lastVoiced(samples: Int16Array, dbfs = -40): number {
  return scanVoiced(samples, dbfs, -1);
}

function scanVoiced(samples: Int16Array, dbfs: number, direction: 1 | -1): number {
  const win = 160;
  const threshold = (32768 * 10 ** (dbfs / 20)) ** 2;
  const windows = Math.floor(samples.length / win);
  for (let k = 0; k < windows; k++) {
    const w = direction === 1 ? k : windows - 1 - k;
    let sum = 0;
    for (let i = w * win; i < (w + 1) * win; i++) sum += samples[i]! * samples[i]!;
    if (sum / win > threshold) return direction === 1 ? w * win : (w + 1) * win;
  }
  return -1;
}
