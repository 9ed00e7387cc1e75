import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, SECRET_VARIABLES, VARIABLES, loadConfig } from '../../src/config.js';

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
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL must use postgres: or postgresql:/],
    ['PUBLIC_URL', 'not a url', /PUBLIC_URL is not a valid URL/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of/],
    ['WEBHOOK_ALLOW_HTTP', 'maybe', /WEBHOOK_ALLOW_HTTP must be true or false/],
    ['DEFAULT_LLM', 'openai', /DEFAULT_LLM is openai but OPENAI_API_KEY is not set/],
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

  it('rejects an overlap as large as the chunk', () => {
    expect(() => loadConfig({ CHUNK_SIZE: '200', CHUNK_OVERLAP: '200' })).toThrow(/CHUNK_OVERLAP/);
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
