/**
 * X-Twilio-Signature checks against the PUBLIC URL Twilio called (never Host headers, which a proxy or an
 * attacker controls). Form webhooks sign URL + sorted POST params; the media-stream handshake signs the wss URL
 * with no params.
 */
// The signature functions alone, not the package's index (its REST client is ~5 MB of heap on the call loop's thread).
import { getExpectedTwilioSignature, validateRequest } from 'twilio/lib/webhooks/webhooks.js';

export function publicUrl(publicOrigin: string, path: string): string {
  return `${publicOrigin.replace(/\/+$/, '')}${path}`;
}

export function publicWsUrl(publicOrigin: string, path: string): string {
  return publicUrl(publicOrigin, path).replace(/^http/, 'ws');
}

export function isValidFormSignature(authToken: string, signature: unknown, url: string, params: Record<string, unknown>): boolean {
  if (typeof signature !== 'string' || signature.length === 0) return false;
  return validateRequest(authToken, signature, url, params);
}

/** Media-stream handshake: Twilio signs the exact wss URL, with or without a trailing slash. */
export function isValidHandshakeSignature(authToken: string, signature: unknown, wsUrl: string): boolean {
  if (typeof signature !== 'string' || signature.length === 0) return false;
  return validateRequest(authToken, signature, wsUrl, {}) || validateRequest(authToken, signature, `${wsUrl}/`, {});
}

/** What a Twilio client computes, for the simulator and tests. */
export function computeSignature(authToken: string, url: string, params: Record<string, string>): string {
  return getExpectedTwilioSignature(authToken, url, params);
}
