import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';

// tests/global-temp-dir.ts: a run's temporary files go to one directory that the run removes at its end.
describe('the test run temporary directory', () => {
  it('is what tmpdir() gives inside a test worker and in a process it spawns', () => {
    expect(basename(tmpdir())).toMatch(/^parley-test-run-/);
    const child = execFileSync(process.execPath, ['-e', 'process.stdout.write(require("node:os").tmpdir())'], { encoding: 'utf8' });
    expect(child).toBe(tmpdir());
  });
});
