import pino, { type Logger } from 'pino';

/** Paths pino blanks in every log line, wherever a secret could ride along. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-twilio-signature"]',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'apiKey',
  'api_key',
  'key',
  'token',
  'secret',
  'webhook_secret',
  'webhookSecret',
  'password',
  '*.apiKey',
  '*.token',
  '*.secret',
  '*.webhook_secret',
  '*.password',
];

const CENSOR = '[redacted]';

/**
 * Field names whose values are secrets, compared lower-cased with everything but letters and digits dropped
 * (`Authorization`, `X-Api-Key`, `TWILIO_AUTH_TOKEN`, `authToken`, `callTokenSecret`, `webhook_secret` …), at
 * any depth — REDACT_PATHS only reaches fixed paths, and SDK errors carry request headers deeper than that.
 * Counts and ids (`inputTokens`, `keyId`, `tokenTtlMs`) are not matched.
 */
const SECRET_FIELD = /^(?:key|cookie|setcookie|passwd|passphrase|xtwiliosignature|webhooksignature)$|(?:token|secret|apikey|authorization|password|privatekey|accesskey)$/;

export function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name.toLowerCase().replace(/[^a-z0-9]/g, ''));
}

/**
 * Fields of a database error that echo row values: PostgreSQL's `detail` ("Failing row contains (…, +15551234567,
 * …)", "Key (phone)=(…) already exists"), `where` and `internal_query` (a statement with its literals), and the
 * bound `parameters` postgres.js attaches in debug mode. A failed insert of a turn or a booking would otherwise log
 * the caller's words or number. Only an error's own fields: the code, constraint, table and column stay.
 */
const ROW_ECHO_FIELD = /^(?:detail|where|internalquery|parameters|args)$/;

/**
 * PostgreSQL's data exceptions (SQLSTATE class 22) quote the value they refused in their message —
 * `invalid input syntax for type integer: "+15551234567"`, `value "+15551234567" is out of range for type integer`
 * — which may be a caller's number or words. Their quoted parts are censored in the message and the stack (type
 * names are not quoted in these messages); the rest says what failed.
 */
const DATA_EXCEPTION_VALUE = /"(?:[^"]|"")*"/g;

function withoutRefusedValue(err: Error): string | null {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('22') || !err.message.includes('"')) return null;
  return err.message.replace(DATA_EXCEPTION_VALUE, `"${CENSOR}"`);
}

const MAX_DEPTH = 10;

/** A copy of `value` with every secret field censored; values without one are returned as they are. */
function censorDeep(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH || seen.has(value)) return value;
  // Only plain objects, arrays and errors are walked: class instances (fastify's request and reply, sockets)
  // are left to their serializers, and walking them would cost a graph traversal per line.
  const proto = Object.getPrototypeOf(value) as object | null;
  if (!Array.isArray(value) && !(value instanceof Error) && proto !== Object.prototype && proto !== null) return value;
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      let changed = false;
      const out = value.map((v) => {
        const c = censorDeep(v, depth + 1, seen);
        if (c !== v) changed = true;
        return c;
      });
      return changed ? out : value;
    }
    let changed = false;
    const entries: [string, unknown][] = [];
    const isError = value instanceof Error;
    for (const [k, v] of Object.entries(value)) {
      const hidden = isSecretField(k) || (isError && ROW_ECHO_FIELD.test(k.toLowerCase().replace(/[^a-z]/g, '')));
      const c = hidden && v !== undefined && v !== null ? CENSOR : censorDeep(v, depth + 1, seen);
      if (c !== v) changed = true;
      entries.push([k, c]);
    }
    if (isError) {
      const cause = censorDeep((value as { cause?: unknown }).cause, depth + 1, seen);
      const message = withoutRefusedValue(value);
      if (!changed && message === null && cause === (value as { cause?: unknown }).cause) return value;
      // Same class, message and stack, so pino's error serializer shows it as before, minus the secrets.
      const copy = Object.create(Object.getPrototypeOf(value) as object) as Error;
      for (const prop of ['name', 'message', 'stack'] as const) {
        if (!Object.prototype.hasOwnProperty.call(value, prop)) continue;
        let shown = value[prop];
        if (message !== null && typeof shown === 'string') shown = prop === 'message' ? message : shown.split(value.message).join(message);
        Object.defineProperty(copy, prop, { value: shown, writable: true, configurable: true });
      }
      if (cause !== undefined) Object.defineProperty(copy, 'cause', { value: cause, writable: true, configurable: true });
      for (const [k, v] of entries) (copy as unknown as Record<string, unknown>)[k] = v;
      return copy;
    }
    return changed ? Object.fromEntries(entries) : value;
  } finally {
    seen.delete(value);
  }
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    formatters: { log: (obj) => censorDeep(obj, 0, new WeakSet()) as Record<string, unknown> },
  };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
