/**
 * G.711 μ-law codec (ITU-T G.711, the variant Twilio uses). Table-driven: decoding is one lookup per byte,
 * encoding one lookup per sample into a 64 KiB table built once at import.
 */

const BIAS = 0x84;
const CLIP = 32635;

function encodeSample(sample: number): number {
  let sign = 0;
  let s = sample;
  if (s < 0) {
    sign = 0x80;
    s = -s;
  }
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function decodeByte(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  return u & 0x80 ? -magnitude : magnitude;
}

const DECODE_TABLE = new Int16Array(256);
for (let i = 0; i < 256; i++) DECODE_TABLE[i] = decodeByte(i);

/** Indexed by sample + 32768. */
const ENCODE_TABLE = new Uint8Array(65536);
for (let i = 0; i < 65536; i++) ENCODE_TABLE[i] = encodeSample(i - 32768);

/** The μ-law byte for digital silence (linear 0). */
export const MULAW_SILENCE = 0xff;

export function mulawDecodeSample(byte: number): number {
  return DECODE_TABLE[byte & 0xff]!;
}

export function mulawEncodeSample(sample: number): number {
  return ENCODE_TABLE[(sample | 0) + 32768]!;
}

/** μ-law bytes → PCM16 samples. Pass `out` (at least `input.length` long) to avoid an allocation. */
export function mulawDecode(input: Uint8Array, out: Int16Array = new Int16Array(input.length)): Int16Array {
  const n = input.length;
  for (let i = 0; i < n; i++) out[i] = DECODE_TABLE[input[i]!]!;
  return out.length === n ? out : out.subarray(0, n);
}

/** PCM16 samples → μ-law bytes. Pass `out` (at least `input.length` long) to avoid an allocation. */
export function mulawEncode(input: Int16Array, out: Uint8Array = new Uint8Array(input.length)): Uint8Array {
  const n = input.length;
  for (let i = 0; i < n; i++) out[i] = ENCODE_TABLE[input[i]! + 32768]!;
  return out.length === n ? out : out.subarray(0, n);
}
