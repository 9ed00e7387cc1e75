/**
 * In-call tools for campaigns:
 *  - `do_not_call`: the callee asks not to be called again ("stop calling me", "больше не звоните") — the number
 *    joins the company's do-not-call list at once (every later dial checks it), and the bot ends politely.
 *  - `answer_call_screening`: the phone's screening assistant asks who is calling and why — the bot answers with
 *    its name and the campaign's purpose, and the attempt records that it was screened.
 * Detection is the model's (the tool descriptions say when); the scenario engine has no intent for them.
 */
import type { Tool } from '../call/tool-types.js';
import type { Db } from '../db/sql.js';
import { addDnc } from './suppression.js';
import { isE164 } from '../util/phone.js';

const STOPPED = {
  en: "Understood. I've removed your number, and we won't call you again. Sorry for the trouble — goodbye.",
  ru: 'Понял вас. Я удалил ваш номер, больше мы вам звонить не будем. Извините за беспокойство, до свидания.',
} as const;

export const doNotCallTool = (db: Db): Tool => ({
  spec: {
    name: 'do_not_call',
    description:
      'The person asks not to be called again, in any words (e.g. "stop calling me", "take me off your list", "put me on your ' +
      'do-not-call list", "больше не звоните", "больше мне не звоните", "удалите меня из базы"). Adds their number to the ' +
      'do-not-call list and ends the call politely. Use it at once; do not argue.',
    parameters: {
      type: 'object',
      properties: { reason: { type: 'string', description: 'Their words, briefly', maxLength: 200 } },
      additionalProperties: false,
    },
  },
  async run(args, ctx, control) {
    const say = STOPPED[ctx.bot.language] ?? STOPPED.en;
    if (!ctx.callerNumber || !isE164(ctx.callerNumber)) {
      control.endCall('do_not_call (no number to record)');
      return { content: { ok: false, ending: true, note: 'no phone number on this call' }, say };
    }
    const reason = typeof args.reason === 'string' ? args.reason.slice(0, 200) : 'asked during a call';
    await addDnc(db, ctx.companyId, [{ phone: ctx.callerNumber, reason }], 'call', ctx.callId);
    control.endCall('do_not_call');
    return { content: { ok: true, ending: true }, say };
  },
});

export const callScreeningTool = (db: Db): Tool => ({
  spec: {
    name: 'answer_call_screening',
    description:
      "Use only on a call you placed, when an automated screening assistant (not the person) answers and asks who is calling " +
      'and why (e.g. "the person you are calling is using a screening service, please say your name and the reason for your call"). ' +
      'It returns the sentence to say; then wait for the person.',
    parameters: { type: 'object', properties: {}, additionalProperties: false },
  },
  async run(_args, ctx) {
    const [row] = await db<{ purpose: string | null; company: string }[]>`
      update campaign_attempts a set screened = true
      from campaigns g, companies c
      where a.call_id = ${ctx.callId} and a.company_id = ${ctx.companyId} and g.id = a.campaign_id and c.id = a.company_id
      returning g.purpose, c.name as company`;
    const ru = ctx.bot.language === 'ru';
    const who = row ? (ru ? `${ctx.bot.name} из компании ${row.company}` : `${ctx.bot.name} from ${row.company}`) : ctx.bot.name;
    const why = row?.purpose ? (ru ? `, звоню по поводу: ${row.purpose}` : `, calling about ${row.purpose}`) : '';
    const say = ru ? `Здравствуйте, это ${who}${why}.` : `Hello, this is ${who}${why}.`;
    return { content: { ok: true, said: say }, say };
  },
});

/** The in-call tools of campaigns, working in `db`. */
export const campaignTools = (db: Db): Tool[] => [doNotCallTool(db), callScreeningTool(db)];
