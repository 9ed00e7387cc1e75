/**
 * A back-off trigram language model estimated from sentences, optionally interpolated with a general English
 * model, written in the ARPA text format pocketsphinx reads with `-lm`.
 *
 * The corpus model: absolute discounting (D = 0.5 at every order); a seen n-gram keeps (count − D) / count(history),
 * the freed mass goes to the next lower order through the history's back-off weight, and unigrams are discounted
 * towards a uniform floor over the vocabulary, so a word seen once (a surname in a list) is reachable anywhere.
 *
 * With a background (the installed generic model, local-lm-generic.ts): linear interpolation,
 * p(w | h) = λ·p_general(w | h) + (1 − λ)·p_corpus(w | h), each side with its own back-off, listed for every n-gram
 * either model lists; the back-off weights of the mix are then recomputed so every distribution sums to one.
 *
 * Pure and synchronous: callers run it off the call path (local-lm-worker.ts).
 */
import type { GenericModel } from './local-lm-generic.js';

const D = 0.5;
const BOS = '<s>';
const EOS = '</s>';
const TINY = 1e-9;

export interface ArpaModel {
  arpa: string;
  /** Words of the model (without <s> and </s>). */
  vocabulary: string[];
  counts: { unigrams: number; bigrams: number; trigrams: number };
}

export interface Background {
  model: GenericModel;
  /** λ, the weight of the general model in the mix, 0..1. */
  weight: number;
}

type Counts = Map<string, number>;

const log10 = (p: number): string => (p <= 0 ? '-99' : Math.log10(p).toFixed(4));
const historyOf = (k: string): string => k.slice(0, k.lastIndexOf(' '));
const lastOf = (k: string): string => k.slice(k.lastIndexOf(' ') + 1);
const tailOf = (k: string): string => k.slice(k.indexOf(' ') + 1);

/** Counts n-grams of orders 1..3 over sentences of words (already tokenised, known to the dictionary). */
function countNgrams(sentences: string[][], weights: number[]): [Counts, Counts, Counts] {
  const orders: [Counts, Counts, Counts] = [new Map(), new Map(), new Map()];
  sentences.forEach((words, i) => {
    const w = weights[i] ?? 1;
    const seq = [BOS, ...words, EOS];
    for (let n = 1; n <= 3; n++) {
      for (let j = 0; j + n <= seq.length; j++) {
        if (n === 1 && seq[j] === BOS) continue;
        const k = seq.slice(j, j + n).join(' ');
        const counts = orders[n - 1]!;
        counts.set(k, (counts.get(k) ?? 0) + w);
      }
    }
  });
  return orders;
}

/** A back-off model as functions: p1(w), p2(w | h), p3(w | g h), and which n-grams it lists. */
interface Backoff {
  p1(w: string): number;
  p2(h: string, w: string): number;
  p3(g: string, h: string, w: string): number;
  bigrams: Iterable<string>;
  trigrams: Iterable<string>;
}

function corpusModel(sentences: string[][], weights: number[]): Backoff & { words: Iterable<string> } {
  const [uni, bi, tri] = countNgrams(sentences, weights);
  const total = [...uni.values()].reduce((a, b) => a + b, 0);
  const floor = (uni.size * D) / total / uni.size;
  const p1 = (w: string): number => {
    const c = uni.get(w);
    return c === undefined ? 0 : (c - D) / total + floor;
  };
  const histories = (grams: Counts): Counts => {
    const out: Counts = new Map();
    for (const [k, c] of grams) out.set(historyOf(k), (out.get(historyOf(k)) ?? 0) + c);
    return out;
  };
  const biHist = histories(bi);
  const triHist = histories(tri);
  const seen2 = (k: string): number | undefined => {
    const c = bi.get(k);
    return c === undefined ? undefined : (c - D) / biHist.get(historyOf(k))!;
  };
  const seen3 = (k: string): number | undefined => {
    const c = tri.get(k);
    return c === undefined ? undefined : (c - D) / triHist.get(historyOf(k))!;
  };
  // Back-off weights: the freed mass over what the lower order gives the unseen words.
  const bo1 = new Map<string, number>();
  const bo2 = new Map<string, number>();
  const successors = (grams: Counts): Map<string, string[]> => {
    const out = new Map<string, string[]>();
    for (const k of grams.keys()) {
      const list = out.get(historyOf(k));
      if (list) list.push(lastOf(k));
      else out.set(historyOf(k), [lastOf(k)]);
    }
    return out;
  };
  for (const [h, ws] of successors(bi)) {
    let seen = 0;
    let lower = 0;
    for (const w of ws) {
      seen += seen2(`${h} ${w}`)!;
      lower += p1(w);
    }
    bo1.set(h, Math.max(TINY, 1 - seen) / Math.max(TINY, 1 - lower));
  }
  const p2 = (h: string, w: string): number => seen2(`${h} ${w}`) ?? (bo1.get(h) ?? 1) * p1(w);
  for (const [gh, ws] of successors(tri)) {
    const h = tailOf(gh);
    let seen = 0;
    let lower = 0;
    for (const w of ws) {
      seen += seen3(`${gh} ${w}`)!;
      lower += p2(h, w);
    }
    bo2.set(gh, Math.max(TINY, 1 - seen) / Math.max(TINY, 1 - lower));
  }
  const p3 = (g: string, h: string, w: string): number => seen3(`${g} ${h} ${w}`) ?? (bo2.get(`${g} ${h}`) ?? 1) * p2(h, w);
  return { p1, p2, p3, bigrams: bi.keys(), trigrams: tri.keys(), words: uni.keys() };
}

function generalModel(model: GenericModel): Backoff {
  let z = 0;
  for (const [w, { p }] of model.unigrams) if (w !== BOS) z += 10 ** p;
  const p1 = (w: string): number => {
    const u = model.unigrams.get(w);
    return u && w !== BOS ? 10 ** u.p / z : 0;
  };
  const p2 = (h: string, w: string): number => {
    const b = model.bigrams.get(`${h} ${w}`);
    return b ? 10 ** b.p : 10 ** (model.unigrams.get(h)?.bo ?? 0) * p1(w);
  };
  const p3 = (g: string, h: string, w: string): number => {
    const t = model.trigrams.get(`${g} ${h} ${w}`);
    return t !== undefined ? 10 ** t : 10 ** (model.bigrams.get(`${g} ${h}`)?.bo ?? 0) * p2(h, w);
  };
  return { p1, p2, p3, bigrams: model.bigrams.keys(), trigrams: model.trigrams.keys() };
}

/**
 * Estimates the model. `weights` (default 1 each) repeat a sentence, e.g. the bot's own terms over the general
 * phrasings; `background` interpolates the general model.
 */
export function estimateArpa(sentences: string[][], weights: number[] = [], background?: Background): ArpaModel {
  const corpus = corpusModel(sentences, weights);
  const general = background && background.model.unigrams.size ? generalModel(background.model) : null;
  const lambda = general ? Math.min(1, Math.max(0, background!.weight)) : 0;
  const mix = (a: number, b: number): number => (1 - lambda) * a + lambda * b;

  // Unigrams.
  const vocab = new Set<string>(corpus.words);
  if (general) for (const w of background!.model.unigrams.keys()) if (w !== BOS) vocab.add(w);
  const p1 = new Map<string, number>();
  for (const w of vocab) p1.set(w, mix(corpus.p1(w), general?.p1(w) ?? 0));

  // Bigrams: every pair either model lists, whose words are both in the vocabulary (or <s> as history).
  const inVocab = (w: string): boolean => w === BOS || vocab.has(w);
  const bigramKeys = new Set<string>(corpus.bigrams);
  if (general) for (const k of general.bigrams) if (k.split(' ').every(inVocab)) bigramKeys.add(k);
  const p2 = new Map<string, number>();
  for (const k of bigramKeys) {
    const [h, w] = k.split(' ') as [string, string];
    p2.set(k, mix(corpus.p2(h, w), general?.p2(h, w) ?? 0));
  }
  const bo1 = backoffs(p2, (_h, w) => p1.get(w) ?? 0);
  const p2Full = (h: string, w: string): number => p2.get(`${h} ${w}`) ?? (bo1.get(h) ?? 1) * (p1.get(w) ?? 0);

  // Trigrams: the same, where the history is a listed bigram.
  const trigramKeys = new Set<string>(corpus.trigrams);
  if (general) for (const k of general.trigrams) if (bigramKeys.has(historyOf(k)) && k.split(' ').every(inVocab)) trigramKeys.add(k);
  const p3 = new Map<string, number>();
  for (const k of trigramKeys) {
    const [g, h, w] = k.split(' ') as [string, string, string];
    p3.set(k, mix(corpus.p3(g, h, w), general?.p3(g, h, w) ?? 0));
  }
  const bo2 = backoffs(p3, (gh, w) => p2Full(tailOf(gh), w));

  const lines: string[] = ['\\data\\', `ngram 1=${p1.size + 1}`, `ngram 2=${p2.size}`, `ngram 3=${p3.size}`, '', '\\1-grams:'];
  lines.push(`-99 ${BOS} ${log10(bo1.get(BOS) ?? 1)}`);
  for (const w of [...p1.keys()].sort()) {
    const bo = bo1.get(w);
    lines.push(`${log10(p1.get(w)!)} ${w}${bo !== undefined ? ` ${log10(bo)}` : ''}`);
  }
  lines.push('', '\\2-grams:');
  for (const k of [...p2.keys()].sort()) {
    const bo = bo2.get(k);
    lines.push(`${log10(p2.get(k)!)} ${k}${bo !== undefined ? ` ${log10(bo)}` : ''}`);
  }
  lines.push('', '\\3-grams:');
  for (const k of [...p3.keys()].sort()) lines.push(`${log10(p3.get(k)!)} ${k}`);
  lines.push('', '\\end\\', '');
  return { arpa: lines.join("\n"), vocabulary: [...p1.keys()].filter((w) => w !== EOS).sort(), counts: { unigrams: p1.size + 1, bigrams: p2.size, trigrams: p3.size } };
}

/** Back-off weight of each history: (1 − Σ listed p(w | h)) / (1 − Σ listed p_lower(w)), so the whole sums to one. */
function backoffs(listed: Map<string, number>, lower: (history: string, w: string) => number): Map<string, number> {
  const sums = new Map<string, { seen: number; lower: number }>();
  for (const [k, p] of listed) {
    const h = historyOf(k);
    const s = sums.get(h) ?? { seen: 0, lower: 0 };
    s.seen += p;
    s.lower += lower(h, lastOf(k));
    sums.set(h, s);
  }
  const out = new Map<string, number>();
  for (const [h, s] of sums) out.set(h, Math.max(TINY, 1 - s.seen) / Math.max(TINY, 1 - s.lower));
  return out;
}
