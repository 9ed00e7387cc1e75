/** POST /v1/bots/:id/calls: the bot phones someone (Twilio places the call from the bot's number). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { getBot } from '../../db/bots.js';
import type { RootSql } from '../../db/sql.js';
import { ParleyError, notFound } from '../../errors.js';
import type { OutboundDialer } from '../../telephony/twilio/outbound.js';
import { assertWithinBudget, type BudgetCheck } from '../../usage/budget.js';
import { IdParams, errors } from '../schemas.js';
import { CallSummarySchema, summary } from './calls.js';
import { getDnc } from '../../campaigns/suppression.js';

export interface OutboundCallRouteDeps {
  sql: RootSql;
  /** Null when Twilio REST credentials are not configured. */
  dialer: OutboundDialer | null;
  /** The company's monthly budget (src/usage/budget.ts): exhausted → 409 budget_exhausted, nothing dialled. */
  budget?: BudgetCheck;
}

const OutboundCallBody = Type.Object(
  {
    to: Type.String({ pattern: '^\\+[1-9]\\d{6,14}$', description: 'Number to call, E.164 (e.g. +15551234567)' }),
    hang_up_on_machine: Type.Optional(Type.Boolean({
      default: false,
      description: 'Run Twilio answering-machine detection and hang up, without a word, on a voicemail or fax (the call keeps the reason).',
    })),
  },
  { additionalProperties: false },
);

export function outboundCallRoutes(deps: OutboundCallRouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.post('/bots/:id/calls', {
      config: { scope: 'calls:write' },
      schema: {
        tags: ['calls'],
        summary: 'Place an outbound call from the bot\'s number',
        description:
          'Creates the call (status `queued`) and asks Twilio to dial. When the callee answers, the bot greets them and the ' +
          'conversation runs as on an inbound call; status changes, transcript and outcome arrive as for any call ' +
          '(GET /v1/calls/:id, webhooks). A number Twilio refuses answers 400 and the call is stored as `failed` with the reason. ' +
          'When the company\'s monthly budget is used up: 409 `PARLEY_ERR_BUDGET_EXHAUSTED` (`details.reason` = `budget_exhausted`), and no call is created. ' +
          'A number on the company\'s do-not-call list: 409 (`details.reason` = `do_not_call`), no call.',
        params: IdParams,
        body: OutboundCallBody,
        response: { 201: CallSummarySchema, ...errors(400, 401, 403, 404, 409, 502, 503) },
      },
    }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const { to, hang_up_on_machine: hangUpOnMachine } = request.body as { to: string; hang_up_on_machine?: boolean };
      const bot = await getBot(deps.sql, request.auth.companyId, id);
      if (!bot) throw notFound('Bot');
      if (!bot.is_active) throw new ParleyError('PARLEY_ERR_CONFLICT', 'This bot is inactive');
      if (!deps.dialer) throw new ParleyError('PARLEY_ERR_UNAVAILABLE', 'Outbound calls need TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN on the server');
      await assertWithinBudget(deps.budget, bot.company_id);
      const call = await deps.dialer.place(bot, to, {
        hangUpOnMachine,
        // The company's do-not-call list holds for every call it places, not only campaigns': the in-call tool
        // promises the callee "we won't call you again". Checked in the transaction that creates the call.
        inTransaction: async (tx) => {
          if (await getDnc(tx, bot.company_id, to)) {
            throw new ParleyError('PARLEY_ERR_CONFLICT', 'This number is on the company\'s do-not-call list', { reason: 'do_not_call' });
          }
        },
      });
      return reply.status(201).send(summary(call, request.auth));
    });
  };
}
