import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret, sign, signedHeaders, verifySignature } from '../../src/webhooks/signing.js';

/** The spec's algorithm written out independently of src/: HMAC-SHA256 over "id.timestamp.body". */
function specSignature(secret: string, id: string, ts: string, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
}

describe('Standard Webhooks signing', () => {
  const body = JSON.stringify({ id: 'evt_1', type: 'call.ended', data: { call_id: 'c1', note: 'привет' } });

  it('generates whsec_ secrets of 32 random bytes', () => {
    const a = generateWebhookSecret();
    const b = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(32);
    expect(a).not.toBe(b);
  });

  it('matches the spec algorithm byte for byte', () => {
    const secret = generateWebhookSecret();
    const ts = 1_700_000_000;
    expect(sign(secret, 'evt_1', ts, body)).toBe(`v1,${specSignature(secret, 'evt_1', String(ts), body)}`);
  });

  it('is accepted by the standardwebhooks library', () => {
    const secret = generateWebhookSecret();
    const headers = signedHeaders([secret], 'evt_abc', Math.floor(Date.now() / 1000), body);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    // And the library's own signature equals ours.
    const ts = new Date(1_700_000_000_000);
    expect(new Webhook(secret).sign('evt_abc', ts, body)).toBe(sign(secret, 'evt_abc', 1_700_000_000, body));
  });

  it('sends both signatures during rotation, each verifiable with its own secret', () => {
    const current = generateWebhookSecret();
    const previous = generateWebhookSecret();
    const headers = signedHeaders([current, previous], 'evt_rot', Math.floor(Date.now() / 1000), body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(current).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(previous).verify(body, { ...headers })).not.toThrow();
    expect(verifySignature(previous, headers, body)).toBe(true);
    expect(() => new Webhook(generateWebhookSecret()).verify(body, { ...headers })).toThrow();
  });

  it('rejects a tampered body, a wrong secret and a stale timestamp', () => {
    const secret = generateWebhookSecret();
    const now = Math.floor(Date.now() / 1000);
    const headers = signedHeaders([secret], 'evt_t', now, body);
    expect(verifySignature(secret, headers, body)).toBe(true);
    expect(verifySignature(secret, headers, body.replace('c1', 'c2'))).toBe(false);
    expect(verifySignature(generateWebhookSecret(), headers, body)).toBe(false);
    const stale = signedHeaders([secret], 'evt_t', now - 3600, body);
    expect(verifySignature(secret, stale, body)).toBe(false);
    expect(() => new Webhook(secret).verify(body, { ...stale })).toThrow();
  });
});
