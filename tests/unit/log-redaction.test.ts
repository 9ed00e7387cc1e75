import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp, redactUrl } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { RootSql } from '../../src/db/sql.js';
import { twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { webCallPageRoute } from '../../src/web/page-route.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe('logs', () => {
  it('are JSON and never carry secrets', () => {
    const { lines, stream } = capture();
    const log = createLogger('info', stream);
    log.info({ apiKey: 'pk_secret', token: 'tok', nested: { secret: 'whsec_x', password: 'p' }, req: { headers: { authorization: 'Bearer pk_abc' } } }, 'hello');
    const entry = JSON.parse(lines[0]!);
    expect(entry.msg).toBe('hello');
    expect(lines[0]).not.toMatch(/pk_secret|pk_abc|whsec_x|"tok"|"p"/);
    expect(entry.req.headers.authorization).toBe('[redacted]');
  });

  it('each request line has a request id, echoed to the client, and no authorization header', async () => {
    const { lines, stream } = capture();
    const app = await buildApp({
      config: testConfig(), sql: {} as RootSql, log: createLogger('info', stream), adminToken: 'x',
    });
    const res = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'req-42', authorization: 'Bearer pk_live_secret' } });
    expect(res.headers['x-request-id']).toBe('req-42');
    const mine = lines.map((l) => JSON.parse(l)).filter((e) => e.reqId === 'req-42');
    expect(mine.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain('pk_live_secret');
    await app.close();
  });

  it('never carry query values (phone numbers, tokens) on any route', async () => {
    const { lines, stream } = capture();
    const sql = {} as RootSql;
    const app = await buildApp({
      config: testConfig(), sql, log: createLogger('info', stream), adminToken: 'x',
      publicRoutes: [twilioVoiceRoutes({ sql, authToken: 'tw', publicOrigin: 'https://p.example', callTokenSecret: 's' }), webCallPageRoute()],
    });
    const urls = [
      '/v1/calls?from=%2B15551234567&to=+15559876543&limit=5', // REST filter (401: no key, still logged)
      '/v1/admin/companies?phone=15551234567',
      '/v1/calls?%2B15551234567', // a bare value, no key
      '/call/0b7f7c43-2a8e-4d53-9a0e-6d5b8c4a1f00?token=wct_SECRETWEBTOKEN', // web-call page
      '/healthz?caller=%2B15551234567',
      '/no-such-route?From=%2B15551234567', // 404
    ];
    for (const url of urls) await app.inject({ method: 'GET', url });
    await app.inject({ method: 'POST', url: '/twilio/voice?From=%2B15551234567', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'CallSid=CA1' });
    const out = lines.join('\n');
    const requestLines = lines.map((l) => JSON.parse(l)).filter((e) => e.req?.url);
    expect(requestLines.length).toBeGreaterThanOrEqual(urls.length + 1); // the request lines are there
    expect(out).not.toMatch(/5551234567|5559876543|SECRETWEBTOKEN/);
    expect(requestLines.map((e) => e.req.url)).toEqual(expect.arrayContaining([
      '/v1/calls?from=[redacted]&to=[redacted]&limit=[redacted]',
      '/v1/calls?[redacted]',
      '/call/0b7f7c43-2a8e-4d53-9a0e-6d5b8c4a1f00?token=[redacted]',
      '/twilio/voice?From=[redacted]',
    ]));
    await app.close();
  });

  it('redactUrl keeps the path and the keys, never a value', () => {
    expect(redactUrl('/v1/calls')).toBe('/v1/calls');
    // Phone numbers in the path too (erasure, numbers held by a company).
    expect(redactUrl('/v1/privacy/phone-numbers/%2B15551234567')).toBe('/v1/privacy/phone-numbers/[phone]');
    expect(redactUrl('/v1/phone-numbers/+15551234567?x=1')).toBe('/v1/phone-numbers/[phone]?x=[redacted]');
    expect(redactUrl('/v1/bots/3f1e2d4c-0000-4000-8000-000000000000')).toBe('/v1/bots/3f1e2d4c-0000-4000-8000-000000000000');
    expect(redactUrl('/v1/calls?')).toBe('/v1/calls?[redacted]');
    expect(redactUrl('/v1/bookings?phone=%2B4915112345678&status=confirmed')).toBe('/v1/bookings?phone=[redacted]&status=[redacted]');
    expect(redactUrl('/x?a&b=&%2B1555=1')).toBe('/x?a=[redacted]&b=[redacted]&[redacted]');
  });
});

// Secrets never reach a log line, whatever key spelling or depth they ride at: the Twilio auth token
// (authToken / TWILIO_AUTH_TOKEN), provider keys, an Authorization header as SDK errors carry it, webhook secrets
// nested in an error's details.
describe('log redaction at any depth and spelling', () => {
  it('censors the Twilio auth token, provider keys and Authorization headers', () => {
    const { lines, stream } = capture();
    const log = createLogger('info', stream);
    log.info({ twilio: { accountSid: 'AC123', authToken: 'tw-auth-SECRET1' } }, 'twilio client');
    log.info({ TWILIO_AUTH_TOKEN: 'tw-auth-SECRET2', OPENAI_API_KEY: 'sk-SECRET3' }, 'config');
    log.warn({ request: { headers: { Authorization: 'Bearer pk_0123abcd_SECRET4' } } }, 'upstream');
    const err = Object.assign(new Error('request failed'), {
      config: { headers: { Authorization: 'Token dg-SECRET5', 'X-Api-Key': 'cartesia-SECRET6' } },
      details: { company: { webhook: { secret: 'whsec_SECRET7' } } },
    });
    log.error({ err }, 'provider failed');
    const out = lines.join('\n');
    expect(out).not.toMatch(/SECRET\d/);
    // What is not secret stays readable.
    expect(out).toContain('AC123');
    expect(out).toContain('request failed');
    expect(JSON.parse(lines[0]!).twilio.authToken).toBe('[redacted]');
  });

  it('keeps counts and other fields whose names merely contain token or key', () => {
    const { lines, stream } = capture();
    const log = createLogger('info', stream);
    log.info({ usage: { inputTokens: 12, maxTokens: 100 }, keyId: 'k1', tokenTtlMs: 60000 }, 'usage');
    const entry = JSON.parse(lines[0]!);
    expect(entry.usage).toEqual({ inputTokens: 12, maxTokens: 100 });
    expect(entry.keyId).toBe('k1');
    expect(entry.tokenTtlMs).toBe(60000);
  });
});
