/**
 * The push-meets-pull point of every stream in the server: producers push, one consumer pulls with
 * `for await`. It ends normally (close: the consumer drains what is queued, then stops), with an error (fail:
 * thrown to the consumer after the queued items), or at once (abort: queued items dropped — a barge-in must
 * not play anything more). A consumer that stops iterating aborts it.
 *
 * With `merge`, a consumer that falls behind gets everything queued as one item: a TTS vendor sends a phrase's
 * audio in a burst of small chunks, and each item costs every layer above it (the phrase cache, playback's
 * slicing) a promise and an iteration. Nothing waits for a merge: an item pushed to a waiting consumer goes
 * alone, at once.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  constructor(private readonly merge?: (items: T[]) => T) {}

  private items: T[] = [];
  /** Index of the next item: shifting an array per item would copy it (audio queues see 50 items a second). */
  private head = 0;
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void } | null = null;
  private ended = false;
  private error: Error | null = null;

  get isClosed(): boolean {
    return this.ended;
  }

  /** Items queued and not yet pulled. */
  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    if (this.ended) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: item, done: false });
    } else this.items.push(item);
  }

  /** No more items; the consumer drains what is queued, then ends. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.wake();
  }

  /** Ends with `error`, thrown to the consumer once the queued items are drained. */
  fail(error: Error): void {
    if (this.ended) return;
    this.error = error;
    this.ended = true;
    this.wake();
  }

  /** Ends now, dropping queued items (cancellation). */
  abort(): void {
    this.items = [];
    this.head = 0;
    this.error = null;
    this.ended = true;
    this.wake();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.head < this.items.length) {
      if (this.merge && this.items.length - this.head > 1) {
        const value = this.merge(this.head === 0 ? this.items : this.items.slice(this.head));
        this.items = [];
        this.head = 0;
        return Promise.resolve({ value, done: false });
      }
      const value = this.items[this.head++] as T;
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) {
      if (this.error) {
        const error = this.error;
        this.error = null;
        return Promise.reject(error);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: () => {
        this.abort();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /** A waiting consumer only exists while the queue is empty: wake it with the end or the error. */
  private wake(): void {
    const w = this.waiter;
    if (!w) return;
    this.waiter = null;
    if (this.error) {
      const error = this.error;
      this.error = null;
      w.reject(error);
    } else w.resolve({ value: undefined, done: true });
  }
}
