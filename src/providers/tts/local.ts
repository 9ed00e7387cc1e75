/**
 * Offline text-to-speech with Debian's flite (English, clearer) and espeak-ng (Russian, and English on request).
 * Each phrase is synthesized by its own child process; up to `maxConcurrentProcesses` phrases of a session are
 * synthesized ahead while earlier audio plays, and audio is emitted strictly in phrase order.
 */
import type { AudioFormat } from '../../audio/format.js';
import { bytesPerMs } from '../../audio/format.js';
import { encodeSamples } from '../../audio/convert.js';
import { createResampler, resampleOffline } from '../../audio/resample.js';
import { ParleyError } from '../../errors.js';
import type { Language, TtsProvider, TtsSession, TtsSessionOptions, TtsTurn } from '../types.js';
import { AsyncQueue } from '../../util/async-queue.js';
import { synthesize, type LocalTtsEngine, type Synthesis } from './local-synth.js';

export interface LocalTtsOptions {
  /** Engine for English ('espeak-ng' is an alias of 'espeak', the config's spelling). Russian always uses espeak-ng. Default 'flite'. */
  englishEngine?: LocalTtsEngine | 'espeak-ng';
  /** Default flite voice. Default 'slt'. */
  fliteVoice?: string;
  fliteBinary?: string;
  espeakBinary?: string;
  /** Child processes per session at once. Default 2. */
  maxConcurrentProcesses?: number;
  /** Size of the audio chunks the turn yields. Default 200 ms. */
  chunkMs?: number;
  /** Per-phrase synthesis limit. Default 20 s. */
  timeoutMs?: number;
}

export const FLITE_VOICES = ['slt', 'rms', 'awb', 'kal', 'kal16', 'awb_time'] as const;

interface Voice {
  engine: LocalTtsEngine;
  voice: string;
  binary: string;
}

export class LocalTtsProvider implements TtsProvider {
  readonly name = 'local';
  constructor(private readonly options: LocalTtsOptions = {}) {}

  /** Which engine and voice a session with these options would use. */
  voiceFor(language: Language, requested?: string): Voice {
    const o = this.options;
    const flite = o.fliteBinary ?? 'flite';
    const espeak = o.espeakBinary ?? 'espeak-ng';
    if (language === 'ru') return { engine: 'espeak', voice: requested?.startsWith('ru') ? requested : 'ru', binary: espeak };
    if ((o.englishEngine ?? 'flite') !== 'flite') {
      return { engine: 'espeak', voice: requested?.startsWith('en') ? requested : 'en-us', binary: espeak };
    }
    const voice = requested && (FLITE_VOICES as readonly string[]).includes(requested) ? requested : (o.fliteVoice ?? 'slt');
    return { engine: 'flite', voice, binary: flite };
  }

  async open(session: TtsSessionOptions): Promise<TtsSession> {
    return new LocalTtsSession(this.voiceFor(session.language, session.voice), session.format, {
      maxConcurrent: Math.max(1, this.options.maxConcurrentProcesses ?? 2),
      chunkMs: this.options.chunkMs ?? 200,
      timeoutMs: this.options.timeoutMs ?? 20_000,
    });
  }
}

interface SessionLimits {
  maxConcurrent: number;
  chunkMs: number;
  timeoutMs: number;
}

/** Counts running child processes of one session (shared by its turns). */
class ProcessSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}

  acquire(): Promise<void> {
    if (this.running < this.max) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}

class LocalTtsSession implements TtsSession {
  private readonly slots: ProcessSlots;
  private readonly turns = new Set<LocalTtsTurn>();

  constructor(
    private readonly voice: Voice,
    private readonly format: AudioFormat,
    private readonly limits: SessionLimits,
  ) {
    this.slots = new ProcessSlots(limits.maxConcurrent);
  }

  startTurn(signal: AbortSignal): TtsTurn {
    const turn = new LocalTtsTurn(this.voice, this.format, this.limits, this.slots, signal, () => this.turns.delete(turn));
    this.turns.add(turn);
    return turn;
  }

  async close(): Promise<void> {
    await Promise.all([...this.turns].map((t) => t.cancel()));
  }
}

interface Phrase {
  text: string;
  /** Encoded audio in the session format, once synthesized. */
  audio: Promise<Uint8Array>;
}

class LocalTtsTurn implements TtsTurn {
  readonly audio: AsyncIterable<Uint8Array>;
  private readonly queue = new AsyncQueue<Uint8Array>();
  private readonly phrases: Phrase[] = [];
  private readonly live = new Set<Synthesis>();
  private ended = false;
  private cancelled = false;
  private pumping = false;
  private readonly chunkBytes: number;
  private readonly onAbort = (): void => void this.cancel();

  constructor(
    private readonly voice: Voice,
    private readonly format: AudioFormat,
    private readonly limits: SessionLimits,
    private readonly slots: ProcessSlots,
    private readonly signal: AbortSignal,
    private readonly onDone: () => void,
  ) {
    this.audio = this.queue;
    this.chunkBytes = Math.max(2, Math.round(bytesPerMs(format) * limits.chunkMs) & ~1);
    if (signal.aborted) void this.cancel();
    else signal.addEventListener('abort', this.onAbort, { once: true });
  }

  pushText(text: string): void {
    if (this.ended || this.cancelled) return;
    const clean = text.replace(/\s+/g, ' ').trim();
    if (!/[\p{L}\p{N}]/u.test(clean)) return;
    const audio = this.render(clean);
    // Rejections are read by the pump; a cancelled turn never reads them.
    audio.catch(() => undefined);
    this.phrases.push({ text: clean, audio });
    this.pump();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.pump();
  }

  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const s of this.live) s.kill();
    this.live.clear();
    this.phrases.length = 0;
    this.queue.abort();
    this.finished();
  }

  /** The turn is over: off the session's list and off the signal (shared by every phrase of a bot turn). */
  private finished(): void {
    this.signal.removeEventListener('abort', this.onAbort);
    this.onDone();
  }

  /** Starts synthesis as soon as a process slot is free; the result waits until its turn to play. */
  private async render(text: string): Promise<Uint8Array> {
    await this.slots.acquire();
    try {
      if (this.cancelled) throw new Error('cancelled');
      const synthesis = synthesize({ ...this.voice, text, timeoutMs: this.limits.timeoutMs });
      this.live.add(synthesis);
      try {
        const { samples, sampleRate } = await synthesis.result;
        return encodeSamples(this.toTargetRate(samples, sampleRate), this.format.encoding);
      } finally {
        this.live.delete(synthesis);
      }
    } finally {
      this.slots.release();
    }
  }

  private toTargetRate(samples: Int16Array, rate: number): Int16Array {
    const target = this.format.sampleRate;
    if (rate === target) return samples;
    if ((rate === 16000 && target === 8000) || (rate === 8000 && target === 16000)) {
      return createResampler(rate, target).process(samples);
    }
    return resampleOffline(samples, rate, target);
  }

  /** Emits phrases in order; one pump loop per turn. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    void (async () => {
      try {
        while (!this.cancelled && this.phrases.length > 0) {
          const phrase = this.phrases[0]!;
          let bytes: Uint8Array;
          try {
            bytes = await phrase.audio;
          } catch (error) {
            if (this.cancelled) return;
            this.queue.fail(new ParleyError('PARLEY_ERR_UNAVAILABLE', `local TTS failed: ${(error as Error).message}`));
            this.stopAfterFailure();
            return;
          }
          if (this.cancelled) return;
          this.phrases.shift();
          for (let offset = 0; offset < bytes.length; offset += this.chunkBytes) {
            this.queue.push(bytes.subarray(offset, offset + this.chunkBytes));
          }
        }
        if (this.ended && !this.cancelled) {
          this.queue.close();
          this.finished();
        }
      } finally {
        this.pumping = false;
      }
      // Text may have arrived while the last phrase was awaited.
      if (!this.cancelled && (this.phrases.length > 0 || (this.ended && !this.queue.isClosed))) this.pump();
    })();
  }

  private stopAfterFailure(): void {
    this.cancelled = true;
    for (const s of this.live) s.kill();
    this.live.clear();
    this.phrases.length = 0;
    this.finished();
  }
}
