/**
 * Where Parley keeps the recordings it makes itself (web calls): a key-addressed store of finished files. The
 * filesystem store (fs-store.ts) is the default, under DATA_DIR/recordings; an S3-compatible bucket (s3-store.ts)
 * when RECORDINGS_S3_* are configured. Keys are Parley's own (company/call.wav), never user input.
 */
import type { Readable } from 'node:stream';

export interface StoredObject {
  body: Readable;
  /** Bytes, when the store knows them (Content-Length). */
  size: number | null;
}

export interface RecordingStore {
  readonly name: 'filesystem' | 's3';
  /** Stores the finished local file `path` under `key`; the file is consumed (moved or uploaded, then removed). */
  put(key: string, path: string, contentType: string): Promise<void>;
  /** The stored object as a stream; null when there is none. */
  open(key: string): Promise<StoredObject | null>;
  /** Deletes the object; deleting one that is not there succeeds. */
  delete(key: string): Promise<void>;
}

/** A recording's key: one per call, under its company. */
export const recordingKey = (companyId: string, callId: string): string => `${companyId}/${callId}.wav`;

const KEY = /^[0-9a-f-]{36}\/[0-9a-f-]{36}\.wav$/;
/** Keys are made by recordingKey only; anything else (a path with .. or /) is refused by every store. */
export function assertKey(key: string): void {
  if (!KEY.test(key)) throw new Error(`Not a recording key: ${JSON.stringify(key.slice(0, 80))}`);
}
