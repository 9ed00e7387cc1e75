/**
 * POST /v1/bots/:id/web-calls: mints a short-lived, single-use web-call token and creates the call row, so a
 * company's web page opens a call without ever holding the company's API key.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { getBot } from '../../db/bots.js';
import type { RootSql } from '../../db/sql.js';
import { ParleyError, notFound } from '../../errors.js';
import { WEB_CALL_SOCKET_PATH } from '../../telephony/web/socket-route.js';
import { mintWebCall } from '../../telephony/web/tokens.js';
import { assertWithinBudget, type BudgetCheck } from '../../usage/budget.js';
import { IdParams, Timestamp, Uuid, errors } from '../schemas.js';

export interface WebCallRouteDeps {
  sql: RootSql;
  /** PUBLIC_URL: where the socket and the call page are reached. */
  publicOrigin: string;
  /** WEB_CALL_TOKEN_TTL_SEC. */
  tokenTtlSec: number;
  /** The company's monthly budget (src/usage/budget.ts): exhausted → 409 budget_exhausted, no token. */
  budget?: BudgetCheck;
  /** WEB_CALLS_MAX_ACTIVE_PER_COMPANY: open web calls (tokens not yet used included) beyond it are a 429. */
  maxActivePerCompany?: number;
}

const WebCallResponse = Type.Object({
  call_id: Uuid,
  token: Type.String({ description: 'Single-use token; send it in the socket\'s first message: {"type":"start","token":…}' }),
  expires_at: Timestamp,
  socket_url: Type.String({ description: 'WebSocket URL of the web-call protocol' }),
  page_url: Type.String({ description: 'Parley\'s own call page for this token (the token rides in the fragment, never sent to a server)' }),
});

export function webCallRoutes(deps: WebCallRouteDeps): FastifyPluginAsync {
  const base = new URL(deps.publicOrigin);
  const socketUrl = new URL(WEB_CALL_SOCKET_PATH, base);
  socketUrl.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  return async (app) => {
    app.post('/bots/:id/web-calls', {
      config: { scope: 'calls:write' },
      schema: {
        tags: ['web-calls'],
        summary: 'Start a browser web call: mint a single-use token and create the call',
        description: `The token is valid for ${deps.tokenTtlSec} s and opens exactly one call. The socket checks the page's Origin against the bot's allowedOrigins (plus this server's own origin). When the company's monthly budget is used up: 409 with \`details.reason\` = \`budget_exhausted\`.`,
        params: IdParams,
        response: { 201: WebCallResponse, ...errors(401, 403, 404, 409, 429) },
      },
    }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const bot = await getBot(deps.sql, request.auth.companyId, id);
      if (!bot) throw notFound('Bot');
      if (!bot.is_active) throw new ParleyError('PARLEY_ERR_CONFLICT', 'This bot is inactive');
      await assertWithinBudget(deps.budget, bot.company_id);
      const minted = await mintWebCall(deps.sql, { companyId: bot.company_id, botId: bot.id, ttlSec: deps.tokenTtlSec, ...(deps.maxActivePerCompany !== undefined ? { maxActive: deps.maxActivePerCompany } : {}) });
      return reply.status(201).send({
        call_id: minted.call.id,
        token: minted.token,
        expires_at: minted.expiresAt.toISOString(),
        socket_url: socketUrl.toString(),
        page_url: `${new URL(`/call/${bot.id}`, base).toString()}#token=${encodeURIComponent(minted.token)}`,
      });
    });
  };
}
