/**
 * When to try a failed delivery again. Every non-2xx answer is retried — a receiver's 4xx is usually a deploy
 * or configuration slip that gets fixed (401 after a secret rotation, 404 mid-deploy) — except 410 Gone, which
 * says the endpoint is gone for good. Retry-After (429/503) is honoured when it asks for longer than our backoff.
 */
import { backoffDelayMs, type BackoffOptions as Backoff } from '../util/backoff.js';

export interface BackoffOptions extends Backoff {
  /** Longest Retry-After honoured. */
  maxRetryAfterMs?: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 5_000, maxMs: 60 * 60_000, maxRetryAfterMs: 6 * 60 * 60_000 };

export function isSuccess(statusCode: number | null): boolean {
  return statusCode !== null && statusCode >= 200 && statusCode < 300;
}

export function isPermanentFailure(statusCode: number | null): boolean {
  return statusCode === 410;
}

/** Milliseconds until the next attempt after `attempt` (1-based) failed; jitter spreads a burst of retries. */
export function retryDelayMs(attempt: number, retryAfterMs: number | null, options: BackoffOptions, random: () => number = Math.random): number {
  const jittered = backoffDelayMs(attempt, { jitter: 0.5, ...options }, random);
  const asked = retryAfterMs === null ? 0 : Math.min(retryAfterMs, options.maxRetryAfterMs ?? DEFAULT_BACKOFF.maxRetryAfterMs!);
  return Math.round(Math.max(jittered, asked));
}
