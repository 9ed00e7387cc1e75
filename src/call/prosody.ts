/**
 * Prosody of the end of an utterance, from the caller's PCM: is the pitch falling into the end (a statement
 * ending), or level / rising (more to come, or a question)? Computed once, when the VAD reports the end of
 * speech, over the last second of audio — never per frame.
 *
 * Pitch (F0) by normalised autocorrelation on 8 kHz samples (16 kHz input is averaged down by 2), 32 ms
 * windows every 10 ms, searched between 70 and 400 Hz; a window counts as voiced when its peak normalised
 * correlation is ≥ 0.6 and it is no more than 30 dB below the loudest window. Cost: ~96 lags × 8000 samples ≈
 * 0.8 M multiply-adds (see pitchTrack), well under a millisecond of one core per caller turn.
 */

const ANALYSIS_RATE = 8000;
const WINDOW = 256; // 32 ms at 8 kHz
const HOP = 80; // 10 ms
/** Products are summed in blocks this long; it divides HOP and WINDOW. */
const BLOCK = 16;
/** Lags whose products are summed in one pass over the samples (MIN_LAG..MAX_LAG is 96 lags: a multiple). */
const LAGS_AT_ONCE = 4;
const MIN_LAG = Math.floor(ANALYSIS_RATE / 400);
const MAX_LAG = Math.ceil(ANALYSIS_RATE / 70);
const VOICED_CORRELATION = 0.6;
const QUIET_DB = 30;
/** The final stretch whose pitch movement is measured. */
const FINAL_MS = 300;

export interface ProsodyFeatures {
  /** Voiced 10 ms windows found in the analysed audio. */
  voicedWindows: number;
  /**
   * Pitch movement over the last ~300 ms of voiced audio, in semitones (a line fitted to log F0, end minus
   * start). Falling into the end is negative. Null when too little was voiced to tell.
   */
  finalSlopeSt: number | null;
  /** The last voiced window's F0 against the median F0 of the analysed audio, semitones. Null as above. */
  finalVsMedianSt: number | null;
  /** Median F0 of the analysed audio, Hz (for logs and tests). */
  medianHz: number | null;
}

/** Prosody of `samples` (PCM16 at `sampleRate`: 8000 or 16000), which should end at the caller's last voiced audio. */
export function prosodyOf(samples: Int16Array, sampleRate: number): ProsodyFeatures {
  const x = toAnalysisRate(samples, sampleRate);
  const track = pitchTrack(x);
  const voiced = track.filter((p): p is { t: number; hz: number } => p.hz !== null);
  if (voiced.length < 5) return { voicedWindows: voiced.length, finalSlopeSt: null, finalVsMedianSt: null, medianHz: null };
  const semis = voiced.map((p) => ({ t: p.t, st: 12 * Math.log2(p.hz) }));
  const median = [...semis.map((s) => s.st)].sort((a, b) => a - b)[Math.floor(semis.length / 2)]!;
  const lastT = semis[semis.length - 1]!.t;
  const final = smoothOctaveJumps(semis.filter((s) => s.t >= lastT - FINAL_MS));
  const slope = final.length >= 4 ? fitSlope(final) * (final[final.length - 1]!.t - final[0]!.t) : null;
  // The end of the final stretch, as the fitted line puts it (one window's F0 is noisy).
  const endSt = final.length >= 4 ? lineAt(final, lastT) : final[final.length - 1]!.st;
  return { voicedWindows: voiced.length, finalSlopeSt: slope, finalVsMedianSt: foldOctave(endSt - median), medianHz: 2 ** (median / 12) };
}

function toAnalysisRate(samples: Int16Array, sampleRate: number): Float32Array {
  const step = Math.max(1, Math.round(sampleRate / ANALYSIS_RATE));
  const out = new Float32Array(Math.floor(samples.length / step));
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (let k = 0; k < step; k++) s += samples[i * step + k]!;
    out[i] = s / step;
  }
  return out;
}

/**
 * F0 per window (null = unvoiced or too quiet); t = the window's end, ms from the start of the audio.
 *
 * For each window and lag, r = Σ x[i]·x[i+lag] / √(Σ x[i]² · Σ x[i+lag]²) over the window's 256 samples; the
 * window's F0 comes from the first lag with the highest r. Windows overlap (hop 80 < 256), so the products are
 * not recomputed per window: per lag, the products are summed once in blocks of BLOCK samples (BLOCK divides both
 * HOP and WINDOW) and each window adds its 16 blocks; Σ x[i+lag]² comes from one running sum of x². The same
 * sums as before, added in another order: ~4× fewer operations (~0.8 M multiply-adds for a second of audio).
 */
function pitchTrack(x: Float32Array): { t: number; hz: number | null }[] {
  let windows = 0;
  while (windows * HOP + WINDOW + MAX_LAG <= x.length) windows++;
  if (windows === 0) return [];
  const energy = new Float64Array(windows);
  let loudest = 1;
  for (let w = 0; w < windows; w++) {
    let e = 0;
    for (let i = w * HOP; i < w * HOP + WINDOW; i++) e += x[i]! * x[i]!;
    energy[w] = e;
    if (e > loudest) loudest = e;
  }
  const floor = loudest / 10 ** (QUIET_DB / 10);
  // cumSq[k] = Σ x[i]² for i < k: the energy of the lagged stretch is a difference of two entries.
  const spanEnd = (windows - 1) * HOP + WINDOW + MAX_LAG;
  const cumSq = new Float64Array(spanEnd + 1);
  for (let k = 0; k < spanEnd; k++) cumSq[k + 1] = cumSq[k]! + x[k]! * x[k]!;
  const nBlocks = ((windows - 1) * HOP + WINDOW) / BLOCK;
  // Block sums of LAGS_AT_ONCE consecutive lags, side by side: one pass over x serves them all.
  const blocks = new Float64Array(nBlocks * LAGS_AT_ONCE);
  const best = new Float64Array(windows);
  const bestLag = new Int32Array(windows);
  for (let lag0 = MIN_LAG; lag0 <= MAX_LAG; lag0 += LAGS_AT_ONCE) {
    for (let b = 0, i = 0; b < nBlocks; b++) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (const end = i + BLOCK; i < end; i++) {
        const xi = x[i]!;
        s0 += xi * x[i + lag0]!;
        s1 += xi * x[i + lag0 + 1]!;
        s2 += xi * x[i + lag0 + 2]!;
        s3 += xi * x[i + lag0 + 3]!;
      }
      blocks[b] = s0;
      blocks[nBlocks + b] = s1;
      blocks[2 * nBlocks + b] = s2;
      blocks[3 * nBlocks + b] = s3;
    }
    // Lags in increasing order per window, so the first of equal peaks wins.
    for (let k = 0; k < LAGS_AT_ONCE && lag0 + k <= MAX_LAG; k++) {
      const lag = lag0 + k;
      const base = k * nBlocks;
      for (let w = 0; w < windows; w++) {
        const e = energy[w]!;
        if (e < floor) continue;
        const s = w * HOP;
        let xy = 0;
        for (let b = base + s / BLOCK, end = b + WINDOW / BLOCK; b < end; b++) xy += blocks[b]!;
        const yy = cumSq[s + lag + WINDOW]! - cumSq[s + lag]!;
        const r = xy / Math.sqrt(e * yy + 1e-9);
        if (r > best[w]!) {
          best[w] = r;
          bestLag[w] = lag;
        }
      }
    }
  }
  const track: { t: number; hz: number | null }[] = [];
  for (let w = 0; w < windows; w++) {
    const t = ((w * HOP + WINDOW) / ANALYSIS_RATE) * 1000;
    track.push({ t, hz: energy[w]! >= floor && best[w]! >= VOICED_CORRELATION ? ANALYSIS_RATE / bestLag[w]! : null });
  }
  return track;
}

/** Autocorrelation halves or doubles F0 now and then: fold a window more than 9 semitones off its neighbour back. */
function smoothOctaveJumps(xs: { t: number; st: number }[]): { t: number; st: number }[] {
  const out = xs.map((p) => ({ ...p }));
  for (let i = 1; i < out.length; i++) {
    const d = out[i]!.st - out[i - 1]!.st;
    if (d > 9) out[i]!.st -= 12;
    else if (d < -9) out[i]!.st += 12;
  }
  return out;
}

/** A difference of about an octave is the tracker's octave error, not intonation: fold it back. */
function foldOctave(d: number): number {
  if (d < -9) return d + 12;
  if (d > 9) return d - 12;
  return d;
}

/** Least-squares slope, semitones per ms. */
function fitSlope(xs: { t: number; st: number }[]): number {
  const n = xs.length;
  const mt = xs.reduce((a, p) => a + p.t, 0) / n;
  const ms = xs.reduce((a, p) => a + p.st, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of xs) {
    num += (p.t - mt) * (p.st - ms);
    den += (p.t - mt) ** 2;
  }
  return den ? num / den : 0;
}

function lineAt(xs: { t: number; st: number }[], t: number): number {
  const n = xs.length;
  const mt = xs.reduce((a, p) => a + p.t, 0) / n;
  const ms = xs.reduce((a, p) => a + p.st, 0) / n;
  return ms + fitSlope(xs) * (t - mt);
}

