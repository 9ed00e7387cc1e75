/**
 * How often a company may send POST /v1/webhooks/test. Each is an HTTP request from this server to a URL the company
 * chose, now, with no backoff: bounded only by the API's rate limit (600 a minute), a company could aim its webhook at
 * a third party and use Parley to send it hundreds of requests a minute. Per company: at most `concurrent` test
 * requests at once in this process, and `perMinute` in each minute of the clock, counted across processes and
 * instances where the server shares a database (the /v1 rate limit's counter). Beyond either: 429 naming the limit,
 * with Retry-After.
 */
import { ParleyError } from '../errors.js';
import type { SharedCounter } from '../api/rate-limit-store.js';

export interface TestEventLimits {
  /** Test events one company may have in flight at once (in this process). */
  concurrent: number;
  /** Test events one company may send per minute (the clock's minute). */
  perMinute: number;
}

export const DEFAULT_TEST_EVENT_LIMITS: TestEventLimits = { concurrent: 1, perMinute: 10 };

const WINDOW_MS = 60_000;
/** Marks these rows in rate_limit_counts apart from the rate limit's (company ids) and the auth throttle's. */
const KEY_PREFIX = 'webhook-test:';

export class TestEventGate {
  private readonly inFlight = new Map<string, number>();

  /**
   * `count`: where the minute's tests are counted (databaseCounter with a shared database, else memoryCounter);
   * `busyRetryAfterSec`: how long one in flight may take (WEBHOOK_TIMEOUT_MS), said in Retry-After when at the cap.
   */
  constructor(
    private readonly limits: TestEventLimits,
    private readonly count: SharedCounter,
    private readonly busyRetryAfterSec: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A turn for one of the company's test events, or a 429 ParleyError; the returned release may be called more than once. */
  async take(companyId: string): Promise<() => void> {
    const mine = this.inFlight.get(companyId) ?? 0;
    if (mine >= this.limits.concurrent) {
      throw limited(`A test event of this company is already being sent (the limit is ${this.limits.concurrent} at once); retry when it has been answered`,
        'concurrent', this.limits.concurrent, this.busyRetryAfterSec);
    }
    this.inFlight.set(companyId, mine + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(companyId) ?? 1) - 1;
      if (left > 0) this.inFlight.set(companyId, left);
      else this.inFlight.delete(companyId);
    };
    try {
      const { hits, resetAt } = await this.count(KEY_PREFIX + companyId, WINDOW_MS);
      if (hits > this.limits.perMinute) {
        const retryAfter = Math.max(1, Math.ceil((resetAt - this.now()) / 1000));
        throw limited(`This company has sent its ${this.limits.perMinute} test events of the minute (the limit is ${this.limits.perMinute} per minute); retry in ${retryAfter} s`,
          'per_minute', this.limits.perMinute, retryAfter);
      }
    } catch (err) {
      release();
      throw err;
    }
    return release;
  }
}

function limited(message: string, limit: 'concurrent' | 'per_minute', max: number, retryAfterSec: number): ParleyError {
  return new ParleyError('PARLEY_ERR_RATE_LIMITED', message, { limit, max, retry_after_s: retryAfterSec });
}
