/**
 * The embedded store scores a bot's matrix a slice of rows at a time, with a turn of the event loop between slices
 * (one search of a 150,000-chunk bot held the loop every tenant's calls share for 60–180 ms). The ranking must be
 * exactly what one full pass gives: the same rows, scores and order, ties included.
 */
import { describe, expect, it } from 'vitest';
import { bestRows, scoreRows, topK } from '../../src/knowledge/pg-vector-store.js';

let seed = 7;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);

const randomVector = (dim: number, density: number): Float32Array => {
  const v = Float32Array.from({ length: dim }, () => (rand() < density ? rand() * 2 - 1 : 0));
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
};

/** Blocks of these row counts (an empty one included); a few rows repeat others so that scores tie. */
function randomBlocks(sizes: number[], dim: number): { ids: string[]; matrix: Float32Array }[] {
  const rows: Float32Array[] = [];
  return sizes.map((n, b) => {
    const matrix = new Float32Array(n * dim);
    for (let r = 0; r < n; r++) {
      const row = rows.length > 10 && rand() < 0.1 ? rows[Math.floor(rand() * rows.length)]! : randomVector(dim, 0.6);
      rows.push(row);
      matrix.set(row, r * dim);
    }
    return { ids: Array.from({ length: n }, (_, r) => `${b}:${r}`), matrix };
  });
}

/** What a search did before slicing: every block scored into one array, then topK over it. */
function fullScoring(blocks: { ids: string[]; matrix: Float32Array }[], dim: number, vector: Float32Array, k: number) {
  const n = blocks.reduce((sum, b) => sum + b.ids.length, 0);
  const scores = new Float32Array(n);
  let offset = 0;
  for (const b of blocks) {
    scoreRows(b.matrix, b.ids.length, dim, vector, scores.subarray(offset));
    offset += b.ids.length;
  }
  const idx = topK(scores, n, k);
  return { idx, val: idx.map((i) => scores[i]!) };
}

describe('sliced scoring of the embedded store', () => {
  const dim = 48;
  const blocks = randomBlocks([700, 0, 1, 333, 2048, 19], dim);
  const total = 700 + 1 + 333 + 2048 + 19;

  it('ranks exactly as one full pass, for dense and sparse question vectors, whatever the slice size', async () => {
    for (const density of [1, 0.15]) {
      for (let q = 0; q < 5; q++) {
        const vector = randomVector(dim, density);
        for (const k of [1, 20, total]) {
          const want = fullScoring(blocks, dim, vector, k);
          for (const sliceRows of [1, 7, 256, 5000]) {
            const got = await bestRows(blocks, dim, vector, k, { sliceMultiplyAdds: sliceRows * dim });
            expect(got.idx).toEqual(want.idx);
            expect(got.val).toEqual(want.val);
          }
        }
      }
    }
  });

  it('gives the event loop turns between slices, and none to a matrix within one slice', async () => {
    const vector = randomVector(dim, 1);
    const turnsDuring = async (sliceRows: number) => {
      let turns = 0;
      let done = false;
      const tick = () => {
        if (done) return;
        turns++;
        setImmediate(tick);
      };
      const search = bestRows(blocks, dim, vector, 10, { sliceMultiplyAdds: sliceRows * dim });
      setImmediate(tick);
      await search;
      done = true;
      return turns;
    };
    // 3,101 rows in slices of 100: other callbacks run between the slices.
    expect(await turnsDuring(100)).toBeGreaterThanOrEqual(25);
    expect(await turnsDuring(total)).toBe(0);
  });

  it('stops between slices when the search is aborted', async () => {
    const ac = new AbortController();
    const search = bestRows(blocks, dim, randomVector(dim, 1), 10, { sliceMultiplyAdds: 10 * dim, signal: ac.signal });
    ac.abort();
    await expect(search).rejects.toThrow();
  });
});
