/**
 * Generated secrets (ADMIN_TOKEN, CALL_TOKEN_SECRET, the development TWILIO_AUTH_TOKEN) are HMAC keys and bearer
 * tokens: a secret file left empty (a crash or a full disk between creating and writing it) must never become an
 * empty key — anyone can compute HMAC-SHA1/256 with an empty key and forge Twilio signatures or call tokens.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { persistentSecret } from '../../src/secrets-file.js';

describe('persistentSecret', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'parley-secret-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('generates a 43-character secret once, mode 0600, and reads the same one back', () => {
    const d = dir();
    const a = persistentSecret(d, 'call-token-secret');
    expect(a.created).toBe(true);
    expect(a.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(a.path!).mode & 0o777).toBe(0o600);
    const b = persistentSecret(d, 'call-token-secret');
    expect(b).toMatchObject({ value: a.value, created: false });
  });

  it.each(['', '\n', '   \n'])('never returns an empty secret from a file holding %j: a new one is generated', (content) => {
    const d = dir();
    writeFileSync(join(d, 'twilio-auth-token'), content, { mode: 0o600 });
    const s = persistentSecret(d, 'twilio-auth-token');
    expect(s.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.created).toBe(true);
    expect(readFileSync(join(d, 'twilio-auth-token'), 'utf8').trim()).toBe(s.value);
  });

  it('refuses a secret file holding a guessable short value instead of using it as a key', () => {
    const d = dir();
    writeFileSync(join(d, 'admin-token'), 'abc\n', { mode: 0o600 });
    expect(() => persistentSecret(d, 'admin-token')).toThrow(/admin-token/);
  });
});
