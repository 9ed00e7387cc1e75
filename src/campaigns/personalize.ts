/**
 * A campaign call's bot, made for its callee: the greeting and the company's prompt with the contact's
 * variables filled ({{first_name}}, {{appointment_time}}…). Any other call keeps its bot as it is.
 */
import type { BotRow } from '../db/bots.js';
import type { Db } from '../db/sql.js';
import { contactValues, fillVariables } from './answer.js';

export async function personalizeForContact(db: Db, callId: string, bot: BotRow): Promise<BotRow> {
  const [contact] = await db<{ name: string | null; variables: Record<string, string> }[]>`
    select k.name, k.variables
    from campaign_attempts a join campaign_contacts k on k.id = a.contact_id
    where a.call_id = ${callId}`;
  if (!contact) return bot;
  const values = contactValues(contact);
  return {
    ...bot,
    config: {
      ...bot.config,
      greeting: fillVariables(bot.config.greeting, values) || bot.config.greeting,
      systemPrompt: fillVariables(bot.config.systemPrompt ?? '', values),
    },
  };
}
