/** RecordingStore on the local filesystem: `<dir>/<company>/<call>.wav`, written by rename (atomic, no copy). */
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { assertKey, type RecordingStore, type StoredObject } from './store.js';

export class FsRecordingStore implements RecordingStore {
  readonly name = 'filesystem' as const;
  constructor(readonly dir: string) {}

  private pathOf(key: string): string {
    assertKey(key);
    return join(this.dir, key);
  }

  async put(key: string, path: string, _contentType?: string): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    try {
      await rename(path, target);
    } catch (err) {
      // Another filesystem (the spool elsewhere): copy, then remove the spooled file.
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await copyFile(path, target);
      await unlink(path);
    }
  }

  async open(key: string): Promise<StoredObject | null> {
    const path = this.pathOf(key);
    try {
      const s = await stat(path);
      return { body: createReadStream(path), size: s.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}
