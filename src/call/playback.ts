/**
 * Speaks one bot turn: phrases go to TTS one by one, their audio to the transport, and a mark after each
 * phrase's audio so the echoed marks tell exactly which phrases the caller heard. Each phrase is its own TTS
 * generation because the TtsTurn contract gives no phrase boundaries inside one stream; synthesis runs ahead
 * of playback, so the transport queue hides the per-phrase start-up.
 */
import { bytesPerMs } from '../audio/format.js';
import type { TtsSession, TtsTurn } from '../providers/types.js';
import type { CallTransport } from '../telephony/transport.js';
import { AsyncQueue } from './async-queue.js';
import type { Clock } from './types.js';

export class TtsFailure extends Error {
  constructor(override readonly cause: unknown) {
    super(`TTS failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'TtsFailure';
  }
}

interface Phrase {
  text: string;
  mark: string;
  markSent: boolean;
  heard: boolean;
}

export interface PlaybackOptions {
  tts: TtsSession;
  transport: CallTransport;
  clock: Clock;
  signal: AbortSignal;
  /** Unique per playback, so late marks of an earlier turn are never confused with this one's. */
  markPrefix: string;
  /** Stop pulling TTS audio while the transport holds more than this many bytes (default: 2 s of audio). */
  maxPendingBytes?: number;
  /** Called once, when the first audio chunk is handed to the transport. */
  onFirstAudio?: (ttsFirstAudioMs: number) => void;
}

export type PlaybackResult = 'played' | 'interrupted';

export class Playback {
  private readonly phrases: Phrase[] = [];
  private readonly queue = new AsyncQueue<Phrase>();
  private readonly maxPendingBytes: number;
  private current: TtsTurn | null = null;
  private frozen = false;
  private firstAudioSent = false;
  private bytesSent = 0;
  private firstSendAt = 0;
  private workerDone = false;
  private settle!: (r: PlaybackResult) => void;
  private fail!: (e: Error) => void;
  private fallbackTimer: unknown = null;
  /** Text the producer had not yet handed over when the turn was cut (for resuming after a false interruption). */
  private unspoken = '';
  readonly done: Promise<PlaybackResult>;

  constructor(private readonly o: PlaybackOptions) {
    this.maxPendingBytes = o.maxPendingBytes ?? bytesPerMs(o.transport.outputFormat) * 2000;
    this.done = new Promise<PlaybackResult>((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
    });
    // Whoever awaits `done` handles rejections; this keeps an unobserved one from crashing the process.
    this.done.catch(() => {});
    void this.work();
  }

  say(text: string): void {
    const t = text.trim();
    if (!t || this.frozen) return;
    const phrase: Phrase = { text: t, mark: `${this.o.markPrefix}-${this.phrases.length}`, markSent: false, heard: false };
    this.phrases.push(phrase);
    this.queue.push(phrase);
  }

  /** No more phrases; `done` resolves once everything has been played (last mark echoed). */
  finish(): void {
    this.queue.close();
  }

  noteUnspoken(text: string | null): void {
    if (text) this.unspoken += (this.unspoken ? ' ' : '') + text.trim();
  }

  /** A mark came back from the transport. */
  onMark(name: string): boolean {
    if (this.frozen) return false;
    const p = this.phrases.find((x) => x.mark === name);
    if (!p) return false;
    p.heard = true;
    this.checkComplete();
    return true;
  }

  /** Barge-in: freeze what was heard (marks echoed after the clear were not played) and stop synthesis. */
  interrupt(): void {
    if (this.frozen) return;
    this.frozen = true;
    this.queue.abort();
    void this.current?.cancel();
    this.clearFallback();
    this.settle('interrupted');
  }

  get text(): string {
    return this.phrases.map((p) => p.text).join(' ');
  }
  heardText(): string {
    return this.phrases.filter((p) => p.heard).map((p) => p.text).join(' ');
  }
  unheardText(): string {
    const rest = this.phrases.filter((p) => !p.heard).map((p) => p.text);
    if (this.unspoken) rest.push(this.unspoken);
    return rest.join(' ');
  }
  get isFrozen(): boolean {
    return this.frozen;
  }

  private async work(): Promise<void> {
    try {
      for await (const phrase of this.queue) {
        if (this.o.signal.aborted) break;
        await this.synthesize(phrase);
        if (this.o.signal.aborted || this.frozen) break;
        this.o.transport.sendMark(phrase.mark);
        phrase.markSent = true;
      }
    } catch (err) {
      if (!this.frozen && !this.o.signal.aborted) {
        this.frozen = true;
        this.fail(err instanceof TtsFailure ? err : new TtsFailure(err));
        return;
      }
    }
    this.workerDone = true;
    if (this.o.signal.aborted && !this.frozen) {
      this.frozen = true;
      this.settle('interrupted');
      return;
    }
    this.checkComplete();
    this.armFallback();
  }

  /** One retry when the TTS fails before producing audio for the phrase; a failure mid-phrase is final. */
  private async synthesize(phrase: Phrase): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let produced = false;
      try {
        const started = this.o.clock.now();
        const turn = this.o.tts.startTurn(this.o.signal);
        this.current = turn;
        turn.pushText(phrase.text + ' ');
        turn.end();
        for await (const chunk of turn.audio) {
          if (this.o.signal.aborted || this.frozen) return;
          if (!produced && !this.firstAudioSent) {
            this.firstAudioSent = true;
            this.firstSendAt = this.o.clock.now();
            this.o.onFirstAudio?.(this.firstSendAt - started);
          }
          produced = true;
          if (this.o.transport.pendingBytes > this.maxPendingBytes) await this.drain();
          if (this.o.signal.aborted || this.frozen) return;
          this.o.transport.sendAudio(chunk);
          this.bytesSent += chunk.byteLength;
        }
        return;
      } catch (err) {
        if (this.o.signal.aborted || this.frozen) return;
        if (produced || attempt >= 1) throw new TtsFailure(err);
      } finally {
        this.current = null;
      }
    }
  }

  private async drain(): Promise<void> {
    while (this.o.transport.pendingBytes > this.maxPendingBytes / 2 && !this.o.signal.aborted && !this.frozen) {
      await new Promise<void>((r) => this.o.clock.setTimeout(r, 20));
    }
  }

  private checkComplete(): void {
    if (this.frozen || !this.workerDone) return;
    if (this.phrases.every((p) => p.heard || !p.markSent)) {
      this.frozen = true;
      this.clearFallback();
      this.settle('played');
    }
  }

  // A transport that never echoes marks must not leave the call hanging: give up after the audio's play time.
  private armFallback(): void {
    if (this.frozen) return;
    const audioMs = this.bytesSent / bytesPerMs(this.o.transport.outputFormat);
    const remaining = Math.max(0, (this.firstSendAt || this.o.clock.now()) + audioMs - this.o.clock.now());
    this.fallbackTimer = this.o.clock.setTimeout(() => {
      if (this.frozen) return;
      for (const p of this.phrases) if (p.markSent) p.heard = true;
      this.checkComplete();
    }, remaining + 3000);
  }

  private clearFallback(): void {
    if (this.fallbackTimer !== null) this.o.clock.clearTimeout(this.fallbackTimer);
    this.fallbackTimer = null;
  }
}
