/**
 * Exponential backoff with full jitter: attempt 1 waits up to baseMs, each next attempt up to twice as long,
 * never more than maxMs. Jitter spreads retries of many clients that failed together.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** 0..1 of the delay that is random; 1 = full jitter (default), 0 = deterministic. */
  jitter?: number;
}

export function backoffDelayMs(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(o.maxMs, o.baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  const jitter = o.jitter ?? 1;
  return Math.round(ceiling * (1 - jitter) + ceiling * jitter * random());
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
