/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the signature is
 * base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)) where key is the base64 part of the `whsec_…` secret,
 * sent as `webhook-signature: v1,<sig>`; several signatures are space-separated (secret rotation).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'whsec_';

/** A new signing secret: whsec_ + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

export function secretKey(secret: string): Buffer {
  const raw = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  const key = Buffer.from(raw, 'base64');
  if (key.length < 16) throw new Error('webhook secret is too short');
  return key;
}

/** One `v1,<base64>` signature. */
export function sign(secret: string, id: string, timestampSec: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSec}.${body}`).digest('base64');
  return `v1,${mac}`;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** Headers for one delivery; every secret given (current first, then a still-valid previous one) signs. */
export function signedHeaders(secrets: string[], id: string, timestampSec: number, body: string): SignedHeaders {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': secrets.map((s) => sign(s, id, timestampSec, body)).join(' '),
  };
}

/**
 * Receiver-side check (used by tests and documented for receivers): true when any `v1` signature in the header
 * matches and the timestamp is within `toleranceSec` of now.
 */
export function verifySignature(
  secret: string,
  headers: SignedHeaders,
  body: string,
  options: { toleranceSec?: number; nowSec?: number } = {},
): boolean {
  const ts = Number(headers['webhook-timestamp']);
  const now = options.nowSec ?? Math.floor(Date.now() / 1000);
  if (!Number.isInteger(ts) || Math.abs(now - ts) > (options.toleranceSec ?? 300)) return false;
  const expected = Buffer.from(sign(secret, headers['webhook-id'], ts, body).slice(3), 'base64');
  return headers['webhook-signature'].split(' ').some((part) => {
    const [version, sig] = part.split(',', 2);
    if (version !== 'v1' || !sig) return false;
    const given = Buffer.from(sig, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
