import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../src/util/backoff.js';

describe('backoffDelayMs (jobs, webhooks, Twilio REST)', () => {
  it('doubles per attempt from baseMs and stops at maxMs', () => {
    const o = { baseMs: 100, maxMs: 1_000, jitter: 0 };
    expect([1, 2, 3, 4, 5, 50].map((a) => backoffDelayMs(a, o))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('spreads the delay over the jittered part only', () => {
    const o = { baseMs: 1_000, maxMs: 60_000, jitter: 0.5 };
    expect(backoffDelayMs(3, o, () => 0)).toBe(2_000);
    expect(backoffDelayMs(3, o, () => 0.999999)).toBe(4_000);
    expect(backoffDelayMs(3, { baseMs: 1_000, maxMs: 60_000 }, () => 0)).toBe(0); // full jitter by default
  });
});
