/**
 * The reader of PGlite's data-directory dumps (src/db/pglite-dump.ts): ustar entries of directories and files, read
 * as any input is. Archives are built here field by field, as a ustar writer lays them out.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readDump, writeDump } from '../../src/db/pglite-dump.js';

function header(name: string, type: string, size: number): Uint8Array {
  const h = new Uint8Array(512);
  const put = (at: number, s: string) => h.set(new TextEncoder().encode(s), at);
  put(0, name);
  put(100, '0000644\0');
  put(124, `${size.toString(8).padStart(11, '0')}\0`);
  put(156, type);
  put(257, 'ustar\0');
  return h;
}

function archive(entries: { name: string; type?: string; data?: string }[], end = true): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = new TextEncoder().encode(e.data ?? '');
    parts.push(header(e.name, e.type ?? (e.data === undefined ? '5' : '0'), data.length));
    if (data.length) {
      const padded = new Uint8Array(Math.ceil(data.length / 512) * 512);
      padded.set(data);
      parts.push(padded);
    }
  }
  if (end) parts.push(new Uint8Array(1024));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("PGlite's dump of a data directory", () => {
  it('is written under the directory: paths from the root made relative, modes as given, contents exact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-dump-'));
    dirs.push(dir);
    const big = 'x'.repeat(1300);
    await writeDump(archive([{ name: '/global' }, { name: '/global/pg_control', data: 'control' }, { name: '/base' }, { name: '/base/5' }, { name: '/base/5/1259', data: big }, { name: '/PG_VERSION', data: '17\n' }]), dir, { dir: 0o700, file: 0o600 });
    expect(readFileSync(join(dir, 'global/pg_control'), 'utf8')).toBe('control');
    expect(readFileSync(join(dir, 'base/5/1259'), 'utf8')).toBe(big);
    expect(readFileSync(join(dir, 'PG_VERSION'), 'utf8')).toBe('17\n');
    expect(statSync(join(dir, 'base/5')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'base/5/1259')).mode & 0o777).toBe(0o600);
  });

  it.each(['/../escape', '../escape', '/global/../../escape', '/', '.'])('refuses a path outside the directory: %s', (name) => {
    expect(() => readDump(archive([{ name, data: 'x' }]))).toThrow(/outside the data directory/);
  });

  it.each([['2', 'a symbolic link'], ['1', 'a hard link'], ['x', 'a pax header']])('refuses an entry of type %s (%s)', (type) => {
    expect(() => readDump(archive([{ name: '/global/link', type, data: '' }]))).toThrow(/only files and directories/);
  });

  it('refuses an archive cut inside a file or without its end', () => {
    const whole = archive([{ name: '/PG_VERSION', data: 'x'.repeat(2000) }]);
    expect(() => readDump(whole.subarray(0, 1024))).toThrow(/ends inside a file/);
    expect(() => readDump(archive([{ name: '/PG_VERSION', data: '17' }], false))).toThrow(/no end/);
  });
});
