/**
 * A call answering-machine detection found a machine on (Twilio's `AnsweredBy` at the answer URL of a call placed
 * with detection: `hang_up_on_machine`, a campaign's voicemail setting): no conversation, and the reason its end
 * will carry — whoever ends it (Twilio's status callback, the ask of Twilio, the sweep; lifecycle.ts endCallInTx) —
 * is the machine's (before, such a call ended `completed` / `caller_hangup` like a conversation).
 */
import type { Db } from '../db/sql.js';
import type { CallEndReason } from './end-reasons.js';

/** A machine or a fax (`machine_start`, `machine_end_beep|_silence|_other`, `fax`); `human` and `unknown` get the bot. */
export function isMachineVerdict(answeredBy: string): boolean {
  return answeredBy.startsWith('machine') || answeredBy === 'fax';
}

/** The end reason of a call a machine answered: a fax, a message left on it, or hung up on without a word. */
export function machineEndReason(answeredBy: string, messageLeft: boolean): CallEndReason {
  if (answeredBy === 'fax') return 'fax';
  const verdict = answeredBy.slice(0, 40);
  return messageLeft ? `voicemail_left: ${verdict}` : `voicemail_hung_up: ${verdict}`;
}

/** Records on the call what detection decided: the reason it will end with, and why it had no conversation. */
export async function recordMachineAnswer(db: Db, callId: string, answer: { reason: CallEndReason; failure: string }): Promise<void> {
  await db`update calls set machine_end_reason = ${answer.reason}, failure_reason = ${answer.failure}, updated_at = now() where id = ${callId}`;
}
