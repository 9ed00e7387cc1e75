/**
 * retryWhileUnreachable: work a database outage interrupts is tried again until the database answers (within its
 * limit); any other error goes up at once — a bug or a bad value is not retried.
 */
import { describe, expect, it } from 'vitest';
import { retryWhileUnreachable } from '../../src/db/retry.js';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('retryWhileUnreachable', () => {
  it('tries again while the database is unreachable, then returns what the work returns', async () => {
    let calls = 0;
    const value = await retryWhileUnreachable(async () => {
      if (++calls < 3) throw refused();
      return 'stored';
    });
    expect(value).toBe('stored');
    expect(calls).toBe(3);
  });

  it('does not retry any other error', async () => {
    let calls = 0;
    await expect(retryWhileUnreachable(async () => {
      calls++;
      throw Object.assign(new Error('duplicate key'), { code: '23505' });
    })).rejects.toThrow('duplicate key');
    expect(calls).toBe(1);
  });

  it('gives up past its limit with the last error', async () => {
    let calls = 0;
    await expect(retryWhileUnreachable(async () => {
      calls++;
      throw refused();
    }, 300)).rejects.toThrow('ECONNREFUSED');
    expect(calls).toBeGreaterThan(1);
  });
});
