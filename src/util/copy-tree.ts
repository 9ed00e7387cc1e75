/**
 * Copies a directory tree with many file copies in flight at once. Node's fs.cp copies one file after another
 * from JavaScript: 600–670 ms for a PGlite cluster's 1,160 files here, against ~270 ms with 32 at a time (the
 * copies run on libuv's thread pool). Each file is a real copy (a copy-on-write clone where the file system has
 * them: still a copy, since PostgreSQL rewrites its files in place), with its mode; directories keep theirs.
 * Only directories and regular files: a tree with anything else (links, sockets) is refused.
 */
import { constants } from 'node:fs';
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { eachLimited } from './each-limited.js';

export async function copyTree(from: string, to: string, concurrency = 32): Promise<void> {
  const entries = await readdir(from, { withFileTypes: true, recursive: true });
  const files: string[] = [];
  const dirs: string[] = [];
  for (const e of entries) {
    const path = join(e.parentPath ?? e.path, e.name);
    if (e.isDirectory()) dirs.push(path);
    else if (e.isFile()) files.push(path);
    else throw new Error(`copyTree: ${path} is neither a file nor a directory`);
  }
  dirs.sort((a, b) => a.length - b.length); // a parent's path is shorter than its children's
  await mkdir(dirname(to), { recursive: true });
  await mkdir(to, { mode: (await stat(from)).mode & 0o7777 });
  for (const dir of dirs) await mkdir(join(to, relative(from, dir)), { mode: (await stat(dir)).mode & 0o7777 });
  await eachLimited(files, concurrency, (file) => copyFile(file, join(to, relative(from, file)), constants.COPYFILE_FICLONE));
}
