/**
 * The do-not-call list's backstop, run with a call's analysis (outcomes/analyze-call.ts): a person who asked on the
 * call never to be called again is listed even when the bot did not call `do_not_call` (tools.ts). A cloud LLM may
 * answer "Sure, I'll make a note of that" and go on, and then the company's next campaign rings the number again —
 * a compliance failure. The same rule the scenario engine uses to call the tool (scenario/intents.ts: a list, a
 * base or a number must be named, so "take me off the waiting list" is not it) reads the caller's turns once the
 * call is over. Listing is idempotent (a number already listed stays as it was, with its first reason and source).
 */
import type { Db } from '../db/sql.js';
import type { TranscriptTurn } from '../outcomes/types.js';
import { asksNotToBeCalled } from '../scenario/intents.js';
import { isE164 } from '../util/phone.js';
import { addDnc } from './suppression.js';

/** The caller's words that asked not to be called again, if any. */
export function requestNotToBeCalled(transcript: readonly TranscriptTurn[]): string | null {
  return transcript.find((t) => t.role === 'caller' && typeof t.text === 'string' && asksNotToBeCalled(t.text))?.text ?? null;
}

/**
 * Lists the other party's number when they asked on the call not to be called again; true when this added it (false
 * when nothing was asked, the number is unknown or not E.164, or it was listed already — by the tool, for one).
 */
export async function listNumberAskedNotToBeCalled(
  db: Db,
  call: { id: string; companyId: string; otherParty: string | null },
  transcript: readonly TranscriptTurn[],
): Promise<boolean> {
  const words = requestNotToBeCalled(transcript);
  if (!words || !call.otherParty || !isE164(call.otherParty)) return false;
  const reason = `asked during the call: "${words.slice(0, 160)}"`;
  return (await addDnc(db, call.companyId, [{ phone: call.otherParty, reason }], 'call', call.id)) > 0;
}
