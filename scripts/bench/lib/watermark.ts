/**
 * Tags each benchmark caller's 20 ms μ-law frame with (caller, frame number) in its first 9 bytes, so the fake
 * Deepgram — which receives the audio after it has passed through Parley — can say which caller's which frame
 * it is holding. The tag bytes are all 0xF0–0xFF, i.e. μ-law values within ±120 of zero: silence stays silence
 * (mean |sample| below 8, against the fake's speech threshold of 300) and a tone frame keeps its energy.
 * 9 bytes encode to exactly 12 base64 characters, so a tagged frame is `head(caller, n) + tail`, where the tail
 * (the frame's last 151 bytes) is encoded once for all callers.
 */
const MAGIC0 = 0xfa;
const MAGIC1 = 0xf5;
export const TAG_BYTES = 9;
export const MAX_CALLERS = 4096;
const nib = (x: number): number => 0xf0 | (x & 0x0f);

export function tagHead(caller: number, frame: number): string {
  const b = Buffer.allocUnsafe(TAG_BYTES);
  b[0] = MAGIC0;
  b[1] = MAGIC1;
  b[2] = nib(caller >> 8);
  b[3] = nib(caller >> 4);
  b[4] = nib(caller);
  b[5] = nib(frame >> 12);
  b[6] = nib(frame >> 8);
  b[7] = nib(frame >> 4);
  b[8] = nib(frame);
  return b.toString('base64');
}

/** base64 of a frame's bytes after the tag. */
export function tagTail(frame: Uint8Array): string {
  return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).subarray(TAG_BYTES).toString('base64');
}

/**
 * The tag at the start of `audio` packed as caller × 65536 + frame number (no object per frame: this runs for
 * every frame of every call), or -1 when it carries none. Frame numbers wrap at 65536.
 */
export function readTag(audio: Uint8Array): number {
  if (audio.length < TAG_BYTES || audio[0] !== MAGIC0 || audio[1] !== MAGIC1) return -1;
  const a = audio;
  const caller = ((a[2]! & 15) << 8) | ((a[3]! & 15) << 4) | (a[4]! & 15);
  const frame = ((a[5]! & 15) << 12) | ((a[6]! & 15) << 8) | ((a[7]! & 15) << 4) | (a[8]! & 15);
  return caller * 0x10000 + frame;
}
