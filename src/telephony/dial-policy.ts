import { ParleyError } from '../errors.js';

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

/**
 * A transfer (Twilio <Dial> on a live call) under the same list: a bot saved before the list changed may still
 * carry a number outside it.
 */
export function policedTransfer(allowed: readonly string[], transfer: (callSid: string, to: string) => Promise<void>) {
  return async (callSid: string, to: string): Promise<void> => {
    const refused = dialRefusal(to, allowed);
    if (refused) throw new ParleyError('PARLEY_ERR_VALIDATION', `Transfer refused: ${refused}`);
    await transfer(callSid, to);
  };
}
