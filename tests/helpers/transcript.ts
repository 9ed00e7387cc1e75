/**
 * A call's stored transcript, as the API reads it (src/db/calls.ts transcriptOf: a row per turn, in order), and a
 * wait for a turn to be stored. Bot turns are stored once the caller has heard them (output is paced by playback
 * marks), so waiting for the stored turn — not a gap in the audio, which a loaded machine makes mid-sentence — is
 * how a test knows the bot has finished a sentence before the caller speaks.
 */
import { transcriptOf, type TranscriptEntry } from '../../src/db/calls.js';
import type { Db } from '../../src/db/sql.js';
import { until } from './until.js';

/** The call's transcript ([] for a call without turns or without a row). */
export async function storedTranscript(db: Db, callId: string): Promise<TranscriptEntry[]> {
  const [row] = await db<{ transcript: TranscriptEntry[] }[]>`select ${transcriptOf(db)} as transcript from calls c where c.id = ${callId}`;
  return row?.transcript ?? [];
}

/** Stores turns on a call (fixtures): what the live call's appends would have written, in order. */
export async function storeTurns(db: Db, callId: string, turns: object[]): Promise<void> {
  for (const turn of turns) await db`insert into call_turns (call_id, turn) values (${callId}, ${db.json(turn as never)})`;
}

export function untilTranscriptHas(db: Db, callId: string, role: 'bot' | 'caller', text: string, timeoutMs = 30_000): Promise<true> {
  return until(async () => (await storedTranscript(db, callId)).some((e) => e.role === role && e.text.startsWith(text)) || null, timeoutMs);
}
