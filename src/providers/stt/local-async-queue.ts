/** A single-consumer async queue: producers push, one `for await` pulls. Used by the local speech providers. */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: ((result: IteratorResult<T>) => void) | null = null;
  private failWaiter: ((error: Error) => void) | null = null;
  private done = false;
  private error: Error | null = null;

  get closed(): boolean {
    return this.done;
  }

  push(item: T): void {
    if (this.done) return;
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = this.failWaiter = null;
      resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  /** Ends the stream after the queued items. */
  end(): void {
    if (this.done) return;
    this.done = true;
    if (this.waiter && this.items.length === 0) {
      const resolve = this.waiter;
      this.waiter = this.failWaiter = null;
      resolve({ value: undefined, done: true });
    }
  }

  /** Ends the stream with an error thrown to the consumer after the queued items. */
  fail(error: Error): void {
    if (this.done) return;
    this.error = error;
    this.done = true;
    if (this.failWaiter && this.items.length === 0) {
      const reject = this.failWaiter;
      this.waiter = this.failWaiter = null;
      reject(error);
    }
  }

  /** Drops queued items and ends the stream now (cancellation). */
  abort(): void {
    this.items.length = 0;
    this.error = null;
    this.end();
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.items.length > 0) return Promise.resolve({ value: this.items.shift()!, done: false });
        if (this.done) {
          if (this.error) {
            const error = this.error;
            this.error = null;
            return Promise.reject(error);
          }
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.waiter = resolve;
          this.failWaiter = reject;
        });
      },
      return: () => {
        this.abort();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
