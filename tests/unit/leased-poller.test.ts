import { describe, expect, it, vi } from 'vitest';
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

describe('LeasedPoller idle polling', () => {
  /** A poller whose claims are timed: `queue` holds the items the next claim finds. */
  function timedPoller(options: { pollMs: number; idlePollMs?: number }) {
    const claimsAt: number[] = [];
    const queue: number[] = [];
    const claim = { hold: null as Promise<void> | null };
    const poller = new LeasedPoller<number>({
      concurrency: 4,
      ...options,
      claim: async (free) => {
        claimsAt.push(Date.now());
        // The claim reads the table first, then its answer takes a while to come back.
        const found = queue.splice(0, free);
        if (claim.hold) await claim.hold;
        return found;
      },
      run: async () => {},
      onError: (err) => {
        throw err;
      },
    });
    return { poller, claimsAt, queue, claim };
  }

  it('backs off while it finds nothing, up to idlePollMs, and comes back at once when kicked', async () => {
    const { poller, claimsAt } = timedPoller({ pollMs: 10, idlePollMs: 80 });
    poller.start();
    await new Promise((r) => setTimeout(r, 600));
    const gaps = claimsAt.slice(1).map((t, i) => t - claimsAt[i]!);
    // 0, 10, 20, 40, 80, 80, …: far fewer claims than one every 10 ms, and never a wait past the cap (+ timer slack).
    expect(claimsAt.length).toBeLessThan(15);
    expect(gaps.slice(4).every((g) => g >= 75)).toBe(true);
    expect(Math.max(...gaps)).toBeLessThan(80 + 60);
    const before = claimsAt.length;
    poller.kick();
    await tick();
    expect(claimsAt.length).toBe(before + 1);
    await poller.stop(100);
  });

  it('without idlePollMs it polls every pollMs, as before', async () => {
    const { poller, claimsAt } = timedPoller({ pollMs: 20 });
    poller.start();
    await new Promise((r) => setTimeout(r, 300));
    await poller.stop(100);
    expect(claimsAt.length).toBeGreaterThanOrEqual(8);
  });

  it('a kick that comes while a poll is claiming is not lost: another poll follows at once', async () => {
    const { poller, queue, claim } = timedPoller({ pollMs: 400, idlePollMs: 10_000 });
    poller.start();
    await new Promise((r) => setTimeout(r, 50)); // the first poll found nothing; the next is 400 ms away
    const held = gate();
    claim.hold = held.promise;
    poller.kick();
    await tick(); // that poll has read the table and waits for its answer
    // Work committed after the claim read the table, announced while the claim still runs.
    queue.push(7);
    poller.kick();
    claim.hold = null;
    held.open();
    for (let i = 0; i < 10 && queue.length > 0; i++) await tick();
    expect(queue).toEqual([]);
    await poller.stop(100);
  });
});

describe('LeasedPoller when the database cannot be reached', () => {
  it('backs off failed polls as it does empty ones (doubling up to idlePollMs), and goes on once the database is back', async () => {
    vi.useFakeTimers();
    try {
      let reachable = false;
      let claims = 0;
      let errors = 0;
      const poller = new LeasedPoller<number>({
        concurrency: 1,
        pollMs: 500,
        idlePollMs: 5_000,
        claim: async () => {
          claims++;
          if (!reachable) throw new Error('connect ECONNREFUSED');
          return [];
        },
        run: async () => {},
        onError: () => errors++,
      });
      poller.start();
      // Polls at 0, 0.5, 1.5, 3.5, 7.5, 12.5, 17.5 s… — not every 500 ms (40 in 20 s).
      await vi.advanceTimersByTimeAsync(20_000);
      expect(errors).toBe(claims);
      expect(claims).toBe(7);
      reachable = true;
      await vi.advanceTimersByTimeAsync(10_000);
      expect(claims).toBeGreaterThan(7);
      expect(errors).toBe(7);
      await poller.stop(100);
    } finally {
      vi.useRealTimers();
    }
  });

  it('backs off failed polls of a poller that never idles slowly (no idlePollMs), and polls every pollMs again once one works', async () => {
    vi.useFakeTimers();
    try {
      let reachable = false;
      let claims = 0;
      const poller = new LeasedPoller<number>({
        concurrency: 1,
        pollMs: 500,
        claim: async () => {
          claims++;
          if (!reachable) throw new Error('connect ECONNREFUSED');
          return [];
        },
        run: async () => {},
        onError: () => {},
      });
      poller.start();
      // Polls at 0, 0.5, 1.5, 3.5, 7.5, 12.5, 17.5 s (FAILED_POLL_MAX_WAIT_MS), not every 500 ms (40 in 20 s).
      await vi.advanceTimersByTimeAsync(20_000);
      expect(claims).toBe(7);
      reachable = true;
      await vi.advanceTimersByTimeAsync(2_600); // the poll at 22.5 s works
      const afterRecovery = claims;
      await vi.advanceTimersByTimeAsync(5_000);
      expect(claims - afterRecovery).toBe(10); // every 500 ms again: it never idles slowly
      await poller.stop(100);
    } finally {
      vi.useRealTimers();
    }
  });
});
