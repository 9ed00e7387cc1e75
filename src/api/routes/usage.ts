/** GET /v1/usage and GET /v1/usage/calls/:id: what calls consumed, by provider and model, and its cost (src/usage). */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { RootSql } from '../../db/sql.js';
import { notFound } from '../../errors.js';
import type { Prices } from '../../usage/prices.js';
import { queryUsage } from '../../usage/query.js';
import { refreshUsage } from '../../usage/rollup.js';
import { callUsage, priceItems } from '../../usage/repo.js';
import { requireOwned } from '../owned.js';
import { IdParams, Uuid, errors } from '../schemas.js';

const LocalDate = (description: string) => Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', maxLength: 10, description });

const UsageQuery = Type.Object(
  {
    from: LocalDate('First local date, YYYY-MM-DD (inclusive)'),
    to: LocalDate('Last local date, YYYY-MM-DD (inclusive); at most 400 days after from'),
    time_zone: Type.Optional(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_+\\-]*(/[A-Za-z0-9_+\\-]+){0,2}$', maxLength: 64, default: 'UTC', description: 'IANA time zone the days are cut in, e.g. Europe/Berlin' })),
    bot_id: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);

const Item = Type.Object({
  kind: Type.Union(['telephony_minutes', 'stt_seconds', 'tts_chars', 'llm_input_tokens', 'llm_cached_input_tokens', 'llm_output_tokens', 'embedding_tokens'].map((k) => Type.Literal(k)), {
    description: 'telephony_minutes (per call rounded up; model = direction), stt_seconds (audio sent to the recognizer), tts_chars (text actually synthesised: phrases replayed from the phrase cache count 0), llm_input_tokens (uncached), llm_cached_input_tokens, llm_output_tokens, embedding_tokens (knowledge ingestion; provider local = the hashing embedder, price 0)',
  }),
  provider: Type.String(),
  model: Type.String({ description: "The model ('' when the provider names none); for telephony_minutes the direction" }),
  quantity: Type.Number(),
  unit: Type.String(),
  cost: Type.Number({ description: 'quantity × the unit price configured on this server now (PRICE_*); 0 for local providers' }),
});
const Priced = { items: Type.Array(Item), cost: Type.Number() };

const UsageResponse = Type.Object({
  time_zone: Type.String(),
  from: Type.String(),
  to: Type.String(),
  bot_id: Type.Union([Uuid, Type.Null()]),
  currency: Type.String(),
  days: Type.Array(Type.Object({ date: Type.String(), ...Priced })),
  totals: Type.Object(Priced),
});

const CallUsageResponse = Type.Object({ call_id: Uuid, currency: Type.String(), ...Priced });

export function usageRoutes(deps: { sql: RootSql; prices: Prices }): FastifyPluginAsync {
  return async (app) => {
    app.get('/usage', {
      config: { scope: 'usage:read' },
      schema: {
        tags: ['usage'], summary: 'Usage (telephony, STT, LLM, TTS) and its cost by day in a time zone', querystring: UsageQuery,
        response: { 200: UsageResponse, ...errors(400, 401, 403, 404) },
      },
    }, async (request) => {
      const q = request.query as Static<typeof UsageQuery>;
      const { companyId } = request.auth;
      await requireOwned(deps.sql, companyId, 'bot', q.bot_id);
      // The worker keeps the rollup current; what it has not reached yet (a call's usage written a moment ago) is
      // folded in now, for this company only, bounded (as GET /v1/analytics does).
      await refreshUsage(deps.sql, { companyId, batchSize: 500, maxBatches: 4 });
      return queryUsage(deps.sql, deps.prices, { companyId, botId: q.bot_id, from: q.from, to: q.to, timeZone: q.time_zone ?? 'UTC' });
    });

    app.get('/usage/calls/:id', {
      config: { scope: 'usage:read' },
      schema: {
        tags: ['usage'], summary: "One call's usage and cost", params: IdParams,
        response: { 200: CallUsageResponse, ...errors(400, 401, 403, 404) },
      },
    }, async (request) => {
      const { id } = request.params as { id: string };
      const raw = await callUsage(deps.sql, request.auth.companyId, id);
      if (!raw) throw notFound('Call');
      return { call_id: id, currency: deps.prices.currency, ...priceItems(deps.prices, raw) };
    });
  };
}
