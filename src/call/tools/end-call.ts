/** end_call: the conversation is over — say goodbye, then hang up once the goodbye has played. */
import type { Tool } from '../tool-types.js';

const GOODBYE = { en: 'Thank you for calling. Goodbye!', ru: 'Спасибо за звонок. До свидания!' } as const;

export const endCallTool: Tool = {
  spec: {
    name: 'end_call',
    description: 'End the call after saying goodbye. Use when the caller says goodbye or the conversation is complete.',
    parameters: {
      type: 'object',
      properties: { reason: { type: 'string', description: 'Why the call is ending' } },
      required: ['reason'],
      additionalProperties: false,
    },
  },
  async run(args, ctx, control) {
    const reason = String(args.reason ?? 'conversation complete');
    control.endCall(reason);
    const say = GOODBYE[ctx.bot.language] ?? GOODBYE.en;
    return { content: { ok: true, ending: true }, say };
  },
};
