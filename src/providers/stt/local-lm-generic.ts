/**
 * Reads the installed generic English model (Debian pocketsphinx-en-us, en-us.lm.bin) so a bot's language model
 * can be interpolated with everyday English (local-lm-arpa.ts): its most frequent words and the bigrams and
 * trigrams among them, pruned to the likely ones so the mixed model stays small enough to load per utterance.
 *
 * en-us.lm.bin is sphinxbase's binary trie (a port of KenLM's): "Trie Language Model", the order (1 byte), the
 * n-gram counts (uint32 each), the quantisation type (uint32; 1 = 16-bit) and its tables (per middle order a
 * probability and a back-off table, then the last order's probability table, 2^16 floats each), the unigrams
 * (count + 1 records: float log-prob, float back-off, uint32 index of the first child), then bit-packed arrays:
 * per middle order entries of [word id][back-off bin 16][prob bin 16][first child], and the last order's
 * [word id][prob bin 16]; last the words, NUL-terminated, in id order. The trie is keyed from the *last* word back:
 * the children of unigram w are the words h of the bigrams "h w", the children of that entry the words g of the
 * trigrams "g h w". Log-probabilities are in sphinx's log base 1.0001. Any other layout returns null, and the
 * caller builds without the generic model.
 */
import { readFileSync } from 'node:fs';

export const GENERIC_LM = '/usr/share/pocketsphinx/model/en-us/en-us.lm.bin';

const MAGIC = 'Trie Language Model';
/** sphinx log units → log10. */
const TO_LOG10 = Math.log10(1.0001);

export interface GenericModel {
  /** log10 p(w) and log10 back-off of w as a history. */
  unigrams: Map<string, { p: number; bo: number }>;
  /** "h w" → log10 p(w | h) and log10 back-off of "h w" as a history. */
  bigrams: Map<string, { p: number; bo: number }>;
  /** "g h w" → log10 p(w | g h). */
  trigrams: Map<string, number>;
}

export interface GenericReadOptions {
  /** Keep the `words` most frequent words (plus <s> and </s>). */
  words: number;
  /** Keep n-grams at least this likely (log10). Default -2 for bigrams and -1 for trigrams. */
  minBigramLog10?: number;
  minTrigramLog10?: number;
  /** Only these words are wanted (e.g. those the pronouncing dictionary has). */
  accept?: (word: string) => boolean;
}

const requiredBits = (max: number): number => (max === 0 ? 0 : Math.floor(Math.log2(max)) + 1);

export function readGenericModel(path: string, options: GenericReadOptions): GenericModel | null {
  let d: Buffer;
  try {
    d = readFileSync(path);
  } catch {
    return null;
  }
  if (d.length < 64 || d.toString('latin1', 0, MAGIC.length) !== MAGIC) return null;
  let off = MAGIC.length;
  const order = d.readUInt8(off);
  off += 1;
  if (order !== 3) return null;
  const [n1, n2, n3] = [d.readUInt32LE(off), d.readUInt32LE(off + 4), d.readUInt32LE(off + 8)] as [number, number, number];
  off += 12;
  if (d.readUInt32LE(off) !== 1) return null;
  off += 4;
  const table = (i: number): Float32Array => {
    const t = new Float32Array(65536);
    for (let k = 0; k < 65536; k++) t[k] = d.readFloatLE(off + (i * 65536 + k) * 4);
    return t;
  };
  const [prob2, bo2, prob3] = [table(0), table(1), table(2)];
  off += 3 * 65536 * 4;
  const uniOff = off;
  const uniProb = (i: number): number => d.readFloatLE(uniOff + i * 12);
  const uniBo = (i: number): number => d.readFloatLE(uniOff + i * 12 + 4);
  const uniNext = (i: number): number => d.readUInt32LE(uniOff + i * 12 + 8);
  off += (n1 + 1) * 12;
  const wordBits = requiredBits(n1);
  const nextBits = requiredBits(n3);
  const midBits = wordBits + 32 + nextBits;
  const longBits = wordBits + 16;
  const midOff = off;
  const longOff = midOff + Math.floor(((1 + n2) * midBits + 7) / 8) + 8;
  const longEnd = longOff + Math.floor(((1 + n3) * longBits + 7) / 8) + 8;
  if (longEnd > d.length) return null;
  const read = (base: number, bit: number, length: number): number => {
    const at = base + (bit >>> 3);
    // Up to 25 bits from a little-endian 32-bit read, as sphinxbase's bitarr_read_int25.
    const v = (d[at]! | (d[at + 1]! << 8) | (d[at + 2]! << 16) | (d[at + 3]! << 24)) >>> 0;
    return (v >>> (bit & 7)) & (length >= 32 ? 0xffffffff : (1 << length) - 1);
  };

  // The words: the last n1 NUL-terminated strings.
  const words: string[] = [];
  let end = d.length;
  while (end > 0 && d[end - 1] === 0) end--;
  while (words.length < n1 && end > longEnd) {
    const start = d.lastIndexOf(0, end - 1) + 1;
    words.push(d.toString('latin1', start, end));
    end = start - 1;
  }
  if (words.length !== n1) return null;
  words.reverse();

  const accept = options.accept ?? (() => true);
  const ranked = Array.from({ length: n1 }, (_, i) => i).filter((i) => accept(words[i]!) || words[i] === '<s>' || words[i] === '</s>');
  ranked.sort((a, b) => uniProb(b) - uniProb(a));
  const kept = new Set(ranked.slice(0, options.words));
  for (const special of ['<s>', '</s>']) {
    const i = words.indexOf(special);
    if (i >= 0) kept.add(i);
  }
  const minBi = (options.minBigramLog10 ?? -2) / TO_LOG10;
  const minTri = (options.minTrigramLog10 ?? -1) / TO_LOG10;
  const model: GenericModel = { unigrams: new Map(), bigrams: new Map(), trigrams: new Map() };
  for (const w of kept) {
    model.unigrams.set(words[w]!, { p: uniProb(w) * TO_LOG10, bo: uniBo(w) * TO_LOG10 });
    for (let j = uniNext(w); j < uniNext(w + 1); j++) {
      const bit = j * midBits;
      const h = read(midOff, bit, wordBits);
      if (!kept.has(h)) continue;
      const p = prob2[read(midOff, bit + wordBits + 16, 16)]!;
      const bo = bo2[read(midOff, bit + wordBits, 16)]!;
      const from = read(midOff, bit + wordBits + 32, nextBits);
      const to = read(midOff, bit + midBits + wordBits + 32, nextBits);
      let hasChildren = false;
      for (let k = from; k < to; k++) {
        const g = read(longOff, k * longBits, wordBits);
        if (!kept.has(g)) continue;
        const pt = prob3[read(longOff, k * longBits + wordBits, 16)]!;
        if (pt < minTri) continue;
        model.trigrams.set(`${words[g]} ${words[h]} ${words[w]}`, pt * TO_LOG10);
        hasChildren = true;
      }
      // A bigram stays when it is likely, or when a kept trigram needs it as its history's lower order.
      if (p >= minBi || hasChildren) model.bigrams.set(`${words[h]} ${words[w]}`, { p: p * TO_LOG10, bo: bo * TO_LOG10 });
    }
  }
  // Every kept trigram's history must itself be a bigram (ARPA requires it).
  for (const k of model.trigrams.keys()) {
    const history = k.slice(0, k.lastIndexOf(' '));
    if (!model.bigrams.has(history)) model.trigrams.delete(k);
  }
  return model;
}
