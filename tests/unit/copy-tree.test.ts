import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyTree } from '../../src/util/copy-tree.js';

describe('copyTree', () => {
  it('copies every file and directory, contents and modes, as copies and not links', async () => {
    const root = mkdtempSync(join(tmpdir(), 'copy-tree-'));
    const from = join(root, 'from');
    mkdirSync(join(from, 'base', '1'), { recursive: true });
    mkdirSync(join(from, 'empty'));
    for (let i = 0; i < 100; i++) writeFileSync(join(from, 'base', '1', `f${i}`), Buffer.alloc(i * 97, i));
    writeFileSync(join(from, 'PG_VERSION'), '16\n');
    chmodSync(join(from, 'PG_VERSION'), 0o600);
    chmodSync(join(from, 'base'), 0o700);
    const to = join(root, 'new', 'to');
    await copyTree(from, to, 8);
    for (let i = 0; i < 100; i++) expect(readFileSync(join(to, 'base', '1', `f${i}`)).equals(Buffer.alloc(i * 97, i))).toBe(true);
    expect(statSync(join(to, 'empty')).isDirectory()).toBe(true);
    expect(statSync(join(to, 'PG_VERSION')).mode & 0o777).toBe(0o600);
    expect(statSync(join(to, 'base')).mode & 0o777).toBe(0o700);
    writeFileSync(join(to, 'PG_VERSION'), '17\n');
    expect(readFileSync(join(from, 'PG_VERSION'), 'utf8')).toBe('16\n');
  });

  it('refuses a tree holding anything but files and directories, and a target that exists', async () => {
    const root = mkdtempSync(join(tmpdir(), 'copy-tree-'));
    const from = join(root, 'from');
    mkdirSync(from);
    writeFileSync(join(from, 'a'), 'a');
    symlinkSync(join(from, 'a'), join(from, 'link'));
    await expect(copyTree(from, join(root, 'to'))).rejects.toThrow(/neither a file nor a directory/);
    mkdirSync(join(root, 'taken'));
    const plain = join(root, 'plain');
    mkdirSync(plain);
    await expect(copyTree(plain, join(root, 'taken'))).rejects.toThrow(/EEXIST/);
  });
});
