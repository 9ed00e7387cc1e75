/**
 * Caller audio may not arrive faster than it is spoken. A page holding a web-call token could otherwise send hours of
 * audio in seconds (an audit sent 40,531 s in 12 s): queued toward the recognizer faster than it reads (3.6 GB of
 * server memory), billed as recognised audio, and run through the VAD on the call loop. A token bucket in audio
 * milliseconds: it fills at one per millisecond of wall time up to `burstMs` (frames a network stall of a few seconds
 * delivers together, so nothing a real caller said is lost), and each frame spends its duration; a frame it cannot
 * pay for is refused.
 */
export class RealtimeAudioBudget {
  private tokensMs: number;
  private lastAt: number | null = null;

  constructor(
    private readonly bytesPerMs: number,
    private readonly now: () => number = () => performance.now(),
    private readonly burstMs = 5_000,
  ) {
    this.tokensMs = burstMs;
  }

  /** Hot path (arithmetic only): whether a frame of `byteLength` bytes fits now; it is counted when it does. */
  admit(byteLength: number): boolean {
    const t = this.now();
    if (this.lastAt !== null) this.tokensMs = Math.min(this.burstMs, this.tokensMs + (t - this.lastAt));
    this.lastAt = t;
    const ms = byteLength / this.bytesPerMs;
    if (ms > this.tokensMs) return false;
    this.tokensMs -= ms;
    return true;
  }
}
