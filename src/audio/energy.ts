/** Signal level measures on PCM16 samples. Full scale = 32768. */

/** Root-mean-square level in [0, 1] (1 = full-scale square wave). 0 for an empty input. */
export function rms(samples: Int16Array): number {
  const n = samples.length;
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = samples[i]!;
    sum += v * v;
  }
  return Math.sqrt(sum / n) / 32768;
}

/** RMS level in dBFS; -Infinity for digital silence. */
export function rmsDbfs(samples: Int16Array): number {
  return 20 * Math.log10(rms(samples));
}

/** Mean energy (mean of squared normalised samples). */
export function energy(samples: Int16Array): number {
  const r = rms(samples);
  return r * r;
}
