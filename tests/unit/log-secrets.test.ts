/**
 * Secrets never reach a log line, whatever key spelling or depth they ride at: the Twilio auth token
 * (authToken / TWILIO_AUTH_TOKEN), provider keys, an Authorization header written Authorization (as HTTP clients
 * and SDK errors carry it), webhook secrets nested in an error's details.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream, log: createLogger('info', stream) };
}

describe('log redaction at any depth and spelling', () => {
  it('censors the Twilio auth token, provider keys and Authorization headers', () => {
    const { lines, log } = capture();
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
    const { lines, log } = capture();
    log.info({ usage: { inputTokens: 12, maxTokens: 100 }, keyId: 'k1', tokenTtlMs: 60000 }, 'usage');
    const entry = JSON.parse(lines[0]!);
    expect(entry.usage).toEqual({ inputTokens: 12, maxTokens: 100 });
    expect(entry.keyId).toBe('k1');
    expect(entry.tokenTtlMs).toBe(60000);
  });
});
