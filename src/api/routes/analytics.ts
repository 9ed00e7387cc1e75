/** GET /v1/analytics: calls, outcomes, bookings and latency by day in a time zone (src/analytics). */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { queryAnalytics } from '../../analytics/query.js';
import { refreshAnalytics } from '../../analytics/rollup.js';
import type { RootSql } from '../../db/sql.js';
import { requireOwned } from '../owned.js';
import { Uuid, errors } from '../schemas.js';

const LocalDate = (description: string) => Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', maxLength: 10, description });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const AnalyticsQuery = Type.Object(
  {
    from: LocalDate('First local date, YYYY-MM-DD (inclusive)'),
    to: LocalDate('Last local date, YYYY-MM-DD (inclusive); at most 400 days after from'),
    time_zone: Type.Optional(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_+\\-]*(/[A-Za-z0-9_+\\-]+){0,2}$', maxLength: 64, default: 'UTC', description: 'IANA time zone the days are cut in, e.g. Europe/Berlin' })),
    bot_id: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);

const Stats = {
  calls: Type.Integer({ description: 'Calls started on the day' }),
  by_direction: Type.Object({ inbound: Type.Integer(), outbound: Type.Integer(), web: Type.Integer() }),
  by_status: Type.Object({
    completed: Type.Integer({ description: 'Ended completed, a machine\'s answer aside' }), failed: Type.Integer(), busy: Type.Integer(), no_answer: Type.Integer(), canceled: Type.Integer(),
    live: Type.Integer({ description: 'queued, ringing or in progress' }),
    machine_answered: Type.Integer({ description: 'Ended, answered by a machine (Twilio reports them completed)' }),
  }, { description: 'Calls by status: each call in exactly one' }),
  answered: Type.Integer({ description: 'Answered by a person (not by a machine)' }),
  machine_answered: Type.Integer({ description: 'Answering-machine detection found a machine or a fax (end reason voicemail_left, voicemail_hung_up or fax): never a conversation' }),
  machine_answers: Type.Object({
    voicemail_left: Type.Integer({ description: 'A campaign\'s message left on the machine' }),
    voicemail_hung_up: Type.Integer({ description: 'A machine hung up on without a word' }),
    fax: Type.Integer({ description: 'A fax, hung up on' }),
  }, { description: 'machine_answered by how each ended' }),
  completed: Type.Integer({ description: 'by_status.completed' }),
  transferred: Type.Integer({ description: 'Ended by a transfer to a person' }),
  duration_sec: Type.Object({ avg: Nullable(Type.Number()), p50: Nullable(Type.Number()), p95: Nullable(Type.Number()) }, { description: 'Talk time: of calls a person answered, ended; percentiles from a histogram (exact to its bucket, never outside the values seen)' }),
  outcomes: Type.Record(Type.String(), Type.Integer(), { description: 'Analysed calls by outcome type' }),
  analyzed: Type.Integer(),
  leads: Type.Integer({ description: 'Calls whose outcome is lead' }),
  bookings_made: Type.Integer({ description: 'Bookings created on the day (not lapsed holds)' }),
  bookings_cancelled: Type.Integer({ description: 'Bookings cancelled on the day' }),
  barge_ins: Type.Integer({ description: 'Bot turns the caller interrupted' }),
  barge_ins_per_call: Nullable(Type.Number({ description: 'Per call a person answered' })),
  response_latency_ms: Type.Object({ avg: Nullable(Type.Number()), p50: Nullable(Type.Number()), p95: Nullable(Type.Number()), turns: Type.Integer() }, { description: 'Caller end of speech → first bot audio, per bot turn (latency.responseMs)' }),
};

const AnalyticsResponse = Type.Object({
  time_zone: Type.String(),
  from: Type.String(),
  to: Type.String(),
  bot_id: Nullable(Uuid),
  days: Type.Array(Type.Object({ date: Type.String(), ...Stats })),
  totals: Type.Object(Stats),
});

export function analyticsRoutes(deps: { sql: RootSql }): FastifyPluginAsync {
  return async (app) => {
    app.get('/analytics', {
      config: { scope: 'analytics:read' },
      schema: {
        tags: ['analytics'], summary: 'Calls, outcomes, bookings and latency by day in a time zone', querystring: AnalyticsQuery,
        response: { 200: AnalyticsResponse, ...errors(400, 401, 403, 404) },
      },
    }, async (request) => {
      const q = request.query as Static<typeof AnalyticsQuery>;
      const { companyId } = request.auth;
      await requireOwned(deps.sql, companyId, 'bot', q.bot_id);
      // The workers keep the rollup current; what they have not reached yet (a call that ended a moment ago)
      // is folded in now, for this company only, bounded.
      await refreshAnalytics(deps.sql, { companyId, batchSize: 500, maxBatches: 4 });
      return queryAnalytics(deps.sql, { companyId, from: q.from, to: q.to, timeZone: q.time_zone ?? 'UTC', ...(q.bot_id ? { botId: q.bot_id } : {}) });
    });
  };
}
