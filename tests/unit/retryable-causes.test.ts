/**
 * isRetryable sees through wrappers: a provider's refusal (details.retryable false: a 4xx for the request, a
 * rejected key) stays a refusal once the call wraps it (TtsFailure, LlmFailure, any error with a cause). Wrapped,
 * a refused phrase was retried — and its socket reopened — like a dropped connection.
 */
import { describe, expect, it } from 'vitest';
import { LlmFailure } from '../../src/call/agent-turn.js';
import { TtsFailure } from '../../src/call/playback.js';
import { isAccountFailure, isRetryable, ParleyError } from '../../src/errors.js';
import { upstreamHttpError } from '../../src/providers/llm/upstream-error.js';
import { upstreamStatusDetails } from '../../src/providers/upstream-status.js';

const refusal = (): ParleyError => new ParleyError('PARLEY_ERR_UPSTREAM', 'Cartesia error: invalid request', { provider: 'cartesia', status: 400, retryable: false });
const transient = (): ParleyError => new ParleyError('PARLEY_ERR_UPSTREAM', 'Cartesia error: overloaded', { provider: 'cartesia', status: 500, retryable: true });

describe('isRetryable through causes', () => {
  it('a refusal is not retryable, bare or wrapped by the call (TtsFailure, LlmFailure)', () => {
    expect(isRetryable(refusal())).toBe(false);
    expect(isRetryable(new TtsFailure(refusal(), 'On Sundays we are closed.'))).toBe(false);
    expect(isRetryable(new LlmFailure(refusal()))).toBe(false);
  });

  it('any error with a cause, nested: the refusal down the chain decides', () => {
    expect(isRetryable(new Error('outer', { cause: new TtsFailure(refusal()) }))).toBe(false);
    expect(isRetryable(new TtsFailure(new Error('socket', { cause: refusal() })))).toBe(false);
  });

  it('transient and unmarked failures stay retryable, wrapped or not', () => {
    expect(isRetryable(new TtsFailure(transient()))).toBe(true);
    expect(isRetryable(new LlmFailure(new Error('socket hang up')))).toBe(true);
    expect(isRetryable(new TtsFailure('no audio'))).toBe(true);
    expect(isRetryable(new Error('plain'))).toBe(true);
    expect(isRetryable('a string')).toBe(true);
    expect(isRetryable(null)).toBe(true);
  });

  it('a cycle of causes does not loop', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(isRetryable(a)).toBe(true);
  });
});

describe('isAccountFailure: 401/402/403 refuse the account, not the request', () => {
  it('every adapter marks 401, 402 and 403 as account failures (not retryable); 400, 429 and 5xx are not', () => {
    for (const status of [401, 402, 403]) {
      const details = upstreamStatusDetails('cartesia', status);
      expect(details, `status ${status}`).toMatchObject({ retryable: false, account: true });
      const llm = upstreamHttpError('OpenAI', status);
      expect(isAccountFailure(llm), `status ${status}`).toBe(true);
      expect(isRetryable(llm), `status ${status}`).toBe(false);
      expect(llm.message).not.toMatch(/sk-/);
    }
    for (const status of [400, 404, 429, 500, 529]) expect(isAccountFailure(upstreamHttpError('Anthropic', status)), `status ${status}`).toBe(false);
  });

  it('an out-of-credit answer without a 402 is one too: OpenAI\'s 429 insufficient_quota, Anthropic\'s 400 "credit balance is too low"', () => {
    const quota = upstreamHttpError('OpenAI', 429, { code: 'insufficient_quota', type: 'insufficient_quota', message: 'You exceeded your current quota' });
    const credit = upstreamHttpError('Anthropic', 400, { type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API.' });
    for (const err of [quota, credit]) {
      expect(isAccountFailure(err), err.message).toBe(true);
      expect(isRetryable(err), err.message).toBe(false);
    }
    // A rate limit and a malformed request keep their kinds.
    const rate = upstreamHttpError('OpenAI', 429, { code: 'rate_limit_exceeded', type: 'requests', message: 'Rate limit reached' });
    expect([isAccountFailure(rate), isRetryable(rate)]).toEqual([false, true]);
    const malformed = upstreamHttpError('Anthropic', 400, { type: 'invalid_request_error', message: 'messages: at least one message is required' });
    expect([isAccountFailure(malformed), isRetryable(malformed)]).toEqual([false, false]);
  });

  it('seen through the call\'s wrappers; unmarked errors are not account failures', () => {
    const account = new ParleyError('PARLEY_ERR_UPSTREAM', 'Cartesia error: payment required', upstreamStatusDetails('cartesia', 402));
    expect(isAccountFailure(new TtsFailure(account, 'On Sundays we are closed.'))).toBe(true);
    expect(isAccountFailure(new LlmFailure(upstreamHttpError('Anthropic', 401)))).toBe(true);
    expect(isAccountFailure(new TtsFailure(refusal()))).toBe(false);
    expect(isAccountFailure(new Error('plain'))).toBe(false);
    expect(isAccountFailure(undefined)).toBe(false);
  });
});
