/**
 * The two sides of a call, aligned in time, into one stereo WAV: the caller on the left channel, the bot on the
 * right. The caller's frames are the clock (they arrive in real time, one every 20 ms); bot audio plays from the
 * moment it is sent, after whatever is still queued, so it is placed at max(end of queued bot audio, caller
 * position); `clear()` (barge-in) drops the bot audio not yet played, i.e. past the caller position.
 *
 * When the caller's frames stop while time goes on — a web caller who only types, a muted or silent client, a frozen
 * network — the caller's side is silence up to the call's elapsed time once they are more than JITTER_MS late (so
 * frames merely late are not pushed back), filled in when the bot speaks and at the end: the bot's words over those
 * stretches, its goodbye included, are recorded where they were played.
 *
 * Memory: samples are kept from the last flush on — a block (default 1 s) of the caller plus the bot audio queued
 * ahead (at most `maxAheadSec`, beyond which bot audio is left out of the recording) — and each full block is
 * interleaved and handed to the file writer (one disk write a second, none per frame). Per frame: a copy of its
 * samples into the block, no allocation unless the block must grow, no I/O, no logging.
 */
import type { AudioFormat } from '../audio/format.js';
import { mulawDecodeSample } from '../audio/mulaw.js';
import { WavFileWriter } from './wav-file.js';

export interface CallAudioRecorderOptions {
  path: string;
  /** Both sides' format; they must share one sample rate. */
  input: AudioFormat;
  output: AudioFormat;
  /** Samples per disk write (default: one second). */
  blockFrames?: number;
  /** Bot audio queued further ahead of the caller than this is not recorded (default 120 s). */
  maxAheadSec?: number;
  /** Milliseconds on a monotonic clock (default performance.now): the call's elapsed time when caller frames stop. */
  now?: () => number;
}

/** Caller frames this late are network jitter, not a stop: the caller's side is filled only past it. */
const JITTER_MS = 300;

export class CallAudioRecorder {
  readonly sampleRate: number;
  private readonly writer: WavFileWriter;
  private readonly blockFrames: number;
  private readonly maxAhead: number;
  /** Absolute sample positions since the call began. */
  private flushed = 0;
  private callerPos = 0;
  private botEnd = 0;
  /** Samples from `flushed` on. */
  private callerBuf: Int16Array;
  private botBuf: Int16Array;
  private finished = false;
  private readonly now: () => number;
  private readonly startedAt: number;

  constructor(private readonly o: CallAudioRecorderOptions) {
    this.now = o.now ?? (() => performance.now());
    this.startedAt = this.now();
    if (o.input.sampleRate !== o.output.sampleRate) throw new Error('both sides of a recording must share a sample rate');
    this.sampleRate = o.input.sampleRate;
    this.blockFrames = o.blockFrames ?? this.sampleRate;
    this.maxAhead = Math.round((o.maxAheadSec ?? 120) * this.sampleRate);
    this.callerBuf = new Int16Array(this.blockFrames * 2);
    this.botBuf = new Int16Array(this.blockFrames * 4);
    this.writer = new WavFileWriter(o.path, { sampleRate: this.sampleRate, channels: 2 });
  }

  /** Hot path: one caller frame (the buffer may be reused after return). */
  caller(frame: Uint8Array): void {
    if (this.finished) return;
    const n = samplesIn(frame, this.o.input);
    const at = this.callerPos - this.flushed;
    if (at + n > this.callerBuf.length) this.callerBuf = grow(this.callerBuf, at + n);
    decodeInto(frame, this.o.input, this.callerBuf, at);
    this.callerPos += n;
    if (this.callerPos - this.flushed >= this.blockFrames) this.flush();
  }

  /** Bot audio handed to the transport. */
  bot(chunk: Uint8Array): void {
    if (this.finished) return;
    // Caller frames more than the jitter allowance late have stopped: their side is silence up to now, and the bot's
    // audio is placed where it plays.
    if (this.callerPos < this.elapsedSamples(JITTER_MS)) this.callerSilenceUntil(this.elapsedSamples(0));
    const n = samplesIn(chunk, this.o.output);
    const start = Math.max(this.botEnd, this.callerPos);
    if (start + n - this.callerPos > this.maxAhead) return;
    const at = start - this.flushed;
    if (at + n > this.botBuf.length) this.botBuf = grow(this.botBuf, at + n);
    decodeInto(chunk, this.o.output, this.botBuf, at);
    this.botEnd = start + n;
  }

  /** Barge-in: bot audio not yet played is dropped. */
  clear(): void {
    if (this.botEnd <= this.callerPos) return;
    this.botBuf.fill(0, this.callerPos - this.flushed, this.botEnd - this.flushed);
    this.botEnd = this.callerPos;
  }

  /** Writes what was played, closes the file; the recording's duration in seconds (whole, rounded). */
  async finish(): Promise<{ durationSec: number; bytes: number }> {
    if (!this.finished) {
      this.callerSilenceUntil(this.elapsedSamples(0));
      this.flush();
      this.finished = true;
    }
    const bytes = await this.writer.finish();
    return { durationSec: Math.round(bytes / 4 / this.sampleRate), bytes };
  }

  /** The call's elapsed time less `lagMs`, in samples. */
  private elapsedSamples(lagMs: number): number {
    return Math.floor(((this.now() - this.startedAt - lagMs) * this.sampleRate) / 1000);
  }

  /** Silence on the caller's side up to `pos` (where their frames stopped coming), block by block. */
  private callerSilenceUntil(pos: number): void {
    while (this.callerPos < pos) {
      const at = this.callerPos - this.flushed;
      const n = Math.min(pos - this.callerPos, this.blockFrames - at);
      if (at + n > this.callerBuf.length) this.callerBuf = grow(this.callerBuf, at + n);
      this.callerBuf.fill(0, at, at + n);
      this.callerPos += n;
      if (this.callerPos - this.flushed >= this.blockFrames) this.flush();
    }
  }

  /** Interleaves [flushed, callerPos) and hands it to the writer; the bot audio queued ahead moves to the front. */
  private flush(): void {
    const n = this.callerPos - this.flushed;
    if (n <= 0) return;
    const out = new Int16Array(n * 2);
    for (let i = 0; i < n; i++) {
      out[2 * i] = this.callerBuf[i]!;
      out[2 * i + 1] = this.botBuf[i]!;
    }
    this.writer.append(out);
    const ahead = Math.max(0, this.botEnd - this.callerPos);
    this.botBuf.copyWithin(0, n, n + ahead);
    this.botBuf.fill(0, ahead, n + ahead);
    this.flushed = this.callerPos;
  }
}

function samplesIn(bytes: Uint8Array, format: AudioFormat): number {
  return format.encoding === 'mulaw' ? bytes.byteLength : bytes.byteLength >> 1;
}

/** Little-endian PCM16 (any byte alignment) or μ-law into `out` at `at`, without allocating. */
function decodeInto(bytes: Uint8Array, format: AudioFormat, out: Int16Array, at: number): void {
  if (format.encoding === 'mulaw') {
    for (let i = 0; i < bytes.byteLength; i++) out[at + i] = mulawDecodeSample(bytes[i]!);
    return;
  }
  const n = bytes.byteLength >> 1;
  for (let i = 0; i < n; i++) out[at + i] = (bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16 >> 16;
}

function grow(a: Int16Array, needed: number): Int16Array {
  const next = new Int16Array(Math.max(needed, a.length * 2));
  next.set(a);
  return next;
}
