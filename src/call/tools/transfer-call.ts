/** transfer_call: hand the caller to a human at the bot's configured number, when there is one. */
import { canonicalPhone } from '../../util/phone.js';
import type { Tool } from '../tool-types.js';

const TEXT = {
  en: { ok: 'Please hold, I am transferring you to a colleague now.', none: "I'm sorry, I can't transfer you right now, but I can take your details and someone will call you back." },
  ru: { ok: 'Пожалуйста, оставайтесь на линии, я перевожу вас на сотрудника.', none: 'К сожалению, сейчас я не могу перевести звонок, но могу записать ваши данные, и вам перезвонят.' },
} as const;

export const transferCallTool: Tool = {
  spec: {
    name: 'transfer_call',
    description: 'Transfer the caller to a human colleague. Use when the caller asks for a person or you cannot help.',
    parameters: {
      type: 'object',
      properties: { reason: { type: 'string', description: 'Why the caller needs a human' } },
      required: ['reason'],
      additionalProperties: false,
    },
  },
  async run(args, ctx, control) {
    const text = TEXT[ctx.bot.language] ?? TEXT.en;
    const configured = ctx.bot.config.transferNumber;
    if (!configured) return { content: { transferred: false, error: 'no_transfer_number' }, say: text.none };
    // Checked again now: a bot saved before the save-time check, or a number claimed since, may ring the bot itself
    // or another company's bot. The caller hears the same offer as without a number, never a call that rings back.
    const to = canonicalPhone(configured);
    const refused = await ctx.transferTargetRefusal?.(to);
    if (refused) return { content: { transferred: false, error: 'transfer_number_refused', reason: refused }, say: text.none };
    await control.transferCall(to, String(args.reason ?? 'caller asked for a human'));
    return { content: { transferred: true }, say: text.ok };
  },
};
