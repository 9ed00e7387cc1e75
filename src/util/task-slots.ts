/**
 * A bound on one kind of CPU work running at once in this process (upload checks, each on a worker thread of its
 * own: util/worker-task.ts), with a short, bounded and fair wait for a turn. Each thread has a heap of its own and
 * competes for the cores with the event loop that carries calls: without a bound, 30 concurrent 10,000-row uploads
 * started 30 threads, took the process from 0.6 to 1.7 GB and all overran their deadline
 * (scripts/bench/upload-burst.ts).
 *
 * Fairness: waiting tasks are kept per key (a company) and the keys take turns, so one company's burst waits behind
 * itself, never in front of another company's upload; and a key may only have `queuedPerKey` waiting, so one
 * company cannot fill the queue either. A task that finds the queue (or its key's share of it) full, or that waits
 * longer than `maxWaitMs`, is refused with a TaskSlotsBusyError carrying a Retry-After — never an unbounded queue.
 */

export interface TaskSlotsOptions {
  /** Tasks running at once. */
  running: number;
  /** Tasks waiting for a turn, all keys together. */
  queued: number;
  /** Tasks one key may have waiting. */
  queuedPerKey: number;
  /** Longest wait for a turn, ms. */
  maxWaitMs: number;
  /** What a refused task is told to wait before trying again, seconds. */
  retryAfterSec: number;
}

/** No turn for the task now: the queue is full, or the wait ran past `maxWaitMs`. */
export class TaskSlotsBusyError extends Error {
  constructor(
    message: string,
    readonly retryAfterSec: number,
  ) {
    super(message);
    this.name = 'TaskSlotsBusyError';
  }
}

interface Waiter {
  start: () => void;
  timer: NodeJS.Timeout;
}

export class TaskSlots {
  private running = 0;
  private queued = 0;
  /** Waiting tasks by key, the keys in the order they take their turns (a key that had one goes to the back). */
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(private readonly options: TaskSlotsOptions) {}

  /** Tasks running now and tasks waiting (for metrics and tests). */
  get load(): { running: number; queued: number } {
    return { running: this.running, queued: this.queued };
  }

  /** Runs `work` once it has a turn; its slot is freed when it settles, however it settles. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    await this.turn(key);
    try {
      return await work();
    } finally {
      this.running--;
      this.startNext();
    }
  }

  private turn(key: string): Promise<void> {
    if (this.running < this.options.running && this.queued === 0) {
      this.running++;
      return Promise.resolve();
    }
    const mine = this.waiting.get(key) ?? [];
    if (this.queued >= this.options.queued || mine.length >= this.options.queuedPerKey) {
      return Promise.reject(this.busy('too many tasks are waiting'));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        start: resolve,
        timer: setTimeout(() => {
          this.forget(key, waiter);
          reject(this.busy(`no turn within ${this.options.maxWaitMs} ms`));
        }, this.options.maxWaitMs),
      };
      mine.push(waiter);
      this.waiting.set(key, mine);
      this.queued++;
    });
  }

  /** Hands a free slot to the first waiting task of the key whose turn it is. */
  private startNext(): void {
    const [key, mine] = this.waiting.entries().next().value ?? [];
    if (key === undefined || !mine) return;
    const waiter = mine.shift()!;
    this.waiting.delete(key);
    if (mine.length > 0) this.waiting.set(key, mine);
    clearTimeout(waiter.timer);
    this.queued--;
    this.running++;
    waiter.start();
  }

  private forget(key: string, waiter: Waiter): void {
    const mine = this.waiting.get(key);
    const at = mine?.indexOf(waiter) ?? -1;
    if (!mine || at < 0) return;
    mine.splice(at, 1);
    if (mine.length === 0) this.waiting.delete(key);
    this.queued--;
  }

  private busy(why: string): TaskSlotsBusyError {
    return new TaskSlotsBusyError(`${why} (${this.options.running} run at once)`, this.options.retryAfterSec);
  }
}
