/**
 * Secrets the operator did not set are generated once and kept in DATA_DIR (mode 0600), so a restart keeps
 * them and they never appear in a log line: the log says where the file is, not what is in it.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function persistentSecret(dataDir: string, name: string): { value: string; path: string | null; created: boolean } {
  if (dataDir.startsWith('memory://')) return { value: randomBytes(32).toString('base64url'), path: null, created: true };
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, name);
  if (existsSync(path)) return { value: readFileSync(path, 'utf8').trim(), path, created: false };
  const value = randomBytes(32).toString('base64url');
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { value, path, created: true };
}
