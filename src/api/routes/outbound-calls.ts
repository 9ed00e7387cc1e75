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
          'Creates the call (status `queued`) and asks Twilio to dial: 201 with the call and its `twilio_call_sid`. When the ' +
          'callee answers, the bot greets them and the conversation runs as on an inbound call; status changes, transcript and ' +
          'outcome arrive as for any call (GET /v1/calls/:id, webhooks). A number Twilio refuses answers 400 and the call is ' +
          'stored as `failed` with the reason; a Twilio that cannot be reached answers 502, the call `failed`. When Twilio\'s ' +
          'answer is lost (a timeout or a 5xx), Twilio may have placed the call — it may be ringing — so it is neither retried ' +
          'nor reported failed: 202 with the call, `queued` and without `twilio_call_sid`; its status callbacks move it on as ' +
          'any call, and one Twilio never reports on ends `failed` (`dial_lost`) after 10 minutes. Do not place it again ' +
          'before then: a second call to the number is refused while this one is live. ' +
          'Refused with 409 and no call created (`details.reason`): the monthly budget used up (`budget_exhausted`, code ' +
          '`PARLEY_ERR_BUDGET_EXHAUSTED`); a number on the company\'s do-not-call list (`do_not_call`), under its campaign ' +
          'policy\'s `blocked_prefixes` (`blocked_prefix`), or whose voice consent is `denied` (`consent_denied`); a number on a ' +
          'call with the company now, either way (`number_in_call`); a premium-rate, shared-cost or UAN number unless the ' +
          'server sets OUTBOUND_ALLOW_PREMIUM_RATE (`premium_rate_number`).',
        params: IdParams,
        body: OutboundCallBody,
        response: { 201: CallSummarySchema, 202: CallSummarySchema, ...errors(400, 401, 403, 404, 409, 502, 503) },
      },
    }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const { to, hang_up_on_machine: hangUpOnMachine } = request.body as { to: string; hang_up_on_machine?: boolean };
      const bot = await getBot(deps.sql, request.auth.companyId, id);
      if (!bot) throw notFound('Bot');
      if (!bot.is_active) throw new ParleyError('PARLEY_ERR_CONFLICT', 'This bot is inactive');
      if (!deps.dialer) throw new ParleyError('PARLEY_ERR_UNAVAILABLE', 'Outbound calls need TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN on the server');
      await assertWithinBudget(deps.budget, bot.company_id);
      // The do-not-call list, consent, blocked prefixes and one call per number hold for every call the company places,
      // not only campaigns' (the in-call tool promises "we won't call you again"): the dialer checks them.
      const { call, unconfirmed } = await deps.dialer.place(bot, to, { hangUpOnMachine });
      if (unconfirmed !== null) {
        request.log.warn({ callId: call.id, err: unconfirmed }, 'Twilio\'s answer to an outbound call was lost; the call may be ringing');
        return reply.status(202).send(summary(call, request.auth));
      }
      return reply.status(201).send(summary(call, request.auth));
    });
  };
}
