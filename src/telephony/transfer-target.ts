/**
 * Whom a bot's transfer may not ring, checked when the bot is saved (api/routes/bots.ts) and again when a live call
 * transfers (call-runner.ts → transfer_call): a bot saved before the save-time check, or a number claimed since,
 * still carries such a number. Refused: the bot itself (the caller would ring straight back into the same bot, a
 * paid call each time round), and a number another company holds on this server (its calls, and its budget, would
 * be run up by this company's callers). Another bot of the same company is a transfer the company may choose.
 */
import { getNumber } from '../db/phone-numbers.js';
import type { Db } from '../db/sql.js';

export type TransferTargetRefusal = 'own_number' | 'another_company';

/**
 * Why `to` (canonical E.164) may not be a transfer target of bot `botId` of `companyId`, whose own numbers are
 * `botNumbers` (its number now, and at call time the number the call is on); null when it may.
 */
export async function transferTargetRefusal(
  db: Db, bot: { companyId: string; botId: string | null; botNumbers: readonly (string | null)[] }, to: string,
): Promise<TransferTargetRefusal | null> {
  if (bot.botNumbers.includes(to)) return 'own_number';
  const held = await getNumber(db, to);
  if (!held?.company_id) return null;
  if (held.company_id !== bot.companyId) return 'another_company';
  if (bot.botId && held.active_bot_id === bot.botId) return 'own_number';
  return null;
}
