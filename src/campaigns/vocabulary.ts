/**
 * The values a campaign's contacts and attempts report, each in one list: a contact's `skip_reason` (the
 * `campaign.contact.skipped` event, `GET /v1/campaigns/:id/contacts`) and an attempt's `outcome`
 * (`campaign.attempt.ended`). The code that sets them is typed by these lists, and docs/webhooks.md lists exactly
 * these (tests/unit/webhook-catalogue-documented.test.ts).
 */
import type { MachineEndReasonCode } from '../call/end-reasons.js';

export const CONTACT_SKIP_REASONS = [
  // The checks every dial passes (suppression.ts assertDialable).
  'premium_rate_number',
  'do_not_call',
  'blocked_prefix',
  'consent_denied',
  // The campaign's own checks (scheduler.ts).
  'consent_missing',
  'time_zone_unknown',
  'no_common_window',
  // The number may not be dialled: refused by this server's OUTBOUND_ALLOWED_PREFIXES (bare), or by Twilio
  // (`number_refused: <Twilio's message>`).
  'number_refused',
  // The campaign stopped with the contact still waiting (skip-waiting.ts).
  'campaign_ended',
  'campaign_cancelled',
  'campaign_failed',
  // The number was erased (privacy/erase.ts): no event, the contact reads skipped.
  'erased',
] as const;

export type ContactSkipReasonCode = (typeof CONTACT_SKIP_REASONS)[number];
/** A skip reason as stored and sent: its code, or its code with detail after a colon. */
export type ContactSkipReason = ContactSkipReasonCode | `${ContactSkipReasonCode}: ${string}`;

/**
 * What a placed dial attempt came to (scheduler.ts outcomeOf). A machine's answer has the words its call's end
 * reason has (MACHINE_END_REASONS: voicemail_left, voicemail_hung_up, fax).
 */
export const CAMPAIGN_ATTEMPT_OUTCOMES = [
  'answered',
  'voicemail_left',
  'voicemail_hung_up',
  'no_answer',
  'busy',
  'canceled',
  'failed',
  'fax',
  'dial_lost',
] as const;

export type CampaignAttemptOutcome = (typeof CAMPAIGN_ATTEMPT_OUTCOMES)[number];

// Every way a machine's answer ends a call is an attempt's outcome of the same name (a compile-time check).
type Missing = Exclude<MachineEndReasonCode, CampaignAttemptOutcome>;
const machineOutcomesListed: [Missing] extends [never] ? true : Missing = true;
void machineOutcomesListed;
