/**
 * The last second and a half of the caller's audio, kept so that the end of each utterance can be listened to
 * once the VAD says it ended (prosody.ts: is the pitch falling into the end?). A ring of PCM16 at the
 * transport's own rate, with the clock time of the newest frame, so a clock time maps back to a sample.
 * Hot path: push() decodes (μ-law) or views (PCM) the frame and copies it into the ring — no allocation, no
 * logging, no timers.
 */
import type { AudioFormat } from '../audio/format.js';
import { mulawDecodeSample } from '../audio/mulaw.js';
import { prosodyOf, type ProsodyFeatures } from './prosody.js';
import type { Clock } from './types.js';

const KEEP_MS = 1500;
/** The prosody is read from this much audio before the end of speech. */
const ANALYSED_MS = 1000;

export class CallerAudioTail {
  private readonly ring: Int16Array;
  private readonly perMs: number;
  /** Samples ever written (the ring's write position is total % length). */
  private total = 0;
  private lastPushAt = 0;

  constructor(
    private readonly format: AudioFormat,
    private readonly clock: Clock,
  ) {
    this.perMs = format.sampleRate / 1000;
    this.ring = new Int16Array(KEEP_MS * this.perMs);
  }

  /** Hot path: one inbound frame in the transport's input format. */
  push(frame: Uint8Array): void {
    const n = this.ring.length;
    if (this.format.encoding === 'mulaw') {
      for (let i = 0; i < frame.length; i++) this.ring[(this.total + i) % n] = mulawDecodeSample(frame[i]!);
      this.total += frame.length;
    } else {
      const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
      const count = frame.byteLength >> 1;
      for (let i = 0; i < count; i++) this.ring[(this.total + i) % n] = view.getInt16(i * 2, true);
      this.total += count;
    }
    this.lastPushAt = this.clock.now();
  }

  /** A copy of the audio that ended at clock time `endAt`, `ms` long at most (what the ring still holds). */
  endingAt(endAt: number, ms: number): Int16Array {
    const n = this.ring.length;
    const end = Math.min(this.total, this.total - Math.round(Math.max(0, this.lastPushAt - endAt) * this.perMs));
    const start = Math.max(0, end - Math.round(ms * this.perMs), this.total - n);
    const out = new Int16Array(Math.max(0, end - start));
    for (let i = 0; i < out.length; i++) out[i] = this.ring[(start + i) % n]!;
    return out;
  }

  /** Prosody of the last second of speech before `endAt` (called once per end of speech, never per frame). */
  prosodyEndingAt(endAt: number): ProsodyFeatures | null {
    const audio = this.endingAt(endAt, ANALYSED_MS);
    return audio.length >= 0.2 * ANALYSED_MS * this.perMs ? prosodyOf(audio, this.format.sampleRate) : null;
  }
}
