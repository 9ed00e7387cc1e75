import { isAccountStatus } from '../errors.js';

/** What a vendor's error answer said besides its status, where it said it (OpenAI: error.code and error.type; Anthropic: error.type and error.message). */
export interface UpstreamErrorBody {
  code?: string | null;
  type?: string | null;
  message?: string | null;
}

/** OpenAI's code (and type) for an account whose credits are spent or whose billing limit is reached. */
const OPENAI_OUT_OF_CREDIT = 'insufficient_quota';
/** Anthropic's message for an account whose credits are spent ("Your credit balance is too low to access …"). */
const ANTHROPIC_OUT_OF_CREDIT = /credit balance is too low/i;

/**
 * The answers that say the account's credits are spent without HTTP 402: OpenAI's 429 `insufficient_quota` (a 429
 * like its rate limits, but waiting does not help) and Anthropic's 400 "Your credit balance is too low" (an
 * invalid_request_error, but nothing is wrong with the request). Both are account failures: no retry helps, and
 * every call fails the same way until an operator buys credits.
 */
export function isOutOfCredit(status: number, body: UpstreamErrorBody | undefined): boolean {
  if (!body) return false;
  if (status === 429) return body.code === OPENAI_OUT_OF_CREDIT || body.type === OPENAI_OUT_OF_CREDIT;
  if (status === 400) return typeof body.message === 'string' && ANTHROPIC_OUT_OF_CREDIT.test(body.message);
  return false;
}

/**
 * The details of a ParleyError for an HTTP status a provider answered (on a request, a WebSocket handshake or an
 * error frame that carries one): worth another try only for a rate or concurrency limit (429) or the vendor's own
 * trouble (5xx); an account refusal (401/402/403, or an out-of-credit answer: isOutOfCredit) is marked `account`
 * and never retryable; any other 4xx refuses the request itself.
 */
export function upstreamStatusDetails(
  provider: string,
  status: number,
  body?: UpstreamErrorBody,
): { provider: string; status: number; retryable: boolean; account: boolean } {
  const account = isAccountStatus(status) || isOutOfCredit(status, body);
  return { provider, status, retryable: !account && (status === 429 || status >= 500), account };
}
