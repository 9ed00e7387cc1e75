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

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
