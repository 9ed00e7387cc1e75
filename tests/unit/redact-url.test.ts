/**
 * Secrets never reach the request log, wherever in the URL a client puts them: a path segment (`/v1/bots/pk_…`),
 * the whole path, a matrix parameter (`;token=…`), a bare query key (`?pk_…`), percent-encoded or not. Routes'
 * own paths (ids, words, asset names) stay readable.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp, redactUrl } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import type { RootSql } from '../../src/db/sql.js';
import { createLogger } from '../../src/log.js';
import { signCallToken } from '../../src/telephony/call-token.js';

// The shapes the server issues: api/keys.ts, webhooks/signing.ts, telephony/web/tokens.ts, telephony/call-token.ts.
const API_KEY = `pk_${randomBytes(4).toString('hex')}_${randomBytes(32).toString('base64url')}`;
const WEBHOOK_SECRET = 'whsec_' + 'ab+/'.repeat(4) + randomBytes(24).toString('base64');
const WEB_CALL_TOKEN = `wct_${randomBytes(8).toString('base64url')}`;
const CALL_TOKEN = signCallToken('secret', { callId: randomUUID(), aud: 'voicemail', exp: 1 });
const GENERATED = randomBytes(32).toString('base64url'); // a generated secret (secrets-file.ts), no prefix

describe('redactUrl: secrets anywhere in the URL', () => {
  it.each([
    [`/v1/bots/${API_KEY}`, '/v1/bots/[redacted]'],
    [`/${API_KEY}`, '/[redacted]'],
    [`/v1/calls;token=${API_KEY}`, '/v1/calls;token=[redacted]'],
    [`/v1/calls?${API_KEY}`, '/v1/calls?[redacted]'],
    [`/v1/calls?${API_KEY}=1&limit=5`, '/v1/calls?[redacted]&limit=[redacted]'],
    [`/v1/bots/${encodeURIComponent(API_KEY).replace('_', '%5F')}/calls`, '/v1/bots/[redacted]'],
    [`/v1/company/webhook/${WEBHOOK_SECRET}/x`, '/v1/company/webhook/[redacted]'],
    [`/call/${WEB_CALL_TOKEN}`, '/call/[redacted]'],
    [`/twilio/voicemail/${CALL_TOKEN}.wav`, '/twilio/voicemail/[redacted]'],
    [`/v1/${GENERATED}`, '/v1/[redacted]'],
    [`/v1/calls;${API_KEY}`, '/v1/calls;[redacted]'],
    [`/v1/calls?limit=5#${API_KEY}`, '/v1/calls?limit=[redacted]#[redacted]'],
  ])('%s', (url, logged) => {
    expect(redactUrl(url)).toBe(logged);
  });

  it('keeps routes readable: ids, words, file names, short query names', () => {
    const id = randomUUID();
    for (const url of [
      `/v1/bots/${id}/knowledge/${randomUUID()}`,
      `/twilio/voicemail/${id}.wav`,
      '/call-assets/playback-worklet.js',
      '/v1/company/webhook/rotate-secret',
      '/v1/privacy/retention',
      '/openapi.json',
    ]) expect(redactUrl(url)).toBe(url);
    expect(redactUrl(`/v1/calls?limit=5&cursor=${GENERATED}&default_country=US`)).toBe('/v1/calls?limit=[redacted]&cursor=[redacted]&default_country=[redacted]');
  });

  it('the request log of a running app holds none of them', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const app = await buildApp({ config: testConfig(), sql: {} as RootSql, log: createLogger('info', stream), adminToken: 'x' });
    for (const url of [`/v1/bots/${API_KEY}`, `/${API_KEY}`, `/v1/calls;token=${API_KEY}`, `/v1/calls?${API_KEY}`]) {
      await app.inject({ method: 'GET', url });
    }
    await app.close();
    const logged = lines.join('');
    expect(logged).toContain('"url":"/v1/bots/[redacted]"');
    expect(logged).not.toContain(API_KEY.slice(12)); // the key's secret part
    expect(logged).not.toContain(API_KEY.slice(0, 12)); // nor its prefix, which names the key
  });
});
