/**
 * A call's recording as the calls row keeps it (migrations/0150): Twilio's (recording_sid, recording_url) or
 * Parley's own file (recording_key in the RecordingStore), with its duration and channel count.
 */
import type { Db } from '../db/sql.js';

export const RECORDING_SID = /^RE[0-9a-fA-F]{32}$/;

export interface TwilioRecordingReport {
  callId: string;
  callSid: string;
  recordingSid: string;
  recordingUrl: string | null;
  durationSec: number | null;
  channels: 1 | 2 | null;
}

/**
 * Stores what Twilio's recording status callback reported. 'unknown' when no call has that id and CallSid
 * (nothing is touched); 'stored' the first time; 'unchanged' for a repeated callback (or a second recording of a
 * call that already has one: the first is kept).
 */
export async function saveTwilioRecording(db: Db, r: TwilioRecordingReport): Promise<'stored' | 'unchanged' | 'unknown' | 'erased'> {
  const [call] = await db<{ id: string; company_id: string; recording_sid: string | null; erased: boolean }[]>`
    select id, company_id, recording_sid, erased_at is not null as erased from calls
    where id = ${r.callId} and twilio_call_sid = ${r.callSid} and company_id is not null`;
  if (!call) return 'unknown';
  if (call.erased) {
    // The call's number was erased before Twilio reported its recording: the recording is deleted at Twilio, not kept.
    await db`insert into recording_deletions (company_id, recording_sid) values (${call.company_id}, ${r.recordingSid})`;
    return 'erased';
  }
  if (call.recording_sid) return 'unchanged';
  const rows = await db`
    update calls set recording_sid = ${r.recordingSid}, recording_url = ${r.recordingUrl},
      recording_duration_sec = ${r.durationSec}, recording_channels = ${r.channels}, updated_at = now()
    where id = ${r.callId} and recording_sid is null`;
  return rows.count > 0 ? 'stored' : 'unchanged';
}

/** A web call's WAV, once finalised and put in the store. */
export async function saveStoredRecording(db: Db, r: { callId: string; companyId: string; key: string; durationSec: number; channels: 1 | 2 }): Promise<void> {
  const stored = await db`
    update calls set recording_key = ${r.key}, recording_duration_sec = ${r.durationSec}, recording_channels = ${r.channels}, updated_at = now()
    where id = ${r.callId} and company_id = ${r.companyId} and erased_at is null`;
  // The call's number was erased while it was recorded: the file goes where erased recordings go.
  if (stored.count === 0) await db`insert into recording_deletions (company_id, recording_key) values (${r.companyId}, ${r.key})`;
}

export interface CallRecording {
  recording_sid: string | null;
  recording_key: string | null;
  recording_url: string | null;
  recording_duration_sec: number | null;
  recording_channels: number | null;
}

/** The company's call's recording reference; undefined when the call is not the company's or has none. */
export async function recordingOfCall(db: Db, companyId: string, callId: string): Promise<CallRecording | undefined> {
  const [row] = await db<CallRecording[]>`
    select recording_sid, recording_key, recording_url, recording_duration_sec, recording_channels
    from calls where id = ${callId} and company_id = ${companyId} and (recording_sid is not null or recording_key is not null)`;
  return row;
}
