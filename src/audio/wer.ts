/** Word error rate: word-level Levenshtein distance over normalised words, divided by the reference length. */

/** Lower-case words without punctuation (apostrophes inside words kept). */
export function normalizeWords(text: string): string[] {
  return text
    .toLowerCase()
    .normalize('NFKC')
    .replace(/[^\p{L}\p{N}'\s]+/gu, ' ')
    .split(/\s+/)
    .map((w) => w.replace(/^'+|'+$/g, ''))
    .filter((w) => w.length > 0);
}

export interface WerResult {
  /** (substitutions + deletions + insertions) / reference words; 0 when both are empty, 1 per word otherwise. */
  wer: number;
  errors: number;
  referenceWords: number;
}

export function wordErrorRate(reference: string, hypothesis: string): WerResult {
  const ref = normalizeWords(reference);
  const hyp = normalizeWords(hypothesis);
  let prev = new Array<number>(hyp.length + 1);
  let curr = new Array<number>(hyp.length + 1);
  for (let j = 0; j <= hyp.length; j++) prev[j] = j;
  for (let i = 1; i <= ref.length; i++) {
    curr[0] = i;
    for (let j = 1; j <= hyp.length; j++) {
      const cost = ref[i - 1] === hyp[j - 1] ? 0 : 1;
      curr[j] = Math.min(prev[j]! + 1, curr[j - 1]! + 1, prev[j - 1]! + cost);
    }
    [prev, curr] = [curr, prev];
  }
  const errors = prev[hyp.length]!;
  const wer = ref.length === 0 ? (hyp.length === 0 ? 0 : hyp.length) : errors / ref.length;
  return { wer, errors, referenceWords: ref.length };
}
