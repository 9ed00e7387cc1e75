import { describe, expect, it } from 'vitest';
import { AsyncQueue } from '../../src/util/async-queue.js';

async function drain<T>(q: AsyncQueue<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of q) out.push(x);
  return out;
}

describe('AsyncQueue (the one push-meets-pull queue)', () => {
  it('delivers pushed items in order, to a waiting consumer too, then ends on close', async () => {
    const q = new AsyncQueue<number>();
    const got = drain(q);
    q.push(1);
    q.push(2);
    await Promise.resolve();
    q.push(3);
    q.close();
    q.push(4); // after close: ignored
    expect(await got).toEqual([1, 2, 3]);
  });

  it('with merge, a burst queued behind a busy consumer arrives as one item, in order; a waiting consumer gets each push at once', async () => {
    const merged: number[][] = [];
    const q = new AsyncQueue<number[]>((items) => {
      merged.push(items.map((x) => x.length));
      return items.flat();
    });
    const waiting = q.next();
    q.push([1]);
    // Delivered alone, before anything else is pushed: nothing waits for a merge.
    expect(await waiting).toEqual({ value: [1], done: false });
    q.push([2, 3]);
    q.push([4]);
    q.push([5, 6]);
    expect(await q.next()).toEqual({ value: [2, 3, 4, 5, 6], done: false });
    expect(merged).toEqual([[2, 1, 2]]);
    q.push([7]);
    q.close();
    expect(await drain(q)).toEqual([[7]]);
    expect(merged).toHaveLength(1);
  });

  it('throws a failure after the queued items, once', async () => {
    const q = new AsyncQueue<string>();
    q.push('a');
    q.fail(new Error('socket lost'));
    const seen: string[] = [];
    await expect((async () => { for await (const x of q) seen.push(x); })()).rejects.toThrow('socket lost');
    expect(seen).toEqual(['a']);
    expect(await q.next()).toEqual({ value: undefined, done: true });
  });

  it('wakes a waiting consumer with the failure', async () => {
    const q = new AsyncQueue<string>();
    const waiting = q.next();
    q.fail(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
  });

  it('abort drops what is queued; a consumer that stops iterating aborts it', async () => {
    const q = new AsyncQueue<number>();
    for (let i = 0; i < 5; i++) q.push(i);
    expect(q.size).toBe(5);
    q.abort();
    expect(await drain(q)).toEqual([]);

    const r = new AsyncQueue<number>();
    r.push(1);
    r.push(2);
    for await (const x of r) if (x === 1) break;
    expect(r.isClosed).toBe(true);
    expect(r.size).toBe(0);
  });
});
