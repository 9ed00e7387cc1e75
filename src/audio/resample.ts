/**
 * Resampling. The call path needs only 8 kHz <-> 16 kHz, done by streaming half-band FIR filters (windowed sinc,
 * Kaiser window) that keep their history between frames, so frame-by-frame output equals whole-signal output.
 * `resampleOffline` handles any ratio (e.g. espeak-ng's 22050 Hz) for whole phrases.
 */

/** A stateful converter; feed consecutive chunks of one stream, in order. */
export interface Resampler {
  readonly fromRate: number;
  readonly toRate: number;
  /** Returns a new array (the input is not modified and may be reused by the caller). */
  process(input: Int16Array): Int16Array;
  reset(): void;
}

const TAPS = 48;
const CUTOFF_HZ = 3700;
const FILTER_RATE = 16000;
const KAISER_BETA = 8;

function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 30; k++) {
    term *= (x / (2 * k)) * (x / (2 * k));
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

function kaiser(n: number, length: number, beta: number): number {
  const r = (2 * n) / (length - 1) - 1;
  return besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / besselI0(beta);
}

/** Low-pass FIR at FILTER_RATE, unity DC gain. */
function designLowPass(taps: number, cutoffHz: number, rate: number): Float64Array {
  const h = new Float64Array(taps);
  const fc = cutoffHz / rate;
  const mid = (taps - 1) / 2;
  let sum = 0;
  for (let n = 0; n < taps; n++) {
    const t = n - mid;
    const sinc = t === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * t) / (Math.PI * t);
    h[n] = sinc * kaiser(n, taps, KAISER_BETA);
    sum += h[n]!;
  }
  for (let n = 0; n < taps; n++) h[n]! /= sum;
  return h;
}

const LOW_PASS = designLowPass(TAPS, CUTOFF_HZ, FILTER_RATE);

function clip16(v: number): number {
  return v >= 32767 ? 32767 : v <= -32768 ? -32768 : Math.round(v);
}

/**
 * The filter's work buffer: `hist` samples of history followed by the new input, grown (keeping the history)
 * only when a frame is larger than any before — steady 20 ms frames never allocate here.
 */
function withInput(work: Float64Array<ArrayBuffer>, hist: number, input: Int16Array): Float64Array<ArrayBuffer> {
  let w = work;
  if (w.length < hist + input.length) {
    w = new Float64Array(hist + input.length);
    w.set(work.subarray(0, hist));
  }
  for (let i = 0; i < input.length; i++) w[hist + i] = input[i]!;
  return w;
}

/** 16 kHz → 8 kHz: low-pass then keep every other sample. */
class Downsampler2x implements Resampler {
  readonly fromRate = 16000;
  readonly toRate = 8000;
  private readonly history = TAPS - 1;
  private work = new Float64Array(TAPS - 1 + 640);
  /** Parity of the next input sample; outputs are produced on even absolute indices. */
  private parity = 0;

  process(input: Int16Array): Int16Array {
    const hist = this.history;
    const w = (this.work = withInput(this.work, hist, input));
    const first = this.parity === 0 ? 0 : 1;
    const count = input.length > first ? Math.ceil((input.length - first) / 2) : 0;
    const out = new Int16Array(count);
    const h = LOW_PASS;
    for (let o = 0, i = first; o < count; o++, i += 2) {
      const base = hist + i;
      let acc = 0;
      for (let k = 0; k < TAPS; k++) acc += h[k]! * w[base - k]!;
      out[o] = clip16(acc);
    }
    this.parity = (this.parity + input.length) & 1;
    w.copyWithin(0, input.length, input.length + hist);
    return out;
  }

  reset(): void {
    this.work.fill(0);
    this.parity = 0;
  }
}

const PHASE_TAPS = TAPS / 2;
const PHASE_EVEN = new Float64Array(PHASE_TAPS);
const PHASE_ODD = new Float64Array(PHASE_TAPS);
for (let j = 0; j < PHASE_TAPS; j++) {
  // Gain 2 compensates for the zero-stuffed samples.
  PHASE_EVEN[j] = 2 * LOW_PASS[2 * j]!;
  PHASE_ODD[j] = 2 * LOW_PASS[2 * j + 1]!;
}

/** 8 kHz → 16 kHz: zero-stuff and low-pass, computed as two polyphase branches. */
class Upsampler2x implements Resampler {
  readonly fromRate = 8000;
  readonly toRate = 16000;
  private readonly history = PHASE_TAPS - 1;
  private work = new Float64Array(PHASE_TAPS - 1 + 320);

  process(input: Int16Array): Int16Array {
    const hist = this.history;
    const w = (this.work = withInput(this.work, hist, input));
    const out = new Int16Array(input.length * 2);
    for (let m = 0; m < input.length; m++) {
      const base = hist + m;
      let even = 0;
      let odd = 0;
      for (let j = 0; j < PHASE_TAPS; j++) {
        const x = w[base - j]!;
        even += PHASE_EVEN[j]! * x;
        odd += PHASE_ODD[j]! * x;
      }
      out[2 * m] = clip16(even);
      out[2 * m + 1] = clip16(odd);
    }
    w.copyWithin(0, input.length, input.length + hist);
    return out;
  }

  reset(): void {
    this.work.fill(0);
  }
}

class PassThrough implements Resampler {
  constructor(
    readonly fromRate: number,
    readonly toRate: number,
  ) {}
  process(input: Int16Array): Int16Array {
    return input.slice();
  }
  reset(): void {}
}

/** A streaming resampler between 8000 and 16000 Hz (or the identity when the rates match). */
export function createResampler(fromRate: number, toRate: number): Resampler {
  if (fromRate === toRate) return new PassThrough(fromRate, toRate);
  if (fromRate === 16000 && toRate === 8000) return new Downsampler2x();
  if (fromRate === 8000 && toRate === 16000) return new Upsampler2x();
  throw new RangeError(`no streaming resampler for ${fromRate} → ${toRate} Hz; use resampleOffline`);
}

const WINDOW_STEPS = 4096;
/** Kaiser window sampled over |r| in [0, 1] (r = offset / half-width). */
const WINDOW_TABLE = new Float64Array(WINDOW_STEPS + 1);
for (let i = 0; i <= WINDOW_STEPS; i++) {
  const r = i / WINDOW_STEPS;
  WINDOW_TABLE[i] = besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / besselI0(KAISER_BETA);
}

/**
 * Any-ratio windowed-sinc resampling of a whole signal (band-limited to 0.45 × the lower rate).
 * Used for synthesized phrases, not per call frame.
 */
export function resampleOffline(input: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate) return input.slice();
  const ratio = toRate / fromRate;
  const outLength = Math.floor(input.length * ratio);
  const out = new Int16Array(outLength);
  // Cutoff in cycles per input sample.
  const fc = (0.45 * Math.min(fromRate, toRate)) / fromRate;
  const half = Math.ceil(12 * Math.max(1, fromRate / toRate));
  for (let j = 0; j < outLength; j++) {
    const t = j / ratio;
    const center = Math.floor(t);
    let acc = 0;
    let norm = 0;
    for (let k = center - half + 1; k <= center + half; k++) {
      if (k < 0 || k >= input.length) continue;
      const d = t - k;
      const sinc = d === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * d) / (Math.PI * d);
      const r = Math.abs(d / half);
      const win = r >= 1 ? 0 : WINDOW_TABLE[Math.round(r * WINDOW_STEPS)]!;
      const weight = sinc * win;
      acc += weight * input[k]!;
      norm += weight;
    }
    out[j] = norm === 0 ? 0 : clip16(acc / norm);
  }
  return out;
}
