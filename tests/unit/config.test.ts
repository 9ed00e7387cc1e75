import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, SECRET_VARIABLES, VARIABLES, loadConfig, trustProxyOption, trustsPeer } from '../../src/config.js';

describe('config', () => {
  it('has working defaults for a fresh machine', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.DATA_DIR).toBe('./data');
    expect(c.UPLOAD_MAX_BYTES).toBe(20 * 1024 * 1024);
    expect(c.WEBHOOK_ALLOW_HTTP).toBe(false);
  });

  it.each([
    ['PORT', 'abc', /PORT must be an integer/],
    ['PORT', '70000', /PORT must be between/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL must start with postgres:\/\/ or postgresql:\/\/$/], // a secret: never echoed
    ['PUBLIC_URL', 'not a url', /PUBLIC_URL is not a valid URL/],
    // "localhost:3000" parses as a URL of protocol "localhost:": the message says what to write instead.
    ['PUBLIC_URL', 'localhost:3000', /PUBLIC_URL must start with http:\/\/ or https:\/\/, e\.g\. https:\/\/voice\.example\.com \(got "localhost:3000"\)$/],
    ['QDRANT_URL', 'qdrant:6333', /QDRANT_URL must start with http:\/\/ or https:\/\/ \(got "qdrant:6333"\)$/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of/],
    ['WEBHOOK_ALLOW_HTTP', 'maybe', /WEBHOOK_ALLOW_HTTP must be true or false/],
    ['DEFAULT_LLM', 'openai', /DEFAULT_LLM is openai but OPENAI_API_KEY is not set/],
    ['ADMIN_TOKEN', 'admin', /ADMIN_TOKEN must be at least 32 characters/],
    ['ADMIN_TOKEN', 'x'.repeat(31), /ADMIN_TOKEN must be at least 32 characters/],
    ['TRUST_PROXY', 'everyone', /TRUST_PROXY must be true, false, a hop count/],
    ['TRUST_PROXY', '10.0.0.0/33', /TRUST_PROXY must be/],
    ['AUTH_FAILURES_PER_MIN', '0', /AUTH_FAILURES_PER_MIN must be between/],
  ])('fails fast naming %s', (name, value, message) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
    expect((error as Error).message).toMatch(message);
  });

  it('never echoes a secret value in an error', () => {
    expect(() => loadConfig({ DATABASE_POOL_MAX: 'hunter2' })).toThrow(/DATABASE_POOL_MAX/);
    expect(SECRET_VARIABLES).toEqual(expect.arrayContaining(['DATABASE_URL', 'ADMIN_TOKEN', 'OPENAI_API_KEY', 'TWILIO_AUTH_TOKEN']));
  });

  it('refuses a short ADMIN_TOKEN without echoing it, and accepts a long one or none', () => {
    expect(() => loadConfig({ ADMIN_TOKEN: 'hunter2-hunter2' })).toThrow(ConfigError);
    try {
      loadConfig({ ADMIN_TOKEN: 'hunter2-hunter2' });
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
    expect(loadConfig({ ADMIN_TOKEN: 'a'.repeat(32) }).ADMIN_TOKEN).toHaveLength(32);
    expect(loadConfig({}).ADMIN_TOKEN).toBeUndefined();
  });

  it('refuses a short CALL_TOKEN_SECRET (it signs every call token) without echoing it', () => {
    expect(() => loadConfig({ CALL_TOKEN_SECRET: 'x' })).toThrow(/CALL_TOKEN_SECRET must be at least 32 characters/);
    try {
      loadConfig({ CALL_TOKEN_SECRET: 'hunter2-hunter2' });
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
    expect(loadConfig({ CALL_TOKEN_SECRET: 'k'.repeat(32) }).CALL_TOKEN_SECRET).toHaveLength(32);
  });

  it('refuses OUTBOUND_ALLOWED_PREFIXES that are not E.164 prefixes (they would match no number)', () => {
    expect(() => loadConfig({ OUTBOUND_ALLOWED_PREFIXES: '+1,abc' })).toThrow(/OUTBOUND_ALLOWED_PREFIXES must be E\.164 prefixes/);
    expect(() => loadConfig({ OUTBOUND_ALLOWED_PREFIXES: '1' })).toThrow(ConfigError);
    expect(loadConfig({ OUTBOUND_ALLOWED_PREFIXES: '+1555, +44' }).OUTBOUND_ALLOWED_PREFIXES).toBe('+1555, +44');
  });

  it('reads TRUST_PROXY as Fastify\'s trustProxy', () => {
    expect(trustProxyOption(loadConfig({}).TRUST_PROXY)).toBe('loopback');
    expect(trustProxyOption('true')).toBe(true);
    expect(trustProxyOption('FALSE')).toBe(false);
    const twoHops = trustProxyOption('2') as (address: string, hop: number) => boolean;
    expect([0, 1, 2].map((hop) => twoHops('10.0.0.1', hop))).toEqual([true, true, false]);
    expect(trustProxyOption('10.0.0.0/8, 127.0.0.1, ::1, fd00::/8')).toBe('10.0.0.0/8, 127.0.0.1, ::1, fd00::/8');
  });

  it('rejects an overlap as large as the chunk', () => {
    expect(() => loadConfig({ CHUNK_SIZE: '200', CHUNK_OVERLAP: '200' })).toThrow(/CHUNK_OVERLAP/);
  });

  it('PUBLIC_URL follows PORT when it is not set, so the page, the signatures and npm run call agree', () => {
    expect(loadConfig({ PORT: '3471' }).PUBLIC_URL).toBe('http://localhost:3471');
    expect(loadConfig({ PORT: '3471', PUBLIC_URL: 'https://parley.example.com' }).PUBLIC_URL).toBe('https://parley.example.com');
    expect(loadConfig({}).PUBLIC_URL).toBe('http://localhost:3000');
  });

  it('refuses half of a feature that needs several settings, naming what is missing', () => {
    const s3 = { RECORDINGS_S3_BUCKET: 'rec', RECORDINGS_S3_ACCESS_KEY_ID: 'AKIA', RECORDINGS_S3_SECRET_ACCESS_KEY: 'shh' };
    expect(loadConfig(s3).RECORDINGS_S3_BUCKET).toBe('rec');
    expect(() => loadConfig({ RECORDINGS_S3_BUCKET: 'rec', RECORDINGS_S3_ACCESS_KEY_ID: 'AKIA' })).toThrow(/RECORDINGS_S3_BUCKET is set but RECORDINGS_S3_SECRET_ACCESS_KEY is not/);
    expect(() => loadConfig({ RECORDINGS_S3_ACCESS_KEY_ID: 'AKIA', RECORDINGS_S3_SECRET_ACCESS_KEY: 'shh' })).toThrow(/RECORDINGS_S3_BUCKET is not/);
    expect(() => loadConfig({ RECORDINGS_S3_ENDPOINT: 'https://s3.example.com' })).toThrow(/RECORDINGS_S3_ENDPOINT is set but RECORDINGS_S3_BUCKET/);
    expect(() => loadConfig({ TWILIO_ACCOUNT_SID: 'AC123' })).toThrow(/TWILIO_ACCOUNT_SID is set but TWILIO_AUTH_TOKEN is not/);
    expect(loadConfig({ TWILIO_AUTH_TOKEN: 'tok' }).TWILIO_ACCOUNT_SID).toBeUndefined(); // signatures only: inbound calls
    expect(() => loadConfig({ QDRANT_API_KEY: 'qk' })).toThrow(/QDRANT_API_KEY is set but QDRANT_URL is not/);
    // The message names the settings, never a value.
    try {
      loadConfig({ RECORDINGS_S3_SECRET_ACCESS_KEY: 'hunter2' });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });

  it('refuses a PUBLIC_URL with a user, query or fragment (every link and Twilio signature starts with it)', () => {
    for (const url of ['https://user:pw@voice.example.com', 'https://voice.example.com/?a=1', 'https://voice.example.com/#x']) {
      expect(() => loadConfig({ PUBLIC_URL: url })).toThrow(/PUBLIC_URL must be an origin/);
    }
    expect(loadConfig({ PUBLIC_URL: 'https://voice.example.com/' }).PUBLIC_URL).toBe('https://voice.example.com');
  });

  it('every variable is listed in .env.example', () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    for (const name of Object.keys(VARIABLES)) expect(example, `.env.example has no ${name}`).toMatch(new RegExp(`^(# )?${name}=`, 'm'));
  });

  it('every variable is documented in the README with its default', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const [name, spec] of Object.entries(VARIABLES) as [string, { default?: string }][]) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\``));
      expect(row, `README has no row for ${name}`).toBeDefined();
      if (spec.default !== undefined) expect(row, `README row for ${name} lacks its default`).toContain(`\`${spec.default}\``);
    }
  });
});

describe('trustsPeer (whose connections carry other clients)', () => {
  it('reads TRUST_PROXY as Fastify does: names, addresses, CIDRs, hop counts, true and false', () => {
    const loopback = trustsPeer('loopback');
    expect([loopback('127.0.0.1'), loopback('::1'), loopback('::ffff:127.0.0.1'), loopback('203.0.113.7')]).toEqual([true, true, true, false]);
    const balancer = trustsPeer('10.1.0.0/16, 2001:db8::5');
    expect([balancer('10.1.2.3'), balancer('10.2.0.1'), balancer('2001:db8::5'), balancer('2001:db8::6')]).toEqual([true, false, true, false]);
    expect([trustsPeer('true')('203.0.113.7'), trustsPeer('false')('127.0.0.1'), trustsPeer('1')('203.0.113.7'), trustsPeer('0')('127.0.0.1')]).toEqual([true, false, true, false]);
  });

  it('refuses HTTP_REQUEST_TIMEOUT_MS shorter than HTTP_HEADERS_TIMEOUT_MS', () => {
    expect(() => loadConfig({ DATA_DIR: 'memory://', HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toThrow(/HTTP_REQUEST_TIMEOUT_MS/);
  });
});
