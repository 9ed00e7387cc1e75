/**
 * Recording one call Parley carries itself (web calls; Twilio records its own calls): start() wraps the
 * transport and spools a WAV; save() finalises it when the call has ended, puts it in the RecordingStore and
 * stores its key on the call. A failure loses the recording, never the call.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../db/sql.js';
import type { CallTransport } from '../telephony/transport.js';
import { CallAudioRecorder } from './call-audio-recorder.js';
import { RecordingTransport } from './recording-transport.js';
import { saveStoredRecording } from './repo.js';
import { recordingKey, type RecordingStore } from './store.js';

export interface Recordings {
  store: RecordingStore;
  /** Where WAVs grow while their call runs (on the store's filesystem for the filesystem store: moved, not copied). */
  spoolDir: string;
}

export interface ActiveRecording {
  transport: CallTransport;
  /** Finalise and store; the stored key (null when nothing was recorded). */
  save(db: Db): Promise<string | null>;
}

export async function startCallRecording(recordings: Recordings, call: { callId: string; companyId: string }, transport: CallTransport): Promise<ActiveRecording> {
  await mkdir(recordings.spoolDir, { recursive: true });
  const path = join(recordings.spoolDir, `${call.callId}.wav`);
  const recorder = new CallAudioRecorder({ path, input: transport.inputFormat, output: transport.outputFormat });
  return {
    transport: new RecordingTransport(transport, recorder),
    async save(db: Db): Promise<string | null> {
      try {
        const { durationSec, bytes } = await recorder.finish();
        if (bytes === 0) return null;
        const key = recordingKey(call.companyId, call.callId);
        await recordings.store.put(key, path, 'audio/wav');
        await saveStoredRecording(db, { callId: call.callId, companyId: call.companyId, key, durationSec, channels: 2 });
        return key;
      } finally {
        await rm(path, { force: true });
      }
    },
  };
}
