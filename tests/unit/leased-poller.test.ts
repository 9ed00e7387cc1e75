import { describe, expect, it } from 'vitest';
import { LeasedPoller } from '../../src/util/leased-poller.js';

/** A promise with its resolver outside, to hold a step of the poll open. */
function gate<T = void>() {
  let open!: (v: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('LeasedPoller stopping', () => {
  it('claims nothing once stopped, even when stop() came while beforeClaim was running', async () => {
    const before = gate();
    let beforeEntered = false;
    let claims = 0;
    const poller = new LeasedPoller<number>({
      concurrency: 1,
      pollMs: 10,
      beforeClaim: async () => {
        beforeEntered = true;
        await before.promise;
      },
      claim: async () => {
        claims++;
        return [1];
      },
      run: async () => {},
      onError: (err) => {
        throw err;
      },
    });
    poller.start();
    while (!beforeEntered) await tick();
    const stopped = poller.stop(100);
    before.open();
    await stopped;
    await tick();
    expect(claims).toBe(0);
  });

  it('a claim already sent when stop() comes: stop() waits for what it leased, and aborts it past the grace', async () => {
    const claim = gate<number[]>();
    let claimSent = false;
    const runs: Array<{ item: number; aborted: boolean }> = [];
    const poller = new LeasedPoller<number>({
      concurrency: 2,
      pollMs: 10,
      claim: () => {
        claimSent = true;
        return claim.promise;
      },
      // Runs until aborted: the item stays in flight past the grace.
      run: (item, signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => {
            runs.push({ item, aborted: true });
            resolve();
          }, { once: true });
        }),
      onError: (err) => {
        throw err;
      },
    });
    poller.start();
    while (!claimSent) await tick();
    let stopResolved = false;
    const stopped = poller.stop(20).then(() => (stopResolved = true));
    await tick();
    expect(stopResolved).toBe(false); // the claim is still out
    claim.open([7, 8]);
    await stopped;
    // Both leased items were run and, past the 20 ms grace, aborted before stop() returned.
    expect(runs).toEqual([{ item: 7, aborted: true }, { item: 8, aborted: true }]);
    expect(poller.running).toBe(0);
  });

  it('keeps polling after a poll that threw', async () => {
    let claims = 0;
    const errors: unknown[] = [];
    const poller = new LeasedPoller<number>({
      concurrency: 1,
      pollMs: 5,
      claim: async () => {
        claims++;
        if (claims === 1) throw new Error('database away');
        return [];
      },
      run: async () => {},
      onError: (err) => errors.push(err),
    });
    poller.start();
    while (claims < 3) await tick();
    await poller.stop(10);
    expect(errors).toHaveLength(1);
  });
});

describe('LeasedPoller stop() is bounded by its grace', () => {
  it('a long beforeClaim gets the abort once the grace is over, and stop() returns', async () => {
    let entered = false;
    let sawAbort = false;
    let claims = 0;
    const poller = new LeasedPoller<number>({
      concurrency: 1,
      pollMs: 10,
      // Work that would run for minutes (deleting recordings one by one) unless told to stop.
      beforeClaim: (signal) =>
        new Promise<void>((resolve) => {
          entered = true;
          signal.addEventListener('abort', () => {
            sawAbort = true;
            resolve();
          }, { once: true });
        }),
      claim: async () => {
        claims++;
        return [];
      },
      run: async () => {},
      onError: (err) => {
        throw err;
      },
    });
    poller.start();
    while (!entered) await tick();
    await poller.stop(20);
    expect(sawAbort).toBe(true);
    expect(claims).toBe(0);
  });
});
