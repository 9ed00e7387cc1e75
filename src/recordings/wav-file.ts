/**
 * A PCM16 WAV written to disk as it grows: a header with placeholder sizes first, blocks appended in order (one
 * write each, queued so the caller never waits), the sizes filled in by finish(). Never holds the file in memory.
 */
import { open, type FileHandle } from 'node:fs/promises';

const HEADER_BYTES = 44;
/**
 * Blocks queued but not yet on disk. A real-time call adds ~64 KB/s, so this is minutes of a stalled disk: past it
 * the recording fails (and says so) rather than growing the call's memory without bound.
 */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

export function wavHeader(o: { sampleRate: number; channels: number; dataBytes: number }): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  const blockAlign = o.channels * 2;
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + o.dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(o.channels, 22);
  h.writeUInt32LE(o.sampleRate, 24);
  h.writeUInt32LE(o.sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(o.dataBytes, 40);
  return h;
}

export class WavFileWriter {
  private file: Promise<FileHandle>;
  private chain: Promise<void>;
  private dataBytes = 0;
  private pendingBytes = 0;
  private failure: unknown = null;

  constructor(readonly path: string, private readonly format: { sampleRate: number; channels: number }) {
    this.file = open(path, 'w');
    this.chain = this.file.then(async (fh) => {
      await fh.write(wavHeader({ ...format, dataBytes: 0 }), 0, HEADER_BYTES, 0);
    }).catch((err: unknown) => {
      this.failure = err;
    });
  }

  /** The first write error, if any (later blocks are then dropped). */
  get error(): unknown {
    return this.failure;
  }

  /** Queues one block of interleaved samples (the array is handed over: not reused by the caller). */
  append(samples: Int16Array): void {
    if (this.failure || samples.length === 0) return;
    const bytes = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
    if (this.pendingBytes + bytes.byteLength > MAX_PENDING_BYTES) {
      this.failure = new Error(`the recording's disk writes fell ${MAX_PENDING_BYTES} bytes behind; recording stopped`);
      return;
    }
    const at = HEADER_BYTES + this.dataBytes;
    this.dataBytes += bytes.byteLength;
    this.pendingBytes += bytes.byteLength;
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      const fh = await this.file;
      await fh.write(bytes, 0, bytes.byteLength, at);
    }).finally(() => {
      this.pendingBytes -= bytes.byteLength;
    }).catch((err: unknown) => {
      this.failure = err;
    });
  }

  /** Waits for every block, writes the real sizes and closes; the number of data bytes written. */
  async finish(): Promise<number> {
    await this.chain;
    const fh = await this.file.catch(() => null);
    if (!fh) throw this.failure ?? new Error('the recording file did not open');
    try {
      if (this.failure) throw this.failure;
      await fh.write(wavHeader({ ...this.format, dataBytes: this.dataBytes }), 0, HEADER_BYTES, 0);
    } finally {
      await fh.close();
    }
    return this.dataBytes;
  }
}
