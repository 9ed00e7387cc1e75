/**
 * ReconnectBudget: a provider that "recovers" and fails again within STABLE_MS has not recovered — its backoff goes
 * on (a voice whose replayed phrase counted as a recovery was reconnected ~170 times a second). A real recovery, or a
 * session that stayed up STABLE_MS, starts afresh: its first reconnect is immediate. A manual clock: no timing.
 */
import { describe, expect, it } from 'vitest';
import { ReconnectBudget, STABLE_MS } from '../../src/call/reconnect-budget.js';
import type { Clock } from '../../src/call/types.js';

/** A clock moved by hand; its timers are listed with their delay and fired by `run`. */
class ManualClock implements Clock {
  t = 1_000_000;
  timers: Array<{ fn: () => void; ms: number; cleared: boolean }> = [];
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const timer = { fn, ms, cleared: false };
    this.timers.push(timer);
    return timer;
  };
  clearTimeout = (h: unknown): void => {
    if (h) (h as { cleared: boolean }).cleared = true;
  };
  /** Fires the pending timers (advancing the clock by each one's delay). */
  run(): void {
    for (const timer of this.timers.splice(0)) {
      if (timer.cleared) continue;
      this.t += timer.ms;
      timer.fn();
    }
  }
}

/** How long the budget's pause waits after a failure (0: at once); resolves whether to try again. */
async function pauseAfterFailure(clock: ManualClock, budget: ReconnectBudget): Promise<{ waitedMs: number; retry: boolean }> {
  budget.fail();
  const pending = budget.pause(new AbortController().signal);
  const waitedMs = clock.timers.at(-1)?.ms ?? 0;
  clock.run();
  return { waitedMs, retry: await pending };
}

/** A budget two failures into a streak (its backoff under way). */
async function budgetInStreak(): Promise<{ clock: ManualClock; budget: ReconnectBudget }> {
  const clock = new ManualClock();
  const budget = new ReconnectBudget(clock);
  budget.begin();
  await pauseAfterFailure(clock, budget);
  await pauseAfterFailure(clock, budget);
  return { clock, budget };
}

describe('ReconnectBudget', () => {
  it('the first failure of a streak reconnects at once; the next ones back off', async () => {
    const clock = new ManualClock();
    const budget = new ReconnectBudget(clock);
    budget.begin();
    expect(await pauseAfterFailure(clock, budget)).toEqual({ waitedMs: 0, retry: true });
    const second = await pauseAfterFailure(clock, budget);
    expect(second.waitedMs).toBeGreaterThan(0);
    expect(second.retry).toBe(true);
  });

  it('a failure within STABLE_MS of a recovery backs off, every time: no tight reconnect loop', async () => {
    const clock = new ManualClock();
    const budget = new ReconnectBudget(clock);
    budget.begin();
    await pauseAfterFailure(clock, budget);
    let previous = 0;
    for (let i = 0; i < 4; i++) {
      budget.recovered(); // a replayed phrase, one event: it "works"…
      clock.t += 10; // …and fails again at once
      const { waitedMs, retry } = await pauseAfterFailure(clock, budget);
      expect(retry).toBe(true);
      expect(waitedMs).toBeGreaterThan(0);
      expect(waitedMs).toBeGreaterThanOrEqual(previous / 2); // never back to 0: the step keeps its size or grows
      previous = waitedMs;
    }
  });

  it('a recovery that lasted STABLE_MS starts afresh: the next failure reconnects at once', async () => {
    const { clock, budget } = await budgetInStreak();
    budget.recovered();
    clock.t += STABLE_MS;
    expect(await pauseAfterFailure(clock, budget)).toEqual({ waitedMs: 0, retry: true });
  });

  it('a session that stayed up STABLE_MS (recovered since it opened) starts afresh, though it fails now', async () => {
    const { clock, budget } = await budgetInStreak();
    const openedAt = clock.t;
    clock.t += STABLE_MS + 1;
    budget.recovered(openedAt);
    expect(await pauseAfterFailure(clock, budget)).toEqual({ waitedMs: 0, retry: true });
    expect(budget.failures).toBe(1);
  });

  it('recovered() with no streak running changes nothing (a recognizer calls it on every event)', async () => {
    const clock = new ManualClock();
    const budget = new ReconnectBudget(clock);
    budget.begin();
    await pauseAfterFailure(clock, budget);
    budget.recovered();
    clock.t += STABLE_MS;
    for (let i = 0; i < 100; i++) budget.recovered(); // later events do not move the proof forward
    expect(await pauseAfterFailure(clock, budget)).toEqual({ waitedMs: 0, retry: true });
  });
});
