/**
 * Waits until a call's stored transcript has a turn matching `role` and `text` (a prefix). Bot turns are stored
 * once the caller has heard them (output is paced by playback marks), so this — not a gap in the audio, which a
 * loaded machine makes mid-sentence — is how a test knows the bot has finished a sentence before the caller speaks.
 */
import type { Db } from '../../src/db/sql.js';
import { until } from './until.js';

export function untilTranscriptHas(db: Db, callId: string, role: 'bot' | 'caller', text: string, timeoutMs = 30_000): Promise<true> {
  return until(async () => {
    const [row] = await db`select transcript from calls where id = ${callId}`;
    return (row?.transcript as Array<{ role: string; text: string }> | undefined)?.some((e) => e.role === role && e.text.startsWith(text)) || null;
  }, timeoutMs);
}
