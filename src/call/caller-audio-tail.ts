/**
 * The last few seconds of the caller's audio, kept so that the end of each utterance can be listened to once the
 * VAD says it ended and the recognizer's words are in (prosody.ts: is the pitch falling into the end?). A ring of
 * the transport's own bytes (μ-law or PCM16 at its own rate: 36 KB or 144 KB), with the clock time of the newest
 * frame, so a clock time maps back to a sample. Hot path: push() copies the frame into the ring (one or two
 * memcpy) — no decoding, no allocation, no logging, no timers; the audio is decoded only when it is read (once per
 * end of speech, at most).
 */
import type { AudioFormat } from '../audio/format.js';
import { mulawDecodeSample } from '../audio/mulaw.js';
import { prosodyOf, type ProsodyFeatures } from './prosody.js';
import { RECOGNIZER_GRACE_MS } from './turn-taking.js';
import type { Clock } from './types.js';

/** The prosody is read from this much audio before the end of speech. */
const ANALYSED_MS = 1000;
/**
 * The pitch is read when the recognizer's final is in, or when the wait for it runs out (RECOGNIZER_GRACE_MS after
 * the end of speech): the ring keeps the analysed second that long, with room for the VAD's end-of-speech delay.
 */
const KEEP_MS = ANALYSED_MS + RECOGNIZER_GRACE_MS + 1000;

export class CallerAudioTail {
  private readonly ring: Uint8Array;
  private readonly perMs: number;
  private readonly bytesPerSample: number;
  /** Samples the ring holds. */
  private readonly capacity: number;
  /** Samples ever written (the ring's write position is total % capacity). */
  private total = 0;
  private lastPushAt = 0;

  constructor(
    private readonly format: AudioFormat,
    private readonly clock: Clock,
  ) {
    this.perMs = format.sampleRate / 1000;
    this.bytesPerSample = format.encoding === 'mulaw' ? 1 : 2;
    this.capacity = KEEP_MS * this.perMs;
    this.ring = new Uint8Array(this.capacity * this.bytesPerSample);
  }

  /** Hot path: one inbound frame in the transport's input format (a trailing odd PCM byte is ignored). */
  push(frame: Uint8Array): void {
    const count = Math.floor(frame.byteLength / this.bytesPerSample);
    // A frame longer than the ring: only its end is kept.
    const keep = Math.min(count, this.capacity);
    const from = (count - keep) * this.bytesPerSample;
    const at = ((this.total + count - keep) % this.capacity) * this.bytesPerSample;
    const bytes = keep * this.bytesPerSample;
    const first = Math.min(bytes, this.ring.length - at);
    // The usual case, a whole frame in one piece, makes no subarray view.
    this.ring.set(first === frame.byteLength ? frame : frame.subarray(from, from + first), at);
    if (first < bytes) this.ring.set(frame.subarray(from + first, from + bytes), 0);
    this.total += count;
    this.lastPushAt = this.clock.now();
  }

  /** A copy of the audio that ended at clock time `endAt`, `ms` long at most (what the ring still holds), as PCM16. */
  endingAt(endAt: number, ms: number): Int16Array {
    const n = this.capacity;
    const end = Math.min(this.total, this.total - Math.round(Math.max(0, this.lastPushAt - endAt) * this.perMs));
    const start = Math.max(0, end - Math.round(ms * this.perMs), this.total - n);
    const out = new Int16Array(Math.max(0, end - start));
    const ring = this.ring;
    if (this.bytesPerSample === 1) {
      for (let i = 0; i < out.length; i++) out[i] = mulawDecodeSample(ring[(start + i) % n]!);
    } else {
      for (let i = 0; i < out.length; i++) {
        const at = ((start + i) % n) * 2;
        out[i] = (ring[at]! | (ring[at + 1]! << 8)) << 16 >> 16;
      }
    }
    return out;
  }

  /** Prosody of the last second of speech before `endAt` (called once per end of speech, never per frame). */
  prosodyEndingAt(endAt: number): ProsodyFeatures | null {
    const audio = this.endingAt(endAt, ANALYSED_MS);
    return audio.length >= 0.2 * ANALYSED_MS * this.perMs ? prosodyOf(audio, this.format.sampleRate) : null;
  }
}
