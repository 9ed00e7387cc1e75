/**
 * The recording services from the server's settings: the store (S3-compatible when RECORDINGS_S3_BUCKET and its
 * credentials are set, else files under RECORDINGS_DIR, default DATA_DIR/recordings), the spool where web-call WAVs
 * grow, and Twilio's recordings (fetch and delete) when the account's REST credentials are set.
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Recordings } from './call-recording.js';
import { FsRecordingStore } from './fs-store.js';
import { S3RecordingStore } from './s3-store.js';
import { TwilioRecordings } from './twilio-recordings.js';

/** Also a RecordingDeleter (store and twilio). */
export type RecordingServices = Recordings & {
  twilio: TwilioRecordings | null;
  /** At shutdown, once no call records any more: removes a throwaway database's temporary recordings directory. */
  close(): Promise<void>;
};

type Settings = Pick<Config, 'DATA_DIR' | 'TWILIO_ACCOUNT_SID' | 'TWILIO_AUTH_TOKEN' | 'TWILIO_API_URL' | `RECORDINGS_${string}` & keyof Config>;

export function recordingServices(config: Settings): RecordingServices {
  // A throwaway database (memory://) keeps its recordings in the temporary directory, per process, and takes them
  // with it when the server stops (unless RECORDINGS_DIR names a directory of the operator's).
  const throwaway = config.DATA_DIR.startsWith('memory://') && !config.RECORDINGS_DIR;
  const dir = config.RECORDINGS_DIR ?? (throwaway ? join(tmpdir(), `parley-recordings-${process.pid}`) : join(config.DATA_DIR, 'recordings'));
  const s3 = config.RECORDINGS_S3_BUCKET && config.RECORDINGS_S3_ACCESS_KEY_ID && config.RECORDINGS_S3_SECRET_ACCESS_KEY
    ? new S3RecordingStore({
        endpoint: config.RECORDINGS_S3_ENDPOINT ?? `https://s3.${config.RECORDINGS_S3_REGION}.amazonaws.com`,
        bucket: config.RECORDINGS_S3_BUCKET,
        region: config.RECORDINGS_S3_REGION,
        accessKeyId: config.RECORDINGS_S3_ACCESS_KEY_ID,
        secretAccessKey: config.RECORDINGS_S3_SECRET_ACCESS_KEY,
        ...(config.RECORDINGS_S3_PREFIX ? { prefix: config.RECORDINGS_S3_PREFIX } : {}),
      })
    : null;
  const twilio = config.TWILIO_ACCOUNT_SID && config.TWILIO_AUTH_TOKEN
    ? new TwilioRecordings({ accountSid: config.TWILIO_ACCOUNT_SID, authToken: config.TWILIO_AUTH_TOKEN, baseUrl: config.TWILIO_API_URL })
    : null;
  // The spool sits in the store's directory for the filesystem store, so a finished WAV is moved, not copied.
  return {
    store: s3 ?? new FsRecordingStore(dir),
    spoolDir: join(dir, '.spool'),
    twilio,
    close: async () => {
      if (throwaway) await rm(dir, { recursive: true, force: true });
    },
  };
}
