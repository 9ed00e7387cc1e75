/**
 * Phone numbers in URL paths never reach the request log: the erasure route (DELETE /v1/privacy/phone-numbers/{n})
 * and the number routes, whatever shape the number is written in, and any other path segment that is a number.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp, redactUrl } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import type { RootSql } from '../../src/db/sql.js';
import { createLogger } from '../../src/log.js';

describe('phone numbers in request paths', () => {
  it('are redacted in the request lines of the erasure and number routes (logged before auth and validation)', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const app = await buildApp({ config: testConfig(), sql: {} as RootSql, log: createLogger('info', stream), adminToken: 'x' });
    const urls = [
      '/v1/privacy/phone-numbers/%2B15551234567',
      '/v1/privacy/phone-numbers/+15551234567',
      '/v1/privacy/phone-numbers/%2B1%20(555)%20123-4567',
      '/v1/privacy/phone-numbers/555.123.4567',
      '/v1/admin/phone-numbers/%2B4915112345678',
    ];
    for (const url of urls) await app.inject({ method: 'DELETE', url });
    await app.close();
    const logged = lines.join('\n');
    for (const digits of ['5551234567', '1234567', '4915112345678', '123-4567', '555.123']) expect(logged).not.toContain(digits);
    const requestUrls = lines.map((l) => JSON.parse(l) as { req?: { url: string } }).flatMap((e) => (e.req ? [e.req.url] : []));
    expect(requestUrls).toEqual(expect.arrayContaining(['/v1/privacy/phone-numbers/[phone]', '/v1/admin/phone-numbers/[phone]']));
    expect(requestUrls.length).toBe(urls.length);
  });

  it('redactUrl: any number-shaped segment, and whatever follows phone-numbers; ids and words stay', () => {
    expect(redactUrl('/v1/privacy/phone-numbers/%2B1%20(555)%20123-4567')).toBe('/v1/privacy/phone-numbers/[phone]');
    expect(redactUrl('/v1/privacy/phone-numbers/not-a-number')).toBe('/v1/privacy/phone-numbers/[phone]');
    expect(redactUrl('/v1/phone-numbers')).toBe('/v1/phone-numbers');
    expect(redactUrl('/v1/phone-numbers/')).toBe('/v1/phone-numbers/');
    expect(redactUrl('/v1/contacts/555-123-4567/consent')).toBe('/v1/contacts/[phone]/consent');
    expect(redactUrl('/v1/calls/3f1e2d4c-0000-4000-8000-000000000000/recording')).toBe('/v1/calls/3f1e2d4c-0000-4000-8000-000000000000/recording');
    expect(redactUrl('/v1/usage/calls/2026')).toBe('/v1/usage/calls/2026');
    expect(redactUrl('/v1/x/%E0%A4%A')).toBe('/v1/x/%E0%A4%A');
  });
});
