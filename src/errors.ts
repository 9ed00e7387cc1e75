/**
 * The one error type the API maps to responses. `code` is stable and documented;
 * `message` is for humans and never carries SQL, stack traces or secrets.
 */
export type ErrorCode =
  | 'PARLEY_ERR_VALIDATION'
  | 'PARLEY_ERR_UNAUTHORIZED'
  | 'PARLEY_ERR_FORBIDDEN'
  | 'PARLEY_ERR_NOT_FOUND'
  | 'PARLEY_ERR_METHOD_NOT_ALLOWED'
  | 'PARLEY_ERR_CONFLICT'
  | 'PARLEY_ERR_SLOT_TAKEN'
  | 'PARLEY_ERR_BUDGET_EXHAUSTED'
  | 'PARLEY_ERR_ILLEGAL_TRANSITION'
  | 'PARLEY_ERR_PRECONDITION_FAILED'
  | 'PARLEY_ERR_PAYLOAD_TOO_LARGE'
  | 'PARLEY_ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'PARLEY_ERR_RATE_LIMITED'
  | 'PARLEY_ERR_UNSAFE_URL'
  | 'PARLEY_ERR_UPSTREAM'
  | 'PARLEY_ERR_UNAVAILABLE'
  | 'PARLEY_ERR_INTERNAL';

const STATUS: Record<ErrorCode, number> = {
  PARLEY_ERR_VALIDATION: 400,
  PARLEY_ERR_UNAUTHORIZED: 401,
  PARLEY_ERR_FORBIDDEN: 403,
  PARLEY_ERR_NOT_FOUND: 404,
  PARLEY_ERR_METHOD_NOT_ALLOWED: 405,
  PARLEY_ERR_CONFLICT: 409,
  PARLEY_ERR_SLOT_TAKEN: 409,
  PARLEY_ERR_BUDGET_EXHAUSTED: 409,
  PARLEY_ERR_ILLEGAL_TRANSITION: 409,
  PARLEY_ERR_PRECONDITION_FAILED: 412,
  PARLEY_ERR_PAYLOAD_TOO_LARGE: 413,
  PARLEY_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  PARLEY_ERR_RATE_LIMITED: 429,
  PARLEY_ERR_UNSAFE_URL: 400,
  PARLEY_ERR_UPSTREAM: 502,
  PARLEY_ERR_UNAVAILABLE: 503,
  PARLEY_ERR_INTERNAL: 500,
};

export class ParleyError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra machine-readable detail returned to the client (e.g. alternatives for a taken slot). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ParleyError';
    this.status = STATUS[code];
  }
}

export const notFound = (what: string): ParleyError => new ParleyError('PARLEY_ERR_NOT_FOUND', `${what} not found`);
export const badRequest = (message: string, details?: Record<string, unknown>): ParleyError =>
  new ParleyError('PARLEY_ERR_VALIDATION', message, details);
export const conflict = (message: string, details?: Record<string, unknown>): ParleyError =>
  new ParleyError('PARLEY_ERR_CONFLICT', message, details);

/** How deep isRetryable and isAccountFailure look down a chain of causes (a cycle of causes must not loop them). */
const MAX_CAUSE_DEPTH = 8;

/** Whether `err` or one of its causes is a ParleyError whose details match. */
function someCause(err: unknown, matches: (details: Record<string, unknown>) => boolean): boolean {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < MAX_CAUSE_DEPTH; depth++, e = e.cause) {
    if (e instanceof ParleyError && e.details && matches(e.details)) return true;
  }
  return false;
}

/**
 * Whether trying again may help: provider adapters mark their errors (`details.retryable`, false for a rejected
 * key or a malformed request); anything unmarked may be transient. A wrapper (the call's TtsFailure and LlmFailure,
 * any error with a `cause`) is as retryable as what it wraps: a refusal anywhere down the chain of causes is one.
 */
export function isRetryable(err: unknown): boolean {
  return !someCause(err, (d) => d.retryable === false);
}

/**
 * Whether a provider refused the account rather than the request (`details.account`, set by the adapters for
 * isAccountStatus): the key is rejected, the credits are spent, the plan forbids it. Never retryable, and never
 * about one phrase or one turn: the provider is down for the whole call (and every call) until an operator acts.
 */
export function isAccountFailure(err: unknown): boolean {
  return someCause(err, (d) => d.account === true);
}

/** The HTTP statuses that refuse the account: 401 (key rejected), 402 (payment: credits spent), 403 (plan or key may not). */
export const isAccountStatus = (status: number): boolean => status === 401 || status === 402 || status === 403;
