/**
 * Vitest global setup: every temporary file a test run makes — the tests' own mkdtemp dirs, a server's
 * recordings under a memory:// DATA_DIR, local TTS and grammar files, child processes' — lands in one directory
 * made for the run and removed when it ends. Test workers and the processes they spawn inherit TMPDIR, and
 * os.tmpdir() reads it on each call. Without it each full run left ~100 directories in /tmp.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'parley-test-run-'));
  process.env.TMPDIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
