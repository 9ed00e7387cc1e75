/**
 * Ends the live sessions of calls that ended elsewhere. A call's row can be ended by another party than its session
 * — Twilio's final status callback (on whichever instance it lands), the sweep of a server taken for lost, a web
 * call's expiry — and the session would otherwise talk on, paying for its STT, LLM and TTS streams, until its media
 * socket closed (never, with a lost close or a half-open connection). Every end of a call whose media started is
 * announced on CALL_END_CHANNEL (migrations/0380_call_end_notices.sql); each instance ends the session it runs for
 * that call through the session's own end (CallRunner.endLiveSession). When listening (re)starts, announcements may
 * have been missed: the calls this instance runs whose rows have ended are ended then, and every CATCH_UP_EVERY_MS
 * too (a pooler that drops notifications, a notice lost with its connection) — one indexed query while calls run
 * here, none when none do.
 */
import { endReasonCode, type CallEndReasonCode } from '../call/end-reasons.js';
import type { Database } from '../db/connect.js';
import { CALL_END_CHANNEL } from '../db/work-notifications.js';
import type { Logger } from '../log.js';
import type { CallRunner } from './call-runner.js';

export interface CallEndListener {
  stop(): Promise<void>;
}

type LiveSessions = Pick<CallRunner, 'endLiveSession' | 'activeCallIds'>;

/** A session told its call ended without saying why (a row ended before reasons were kept): the caller's end. */
const UNKNOWN_REASON: CallEndReasonCode = 'caller_hangup';

/** How often the calls running here are checked against their rows, notices or not. */
export const CATCH_UP_EVERY_MS = 30_000;

export async function listenForCallEnds(
  db: Pick<Database, 'listen' | 'sql'>,
  runner: LiveSessions,
  log: Pick<Logger, 'warn'>,
  options: { catchUpEveryMs?: number } = {},
): Promise<CallEndListener> {
  const onNotice = (payload: string): void => {
    const [callId = '', code = ''] = payload.split(' ', 2);
    runner.endLiveSession(callId, endReasonCode(code) ?? UNKNOWN_REASON);
  };
  const catchUp = async (): Promise<void> => {
    const ids = runner.activeCallIds();
    if (ids.length === 0) return;
    const ended = await db.sql<{ id: string; end_reason: string | null }[]>`
      select id::text as id, end_reason from calls where id = any(${ids}::uuid[]) and ended_at is not null`;
    for (const call of ended) runner.endLiveSession(call.id, endReasonCode(call.end_reason) ?? UNKNOWN_REASON);
  };
  const lookForEnded = (): void => {
    catchUp().catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'looking for live calls that ended elsewhere failed'));
  };
  const { unlisten } = await db.listen(CALL_END_CHANNEL, onNotice, lookForEnded);
  const timer = setInterval(lookForEnded, options.catchUpEveryMs ?? CATCH_UP_EVERY_MS);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await unlisten();
    },
  };
}
