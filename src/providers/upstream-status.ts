import { isAccountStatus } from '../errors.js';

/**
 * The details of a ParleyError for an HTTP status a provider answered (on a request, a WebSocket handshake or an
 * error frame that carries one): worth another try only for a rate or concurrency limit (429) or the vendor's own
 * trouble (5xx); an account refusal (401/402/403) is marked `account`; any other 4xx refuses the request itself.
 */
export function upstreamStatusDetails(provider: string, status: number): { provider: string; status: number; retryable: boolean; account: boolean } {
  return { provider, status, retryable: status === 429 || status >= 500, account: isAccountStatus(status) };
}
