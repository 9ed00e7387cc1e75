/**
 * Short-lived signed tokens tying a media socket to the call row created by the voice webhook
 * (`<Parameter name="token">` — the Stream URL cannot carry a query string). HMAC-SHA256, no state.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface CallTokenClaims {
  callId: string;
  /** Purpose, so a token minted for one use cannot be replayed for another. */
  aud: 'twilio-media' | 'web-call' | 'voicemail';
  exp: number;
}

export function signCallToken(secret: string, claims: CallTokenClaims): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const mac = createHmac('sha256', secret).update(body).digest('base64url');
  return `${body}.${mac}`;
}

export function verifyCallToken(secret: string, token: string, aud: CallTokenClaims['aud'], now = Date.now()): CallTokenClaims | null {
  const [body, mac] = token.split('.');
  if (!body || !mac) return null;
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let claims: CallTokenClaims;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as CallTokenClaims;
  } catch {
    return null;
  }
  if (claims.aud !== aud || typeof claims.callId !== 'string' || typeof claims.exp !== 'number' || claims.exp < now) return null;
  return claims;
}
