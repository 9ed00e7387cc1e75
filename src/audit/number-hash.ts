/**
 * The audit log's stand-in for a person's phone number (a consent, a do-not-call entry, an erasure): a keyed hash
 * (HMAC-SHA-256, 128 bits shown). The same number gives the same hash within a deployment, so entries about one
 * person can be followed; without the key it cannot be turned back into the number — an unkeyed hash of a number
 * can, by hashing every number of the area in milliseconds (there are only ~10^10).
 */
import { createHmac } from 'node:crypto';

/** The key, derived from a secret every instance of the deployment shares (main.ts passes ADMIN_TOKEN's value). */
export function numberHashKey(secret: string): Buffer {
  return createHmac('sha256', secret).update('parley: audit-log hash of phone numbers, v1').digest();
}

export function hashNumber(phone: string, key: Buffer): string {
  return `hmac:${createHmac('sha256', key).update(phone).digest('hex').slice(0, 32)}`;
}
