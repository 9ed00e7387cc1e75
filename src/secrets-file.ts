/**
 * Secrets the operator did not set are generated once and kept in DATA_DIR (mode 0600), so a restart keeps
 * them and they never appear in a log line: the log says where the file is, not what is in it.
 *
 * The file is written whole or not at all (a temporary file renamed into place), and an empty one — left by a
 * crash or a full disk under an older version — is replaced: these values are HMAC keys (Twilio signatures,
 * call tokens) and bearer tokens, and an empty key is one anybody can sign with. A short one is refused.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Generated secrets have 43 characters; anything under this is not one of ours and too weak to be a key. */
export const MIN_SECRET_CHARS = 32;

export function persistentSecret(dataDir: string, name: string): { value: string; path: string | null; created: boolean } {
  if (dataDir.startsWith('memory://')) return { value: randomBytes(32).toString('base64url'), path: null, created: true };
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, name);
  if (existsSync(path)) {
    const stored = readFileSync(path, 'utf8').trim();
    if (stored.length >= MIN_SECRET_CHARS) return { value: stored, path, created: false };
    if (stored.length > 0) {
      throw new Error(`${path} holds a secret shorter than ${MIN_SECRET_CHARS} characters; delete the file to have a new one generated`);
    }
  }
  const value = randomBytes(32).toString('base64url');
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, `${value}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return { value, path, created: true };
}
