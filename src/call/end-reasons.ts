/**
 * Why a call ended: the one list of the reasons `call.ended` carries (and the call's `end_reason` in the API and the
 * export). Every path that ends a call names its reason from here (CallEnd.reason is typed by it), and
 * docs/webhooks.md lists exactly these (tests/unit/webhook-catalogue-documented.test.ts checks both ways).
 */
/** How a call a machine answered ended (see CALL_END_REASONS). */
export const MACHINE_END_REASONS = ['voicemail_left', 'voicemail_hung_up', 'fax'] as const;

export type MachineEndReasonCode = (typeof MACHINE_END_REASONS)[number];

export function isMachineEndReason(code: CallEndReasonCode): code is MachineEndReasonCode {
  return (MACHINE_END_REASONS as readonly string[]).includes(code);
}

export const CALL_END_REASONS = [
  // The live session (call/call-session.ts).
  'caller_hangup',
  'bot_end_call',
  'silence',
  'max_duration',
  'transferred',
  'provider_failure',
  'server_shutdown',
  // The server closed the call's socket itself: the far end broke the socket protocol (a frame over the size limit,
  // ws's 1009; a bad opcode or close code, 1002) — not the caller hanging up (telephony/socket-frames.ts).
  'protocol_error',
  // The call could not be started or run: the server failed after it accepted the call's media (telephony/call-runner.ts).
  'server_error',
  // The bot was disabled or deleted, or its company disabled, before the call was answered or its page connected
  // (telephony/twilio/voice-routes.ts, telephony/web/socket-route.ts); or the company was disabled during the call
  // (call/lifecycle.ts endLiveCallsOfCompany).
  'bot_disabled',
  // Refused at the start: the company's monthly budget is used up (usage/budget.ts).
  'budget_exhausted',
  // Twilio's own end of a call (telephony/twilio/call-status.ts).
  'busy',
  'no_answer',
  'canceled',
  'telephony_failed',
  // Answering-machine detection's verdict at the answer URL (call/machine-answer.ts), whoever then ends the call:
  // the campaign's message left on the machine, a machine hung up on without a word, a fax hung up on. The same
  // words as the campaign attempt's outcome (campaigns/vocabulary.ts).
  ...MACHINE_END_REASONS,
  // The dialer (telephony/twilio/outbound.ts, campaigns/scheduler.ts).
  'dial_refused',
  'dial_lost',
  // A web-call token never used (telephony/web/tokens.ts), or used by a page that left, or was refused, before the call
  // started (telephony/web/socket-route.ts).
  'token_expired',
  'not_started',
  // The sweep of calls whose instance stopped (telephony/call-ownership.ts).
  'server_lost',
  'never_connected',
] as const;

export type CallEndReasonCode = (typeof CALL_END_REASONS)[number];

/** A reason as stored and sent: its code, or its code with detail after a colon (`caller_hangup: stop`). */
export type CallEndReason = CallEndReasonCode | `${CallEndReasonCode}: ${string}`;

/** The code of a stored reason (`bot_end_call: done` → `bot_end_call`); null for text that is none of the list. */
export function endReasonCode(reason: string | null | undefined): CallEndReasonCode | null {
  const code = (reason ?? '').split(':', 1)[0]!.trim().toLowerCase();
  return (CALL_END_REASONS as readonly string[]).includes(code) ? (code as CallEndReasonCode) : null;
}
