/**
 * The embedded store's first read of a bot copies its vectors into the in-memory matrix a slice of rows at a time,
 * with a turn of the event loop between slices: built in one go after the last page, a 50,000-chunk bot's matrix
 * held the loop every tenant's calls share for 60–100 ms (120–210 ms for the whole read, bench:knowledge
 * --event-loop). Here the database answers at once (no I/O to yield on), so only the build itself can let a timer
 * run while the matrix is loaded; and the matrix must hold every row where it was.
 */
import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/sql.js';
import { PgVectorStore } from '../../src/knowledge/pg-vector-store.js';

const DIM = 64;
const ROWS = 50;
const idOf = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
/** Row i: the unit vector along dimension i. */
const oneHot = (i: number) => Float32Array.from({ length: DIM }, (_, j) => (j === i ? 1 : 0));

/** A database of one bot with one ready document of ROWS vectors, answering every query without waiting. */
const instantDb = (): Db => {
  const fake = (strings: TemplateStringsArray, ...values: unknown[]) => {
    const text = strings.join('?');
    if (text.includes('knowledge_index_versions')) return Promise.resolve([{ version: '1' }]);
    if (text.includes('updated_at::text as stamp')) return Promise.resolve([{ id: 'doc', stamp: 's1' }]);
    if (text.includes('id, embedding from')) {
      const ids = values[0] as string[];
      return Promise.resolve(ids.map((id) => ({ id, embedding: Buffer.from(oneHot(Number(id.slice(-12))).buffer) })));
    }
    if (text.includes('document_id from')) return Promise.resolve(Array.from({ length: ROWS }, (_, i) => ({ id: idOf(i), document_id: 'doc' })));
    throw new Error(`unexpected query: ${text}`);
  };
  return fake as unknown as Db;
};

describe('embedded vector store: the first load of a bot yields while it builds the matrix', () => {
  it('lets a timer run between slices of the copy, and keeps every row in place', async () => {
    const store = new PgVectorStore({ sql: instantDb(), dimensions: DIM, loadPageRows: 1_000, loadSliceRows: 10 });
    let loading = true;
    let turns = 0;
    const tick = () => {
      if (!loading) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    await store.prepare({ companyId: 'company', botId: 'bot' });
    loading = false;
    // One page of 50 rows in slices of 10: four turns of the loop between them (none when built in one go).
    expect(turns).toBeGreaterThanOrEqual(ROWS / 10 - 1);
    for (const i of [0, 7, 10, 31, ROWS - 1]) {
      const [best] = await store.query(oneHot(i), { companyId: 'company', botId: 'bot', limit: 1, idsOnly: true });
      expect(best).toEqual({ id: idOf(i), score: 1 });
    }
    expect(store.vectorsRead).toBe(ROWS);
  });
});
