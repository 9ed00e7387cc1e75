import { ParleyError } from '../../errors.js';
import { sdkHttpStatus } from '../sdk-clients.js';
import { upstreamStatusDetails } from '../upstream-status.js';

/** An LLM vendor's HTTP error as a ParleyError the call loop can act on (retryable, an account refusal, or neither). */
export function upstreamHttpError(vendor: 'OpenAI' | 'Anthropic', status: number): ParleyError {
  const what =
    status === 401 ? 'rejected the API key' : status === 402 || status === 403 ? `refused the account (HTTP ${status}: credits or plan)` : status === 429 ? 'is rate limiting us' : status === 529 ? 'is overloaded' : `answered HTTP ${status}`;
  return new ParleyError('PARLEY_ERR_UPSTREAM', `${vendor} ${what}`, upstreamStatusDetails(vendor.toLowerCase(), status));
}

/** Whatever an LLM SDK call threw, as the ParleyError the call loop acts on (one it raised itself passes through). */
export function toUpstreamError(vendor: 'OpenAI' | 'Anthropic', err: unknown): ParleyError {
  if (err instanceof ParleyError) return err;
  const status = sdkHttpStatus(err);
  return status !== undefined ? upstreamHttpError(vendor, status) : upstreamStreamError(vendor, err);
}

/** Errors sent inside the stream and dropped connections: worth one retry. */
export function upstreamStreamError(vendor: 'OpenAI' | 'Anthropic', err: unknown): ParleyError {
  const message = err instanceof Error ? err.message : String(err);
  return new ParleyError('PARLEY_ERR_UPSTREAM', `${vendor} stream failed: ${message}`, { provider: vendor.toLowerCase(), retryable: true });
}
