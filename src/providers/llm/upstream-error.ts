import { ParleyError } from '../../errors.js';
import { sdkHttpError } from '../sdk-clients.js';
import { upstreamStatusDetails, type UpstreamErrorBody } from '../upstream-status.js';

/** An LLM vendor's HTTP error as a ParleyError the call loop can act on (retryable, an account refusal, or neither). */
export function upstreamHttpError(vendor: 'OpenAI' | 'Anthropic', status: number, body?: UpstreamErrorBody): ParleyError {
  const details = upstreamStatusDetails(vendor.toLowerCase(), status, body);
  const what =
    status === 401 ? 'rejected the API key'
    : details.account ? `refused the account (HTTP ${status}: credits or plan)`
    : status === 429 ? 'is rate limiting us'
    : status === 529 ? 'is overloaded'
    : `answered HTTP ${status}`;
  return new ParleyError('PARLEY_ERR_UPSTREAM', `${vendor} ${what}`, details);
}

/** Whatever an LLM SDK call threw, as the ParleyError the call loop acts on (one it raised itself passes through). */
export function toUpstreamError(vendor: 'OpenAI' | 'Anthropic', err: unknown): ParleyError {
  if (err instanceof ParleyError) return err;
  const answered = sdkHttpError(err);
  return answered ? upstreamHttpError(vendor, answered.status, answered.body) : upstreamStreamError(vendor, err);
}

/** Errors sent inside the stream and dropped connections: worth one retry. */
export function upstreamStreamError(vendor: 'OpenAI' | 'Anthropic', err: unknown): ParleyError {
  const message = err instanceof Error ? err.message : String(err);
  return new ParleyError('PARLEY_ERR_UPSTREAM', `${vendor} stream failed: ${message}`, { provider: vendor.toLowerCase(), retryable: true });
}
