/**
 * Twilio's call statuses (status callbacks, the Call resource) as Parley's, and why a call Twilio reports ended,
 * ended: the reason its call.ended carries. The one mapping for the status callback and for asking Twilio about
 * calls whose callback never came (telephony/call-ownership.ts).
 */
import type { CallEndReasonCode } from '../../call/end-reasons.js';
import type { CallStatus, EndedCallStatus } from '../../db/calls.js';

export const TWILIO_CALL_STATUS: Record<string, CallStatus> = {
  queued: 'queued', initiated: 'queued', ringing: 'ringing', 'in-progress': 'in_progress', answered: 'in_progress',
  completed: 'completed', busy: 'busy', failed: 'failed', 'no-answer': 'no_answer', canceled: 'canceled',
};

export const END_REASON: Record<EndedCallStatus, CallEndReasonCode> = {
  completed: 'caller_hangup', busy: 'busy', no_answer: 'no_answer', canceled: 'canceled', failed: 'telephony_failed',
};
