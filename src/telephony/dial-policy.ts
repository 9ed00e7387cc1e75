import { ParleyError } from '../errors.js';
import { canonicalPhone, isCallerChargedNumber } from '../util/phone.js';

/**
 * Which numbers this server dials on a company's behalf — outbound calls, campaigns and transfers alike
 * (OUTBOUND_ALLOWED_PREFIXES; unset: any). One check for every path that makes Twilio call somebody: a transfer
 * number outside the list would otherwise connect any caller to, say, a premium-rate line on the operator's account.
 */
export function allowedPrefixesOf(setting: string | undefined): string[] {
  return (setting ?? '').split(',').map((p) => p.trim()).filter(Boolean);
}

/** Why `to` may not be dialled under `allowed`, or null when it may. */
export function dialRefusal(to: string, allowed: readonly string[]): string | null {
  if (allowed.length === 0 || allowed.some((p) => to.startsWith(p))) return null;
  return `Calls may only go to numbers starting with ${allowed.join(', ')}`;
}

/** What a transfer number must pass: the prefix list and, unless the server allows them, no caller-charged numbers. */
export interface TransferPolicy {
  allowedPrefixes: readonly string[];
  /** OUTBOUND_ALLOW_PREMIUM_RATE. */
  allowPremiumRate: boolean;
}

/**
 * Why a bot may not transfer callers to `to`, or null. A transfer is a call the operator's account pays for, like an
 * outbound one (whose dials refuse premium-rate numbers in campaigns/suppression.ts assertDialable): a key that can
 * edit a bot must not be able to send every caller to a premium-rate line.
 */
export function transferRefusal(to: string, policy: TransferPolicy): string | null {
  const refused = dialRefusal(to, policy.allowedPrefixes);
  if (refused) return refused;
  if (!policy.allowPremiumRate && isCallerChargedNumber(canonicalPhone(to))) {
    return 'premium-rate and shared-cost numbers are not called on this server (OUTBOUND_ALLOW_PREMIUM_RATE)';
  }
  return null;
}

/**
 * A transfer (Twilio <Dial> on a live call) under the same policy: a bot saved before the policy changed may still
 * carry a number outside it.
 */
export function policedTransfer(policy: TransferPolicy, transfer: (callSid: string, to: string) => Promise<void>) {
  return async (callSid: string, to: string): Promise<void> => {
    const refused = transferRefusal(to, policy);
    if (refused) throw new ParleyError('PARLEY_ERR_VALIDATION', `Transfer refused: ${refused}`);
    await transfer(callSid, to);
  };
}
