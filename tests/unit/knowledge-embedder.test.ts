import { describe, expect, it } from 'vitest';
import { scoreRows, topK } from '../../src/knowledge/pg-vector-store.js';
import { detectDocumentKind } from '../../src/knowledge/detect-type.js';
import { storedFilename } from '../../src/knowledge/documents.js';
import { LocalEmbedder, tokenize } from '../../src/providers/embeddings/local.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('LocalEmbedder', () => {
  const e = new LocalEmbedder();

  it('is deterministic, L2-normalised and of the configured size', async () => {
    const [a, b] = await e.embed(['Teeth whitening costs $350', 'Teeth whitening costs $350']);
    expect(a).toHaveLength(384);
    expect(Array.from(a!)).toEqual(Array.from(b!));
    expect(dot(a!, a!)).toBeCloseTo(1, 5);
    expect((await new LocalEmbedder({ dimensions: 64 }).embed(['x y z']))[0]).toHaveLength(64);
  });

  it('scores lexical overlap, inflections and typos above unrelated text', async () => {
    const [q, same, inflected, typo, other] = await e.embed([
      'доставка цветов',
      'доставка цветов по городу',
      'доставку цветы',
      'delivery of flowers',
      'ремонт автомобилей',
    ]);
    expect(dot(q!, same!)).toBeGreaterThan(dot(q!, other!) + 0.3);
    expect(dot(q!, inflected!)).toBeGreaterThan(dot(q!, other!) + 0.2);
    const [w, wTypo, unrelated] = await e.embed(['appointment cancellation', 'apointment cancelation', 'parking garage']);
    expect(dot(w!, wTypo!)).toBeGreaterThan(dot(w!, unrelated!) + 0.2);
    expect(dot(q!, typo!)).toBeLessThan(0.2); // no cross-language semantics: documented weakness
  });

  it('tokenizes Cyrillic, folds ё and case', () => {
    expect(tokenize('Ёлка, ЁЖ и Hello-World 42')).toEqual(['елка', 'еж', 'и', 'hello', 'world', '42']);
  });

  it('stops on abort', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(e.embed(['a'], ac.signal)).rejects.toThrow();
  });
});

describe('topK', () => {
  it('returns indices of the largest scores, best first', () => {
    const s = Float32Array.from([0.1, 0.9, 0.3, 0.95, -1, 0.5]);
    expect(topK(s, s.length, 3)).toEqual([3, 1, 5]);
    expect(topK(s, s.length, 10)).toEqual([3, 1, 5, 2, 0, 4]);
    expect(topK(s, 2, 1)).toEqual([1]);
  });
});

describe('detectDocumentKind', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  it('judges text formats by UTF-8 validity and the extension', async () => {
    expect(await detectDocumentKind(enc('# Hi'), 'a.MD')).toEqual({ kind: 'md', contentType: 'text/markdown' });
    expect(await detectDocumentKind(enc('a,b\n1,2'), 'x.csv')).toMatchObject({ kind: 'csv' });
    expect(await detectDocumentKind(enc('Привет'), 'readme')).toMatchObject({ kind: 'txt' });
    expect(await detectDocumentKind(enc('# Hi'), 'faq.md ')).toMatchObject({ kind: 'md' });
    await expect(detectDocumentKind(Uint8Array.from([0xc3, 0x28]), 'bad.txt')).rejects.toMatchObject({ status: 415 });
    await expect(detectDocumentKind(new Uint8Array(0), 'e.txt')).rejects.toMatchObject({ status: 400 });
  });
  it('takes text that merely begins like a binary signature for the text it is', async () => {
    // file-type reads "BM" as a bitmap, "MAC" as Monkey's Audio, "ID3" as MP3, "MZ" as an executable, "<?xml" as XML.
    const heads = ['BMW service centre FAQ\nOpening hours: 9 to 5.', 'BMI,category\n18.5,normal', 'MAC address FAQ', 'ID3 tags explained', 'MZ Motors price list', '<?xml version="1.0"?><faq/>'];
    for (const [i, text] of heads.entries()) {
      const name = ['faq.txt', 'bmi.csv', 'mac.txt', 'id3.md', 'mz.txt', 'faq.txt'][i]!;
      expect((await detectDocumentKind(enc(text), name)).kind, text).toBe(name.split('.').pop());
    }
    // A real binary behind a text name is still refused by what it is.
    const bmp = Uint8Array.from([0x42, 0x4d, 0x3a, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0x28, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0x18, 0, 0, 0, 0, 0, 4, 0, 0, 0]);
    await expect(detectDocumentKind(bmp, 'image.txt')).rejects.toMatchObject({ status: 415 });
  });
  it('trusts the bytes over the name for PDF', async () => {
    expect(await detectDocumentKind(enc('%PDF-1.4\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n'), 'notes.txt')).toMatchObject({ kind: 'pdf' });
  });
});

describe('scoreRows', () => {
  it('gives the same scores on the sparse and the dense path', () => {
    const dim = 8;
    const matrix = Float32Array.from({ length: 3 * dim }, (_, i) => ((i * 7) % 5) - 2);
    const sparse = Float32Array.from([0, 0.5, 0, 0, 0, -1, 0, 0]);
    const dense = Float32Array.from([1, 0.5, 2, -1, 0.25, -1, 3, 1]);
    for (const v of [sparse, dense]) {
      const got = new Float32Array(3);
      scoreRows(matrix, 3, dim, v, got);
      const want = [0, 1, 2].map((r) => v.reduce((s, x, j) => s + x * matrix[r * dim + j]!, 0));
      expect(Array.from(got)).toEqual(want.map((w) => Math.fround(w)));
    }
  });
});

describe('storedFilename', () => {
  it('shortens a long name to 255 UTF-16 units, keeping its extension and never halving a character', () => {
    const long = `${'a'.repeat(300)}.md`;
    expect(storedFilename(long)).toHaveLength(255);
    expect(storedFilename(long).endsWith('.md')).toBe(true);
    const emoji = `${'😀'.repeat(200)}.txt`; // each one two UTF-16 units
    const kept = storedFilename(emoji);
    expect(kept.length).toBeLessThanOrEqual(255);
    expect(kept.endsWith('.txt')).toBe(true);
    expect(kept.slice(0, -4)).toBe('😀'.repeat((kept.length - 4) / 2));
    expect(storedFilename('faq.md')).toBe('faq.md');
    expect(storedFilename('')).toBe('document');
  });
});
