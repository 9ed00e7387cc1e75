/**
 * The local recognizer's per-bot language model: the ARPA estimator is a proper distribution, the builder keeps
 * only words the dictionary can pronounce, the installed generic model's unigrams are read, and the cache builds
 * once per set of terms.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { estimateArpa } from '../../src/providers/stt/local-lm-arpa.js';
import { buildLanguageModel, tokenize } from '../../src/providers/stt/local-lm-build.js';
import { GENERIC_LM, readGenericModel, type GenericModel } from '../../src/providers/stt/local-lm-generic.js';
import { LanguageModelCache } from '../../src/providers/stt/local-lm.js';
import type { BuildRequest, BuiltModel } from '../../src/providers/stt/local-lm-build.js';

/** Reads an ARPA text and gives p(w | history) with back-off, as a decoder would. */
function arpaModel(arpa: string): { vocab: string[]; p: (history: string[], w: string) => number } {
  const prob = new Map<string, number>();
  const bow = new Map<string, number>();
  let order = 0;
  for (const line of arpa.split('\n')) {
    const m = /^\\(\d)-grams:$/.exec(line);
    if (m) {
      order = Number(m[1]);
      continue;
    }
    if (!order || !line.trim() || line.startsWith('\\')) continue;
    const parts = line.split(' ');
    const gram = parts.slice(1, 1 + order).join(' ');
    prob.set(gram, 10 ** Number(parts[0]));
    if (parts.length > 1 + order) bow.set(gram, 10 ** Number(parts[1 + order]));
  }
  const vocab = [...prob.keys()].filter((k) => !k.includes(' ') && k !== '<s>');
  const p = (history: string[], w: string): number => {
    if (history.length === 0) return prob.get(w) ?? 0;
    const k = [...history, w].join(' ');
    if (prob.has(k)) return prob.get(k)!;
    return (bow.get(history.join(' ')) ?? 1) * p(history.slice(1), w);
  };
  return { vocab, p };
}

const sentences = ['i want a haircut tomorrow', 'i want a coloring', 'can i book a haircut', 'my name is anna', 'tomorrow at three'].map((s) => s.split(' '));

describe('ARPA estimation', () => {
  it('gives every history a distribution that sums to one, with and without a background', () => {
    const general: GenericModel = {
      unigrams: new Map([['<s>', { p: -99, bo: -0.3 }], ['</s>', { p: -1 }], ['the', { p: -1.3 }], ['hello', { p: -2, bo: -0.2 }], ['i', { p: -1.5, bo: -0.4 }], ['want', { p: -2.5, bo: -0.1 }]]
        .map(([w, v]) => [w as string, { bo: 0, ...(v as { p: number; bo?: number }) }])),
      bigrams: new Map([['<s> hello', { p: -0.8, bo: -0.2 }], ['<s> i', { p: -0.6, bo: -0.1 }], ['i want', { p: -0.5, bo: -0.3 }], ['want the', { p: -0.7, bo: 0 }]]),
      trigrams: new Map([['<s> i want', -0.2], ['i want the', -0.4]]),
    };
    for (const background of [undefined, { model: general, weight: 0.3 }]) {
      const { arpa, counts } = estimateArpa(sentences, [], background);
      expect(counts.trigrams).toBeGreaterThan(0);
      const { vocab, p } = arpaModel(arpa);
      for (const history of [[], ['<s>'], ['i'], ['<s>', 'i'], ['i', 'want'], ['a'], ['want', 'a'], ['hello'], ['want', 'the']]) {
        const total = vocab.reduce((sum, w) => sum + p(history, w), 0);
        expect(total).toBeCloseTo(1, 3);
      }
      // Seen continuations beat unseen ones.
      expect(p(['i', 'want'], 'a')).toBeGreaterThan(p(['i', 'want'], 'tomorrow'));
      if (background) expect(vocab).toContain('hello');
    }
  });
});

describe('building a bot model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-lm-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps only words the dictionary pronounces, lists the rest, and writes both files', () => {
    const dictionary = join(dir, 'mini.dict');
    // Every word of the corpus would be needed for a real model; a small dictionary shows the filtering.
    writeFileSync(dictionary, ['i AY', 'want W AA N T', 'a AH', 'haircut HH EH R K AH T', 'balayage B AA L AH Y AA ZH', 'tomorrow T AH M AA R OW', 'yes Y EH S', 'yes(2) Y AE S'].join('\n'));
    const built = buildLanguageModel({ terms: ['Haircut', 'Zumba class'], dictionary, dir, key: 'k1', genericWords: 0 });
    expect(built.unknown.sort()).toEqual(['class', 'zumba']);
    const dict = readFileSync(built.dict, 'utf8');
    expect(dict).toContain('haircut HH EH R K AH T');
    expect(dict).toContain('yes(2) Y AE S');
    expect(dict).not.toContain('balayage');
    const { vocab } = arpaModel(readFileSync(built.lm, 'utf8'));
    expect(vocab.filter((w) => w !== '</s>').sort()).toEqual(['a', 'haircut', 'i', 'tomorrow', 'want', 'yes']);
  });

  it('tokenizes as the recognizer writes: lower case, digits spelt, apostrophes kept', () => {
    expect(tokenize("Mike's TV & 2 shelves!")).toEqual(["mike's", 'tv', 'and', 'two', 'shelves']);
  });
});

describe('the installed generic model', () => {
  it('reads its most frequent words and the likely n-grams among them', () => {
    const model = readGenericModel(GENERIC_LM, { words: 2000 })!;
    expect(model.unigrams.size).toBeGreaterThanOrEqual(2000);
    expect(model.unigrams.size).toBeLessThanOrEqual(2002); // plus <s> and </s>
    expect(model.unigrams.has('the')).toBe(true);
    const total = [...model.unigrams.values()].reduce((a, b) => a + 10 ** b.p, 0);
    expect(total).toBeGreaterThan(0.3);
    expect(total).toBeLessThan(1);
    // Everyday English: "thank you", "i want to".
    expect(model.bigrams.get('thank you')!.p).toBeGreaterThan(-0.5);
    expect(model.trigrams.get('i want to')).toBeGreaterThan(-0.5);
    for (const k of model.trigrams.keys()) expect(model.bigrams.has(k.slice(0, k.lastIndexOf(' ')))).toBe(true);
  });

  it('returns null for a file in another format', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-lm-test-'));
    writeFileSync(join(dir, 'x.bin'), 'not a language model');
    expect(readGenericModel(join(dir, 'x.bin'), { words: 10 })).toBeNull();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('the model cache', () => {
  it('builds once per set of terms (order and case do not matter) and retries after a failure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-lm-cache-'));
    const builds: BuildRequest[] = [];
    let fail = true;
    const cache = new LanguageModelCache({
      dir,
      build: async (req): Promise<BuiltModel> => {
        builds.push(req);
        if (req.terms.includes('Broken') && fail) {
          fail = false;
          throw new Error('disk full');
        }
        const lm = join(req.dir, `${req.key}.lm`);
        const dict = join(req.dir, `${req.key}.dict`);
        writeFileSync(lm, '');
        writeFileSync(dict, '');
        return { lm, dict, words: 0, unknown: [] };
      },
    });
    const [a, b] = await Promise.all([cache.argsFor(['Haircut', 'Coloring']), cache.argsFor(['coloring', 'HAIRCUT'])]);
    expect(a).toEqual(b);
    expect(a[0]).toBe('-lm');
    expect(builds).toHaveLength(1);
    // A new cache (a restarted server) finds the files on disk.
    const again = new LanguageModelCache({ dir, build: async () => { throw new Error('not expected'); } });
    expect(await again.argsFor(['Haircut', 'Coloring'])).toEqual(a);

    await expect(cache.argsFor(['Broken'])).rejects.toThrow('disk full');
    expect((await cache.argsFor(['Broken']))[0]).toBe('-lm');
    rmSync(dir, { recursive: true, force: true });
  });
});
