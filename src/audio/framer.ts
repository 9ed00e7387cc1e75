/**
 * Re-chunks a byte stream into fixed-size frames (e.g. 20 ms for outbound pacing). Stateful: a partial frame
 * waits for the next push.
 */
import { bytesPerMs, type AudioFormat } from './format.js';
import { MULAW_SILENCE } from './mulaw.js';

export class Framer {
  readonly frameBytes: number;
  private readonly pending: Uint8Array;
  private pendingLength = 0;
  private readonly silenceByte: number;

  constructor(format: AudioFormat, frameMs = 20) {
    this.frameBytes = Math.round(bytesPerMs(format) * frameMs);
    this.pending = new Uint8Array(this.frameBytes);
    this.silenceByte = format.encoding === 'mulaw' ? MULAW_SILENCE : 0;
  }

  /** Bytes waiting for a full frame. */
  get bufferedBytes(): number {
    return this.pendingLength;
  }

  /** Appends bytes; returns the complete frames now available (each a fresh array the caller may keep). */
  push(bytes: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    const size = this.frameBytes;
    let offset = 0;
    if (this.pendingLength > 0) {
      const take = Math.min(size - this.pendingLength, bytes.length);
      this.pending.set(bytes.subarray(0, take), this.pendingLength);
      this.pendingLength += take;
      offset = take;
      if (this.pendingLength < size) return frames;
      frames.push(this.pending.slice());
      this.pendingLength = 0;
    }
    while (bytes.length - offset >= size) {
      frames.push(bytes.slice(offset, offset + size));
      offset += size;
    }
    if (offset < bytes.length) {
      this.pending.set(bytes.subarray(offset), 0);
      this.pendingLength = bytes.length - offset;
    }
    return frames;
  }

  /** The remaining partial frame padded with silence, or null when nothing is buffered. */
  flush(): Uint8Array | null {
    if (this.pendingLength === 0) return null;
    const frame = new Uint8Array(this.frameBytes).fill(this.silenceByte);
    frame.set(this.pending.subarray(0, this.pendingLength));
    this.pendingLength = 0;
    return frame;
  }

  /** Drops any partial frame (barge-in). */
  clear(): void {
    this.pendingLength = 0;
  }
}
