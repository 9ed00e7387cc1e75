/** Webhook deliveries: list (filters, keyset pagination) with attempts, get one, replay, and send a test event. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { RootSql } from '../../db/sql.js';
import { conflict, notFound } from '../../errors.js';
import type { LeaseOwner } from '../../jobs/lease-owner.js';
import { loadCompanyWebhook, notSentBecause } from '../../webhooks/company-settings.js';
import { WEBHOOK_EVENT_TYPES, TEST_EVENT_TYPE } from '../../webhooks/emit.js';
import { WebhookHttpClient } from '../../webhooks/http-post.js';
import { DELIVERY_STATUSES, attemptsFor, getDelivery, listDeliveries, replayDeliveries, replayDelivery, type AttemptRow, type DeliveryRow } from '../../webhooks/outbox.js';
import { webhookUrlShown } from '../../webhooks/shown-url.js';
import { sendTestEvent } from '../../webhooks/test-event.js';
import { DEFAULT_TEST_EVENT_LIMITS, TestEventGate, type TestEventLimits } from '../../webhooks/test-event-limits.js';
import { memoryCounter, type SharedCounter } from '../rate-limit-store.js';
import { hasScope } from '../auth.js';
import { DateTimeInput, Page, PageQuery, Timestamp, decodeCursor, encodeCursor, errors, parseInstant } from '../schemas.js';

/** Deliveries one bulk replay sends again at most: a receiver back from an outage is not flooded by one call. */
const MAX_BULK_REPLAY = 1000;

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const EventType = Type.Union([...WEBHOOK_EVENT_TYPES, TEST_EVENT_TYPE].map((t) => Type.Literal(t)));
const Status = Type.Union(DELIVERY_STATUSES.map((s) => Type.Literal(s)), {
  description: 'pending: waiting for (another) attempt; delivered: a 2xx arrived; dead: retries ran out or 410 Gone; skipped: URL removed or type unsubscribed before delivery',
});

const AttemptSchema = Type.Object({
  attempt: Type.Integer(),
  url: Type.String({ description: 'Where the attempt went; only its origin for a key without settings:read (the URL is a setting)' }),
  status_code: Nullable(Type.Integer()),
  latency_ms: Type.Integer(),
  error: Nullable(Type.String()),
  response_excerpt: Nullable(Type.String({ description: 'First 1 KiB of the answer' })),
  created_at: Timestamp,
});

const DeliverySchema = Type.Object({
  id: Type.String({ description: 'Event id, sent as webhook-id on every attempt' }),
  type: Type.String(),
  status: Status,
  ordering_key: Nullable(Type.String()),
  attempt_count: Type.Integer(),
  next_attempt_at: Nullable(Timestamp),
  waiting_behind: Nullable(Type.String({ description: 'While pending behind an earlier event of its ordering key: that event (the first in the line), which must be delivered, dead or skipped first; this one is not attempted meanwhile' })),
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  delivered_at: Nullable(Timestamp),
  created_at: Timestamp,
  payload: Type.Record(Type.String(), Type.Unknown(), { description: 'The exact event body sent' }),
  attempts: Type.Array(AttemptSchema),
});

const BulkReplayBody = Type.Object({
  status: Type.Union([Type.Literal('dead'), Type.Literal('skipped')], { description: 'Which settled deliveries to send again' }),
  type: Type.Optional(Type.Union(WEBHOOK_EVENT_TYPES.map((t) => Type.Literal(t)))),
  since: Type.Optional(DateTimeInput('Only events created at or after this moment (e.g. when the outage began)')),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_BULK_REPLAY, default: MAX_BULK_REPLAY, description: 'At most this many, oldest first' })),
}, { additionalProperties: false });
const BulkReplayResult = Type.Object({
  replayed: Type.Integer({ description: 'Deliveries now pending again, each with its own id and a new retry window' }),
  more: Type.Boolean({ description: 'More deliveries match: call again to replay them' }),
});

const ListQuery = Type.Object({ ...PageQuery, type: Type.Optional(EventType), status: Type.Optional(Status) }, { additionalProperties: false });
const DeliveryParams = Type.Object({ id: Type.String({ pattern: '^evt_[0-9a-f]{32}$' }) });

const TestResult = Type.Object({
  event_id: Type.String(),
  delivered: Type.Boolean(),
  url: Type.String(),
  status_code: Nullable(Type.Integer()),
  latency_ms: Type.Integer(),
  error: Nullable(Type.String()),
});

/** The URL as the key may see it: whole with settings:read, its origin otherwise (src/webhooks/shown-url.ts). */
const urlFor = (scopes: string[], url: string): string => webhookUrlShown(url, hasScope(scopes, 'settings:read'));

function present(row: DeliveryRow, attempts: AttemptRow[], scopes: string[]) {
  return {
    id: row.id,
    type: row.type,
    status: row.status,
    ordering_key: row.ordering_key,
    attempt_count: row.attempts,
    // Not scheduled while it waits its turn (its stored time is long past): waiting_behind says what it waits for.
    next_attempt_at: row.status === 'pending' && !row.waiting_behind ? row.next_attempt_at : null,
    waiting_behind: row.waiting_behind,
    last_status_code: row.last_status_code,
    last_error: row.last_error,
    delivered_at: row.delivered_at,
    created_at: row.created_at,
    payload: JSON.parse(row.body) as Record<string, unknown>,
    attempts: attempts.map(({ event_id: _e, ...a }) => ({ ...a, url: urlFor(scopes, a.url) })),
  };
}

export interface WebhookRoutesDeps {
  sql: RootSql;
  /** WEBHOOK_TIMEOUT_MS, WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOW_PRIVATE: the same rules as the outbox worker. */
  delivery: { timeoutMs: number; allowHttp: boolean; allowPrivate: boolean };
  /**
   * This server's instance (CallOwnership), the webhook worker's judge: a replay takes over at once a delivery whose
   * lease an instance found lost holds (a crash), as the worker would. Without it, only an expired lease is lost.
   */
  owner?: LeaseOwner;
  /** POST /v1/webhooks/test per company (default DEFAULT_TEST_EVENT_LIMITS). */
  testLimits?: TestEventLimits;
  /** Where the test events of the minute are counted: the database with a shared one (databaseCounter); default this process. */
  testCounter?: SharedCounter;
}

export function webhookRoutes(deps: WebhookRoutesDeps): FastifyPluginAsync {
  return async (app) => {
    const client = new WebhookHttpClient(deps.delivery);
    app.addHook('onClose', async () => client.close());
    const { sql } = deps;
    const testLimits = deps.testLimits ?? DEFAULT_TEST_EVENT_LIMITS;
    const testGate = new TestEventGate(testLimits, deps.testCounter ?? memoryCounter(), Math.ceil(deps.delivery.timeoutMs / 1000));

    app.get('/webhooks/deliveries', {
      config: { scope: 'webhooks:read' },
      schema: { tags: ['webhooks'], summary: 'List webhook deliveries, newest first, with their attempts', querystring: ListQuery, response: { 200: Page(DeliverySchema), ...errors(400, 401) } },
    }, async (request) => {
      const q = request.query as Static<typeof ListQuery>;
      const limit = q.limit ?? 50;
      let beforeSeq: number | undefined;
      if (q.cursor) {
        [beforeSeq] = decodeCursor(q.cursor, 'webhook_deliveries', ['int']);
      }
      const companyId = request.auth.companyId;
      const rows = await listDeliveries(sql, companyId, { type: q.type, status: q.status, beforeSeq, limit: limit + 1 });
      const page = rows.slice(0, limit);
      const attempts = await attemptsFor(sql, companyId, page.map((r) => r.id));
      return {
        data: page.map((r) => present(r, attempts.get(r.id) ?? [], request.auth.scopes)),
        next_cursor: rows.length > limit ? encodeCursor('webhook_deliveries', [Number(page.at(-1)!.seq)]) : null,
      };
    });

    app.get('/webhooks/deliveries/:id', {
      config: { scope: 'webhooks:read' },
      schema: { tags: ['webhooks'], summary: 'Get one delivery with its attempts', params: DeliveryParams, response: { 200: DeliverySchema, ...errors(401, 404) } },
    }, async (request) => {
      const { id } = request.params as Static<typeof DeliveryParams>;
      const row = await getDelivery(sql, request.auth.companyId, id);
      if (!row) throw notFound('Delivery');
      return present(row, (await attemptsFor(sql, request.auth.companyId, [id])).get(id) ?? [], request.auth.scopes);
    });

    app.post('/webhooks/deliveries/:id/replay', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags: ['webhooks'],
        summary: 'Send a delivery again (same event id, so receivers can deduplicate); its retry window starts over',
        params: DeliveryParams,
        response: { 202: DeliverySchema, ...errors(401, 404, 409) },
      },
    }, async (request, reply) => {
      const { id } = request.params as Static<typeof DeliveryParams>;
      const companyId = request.auth.companyId;
      const row = await getDelivery(sql, companyId, id);
      if (!row) throw notFound('Delivery');
      if (row.type === TEST_EVENT_TYPE) throw conflict('Test events are not replayed; send a new one with POST /v1/webhooks/test');
      // One the worker would skip at once (no URL, type unsubscribed) was answered 202, then quietly marked skipped.
      const notSent = notSentBecause(await loadCompanyWebhook(sql, companyId), row.type);
      if (notSent) throw conflict(`Not replayed: this ${row.type} event would not be sent (${notSent}; see PUT /v1/company/webhook)`);
      if (!(await replayDelivery(sql, companyId, id, deps.owner))) throw conflict('This delivery is being attempted right now; try again shortly');
      const after = (await getDelivery(sql, companyId, id))!;
      return reply.code(202).send(present(after, (await attemptsFor(sql, companyId, [id])).get(id) ?? [], request.auth.scopes));
    });

    app.post('/webhooks/deliveries/replay', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags: ['webhooks'],
        summary: 'Send again, as a replay of each would, up to `limit` dead (or skipped) deliveries, oldest first',
        body: BulkReplayBody,
        response: { 202: BulkReplayResult, ...errors(400, 401, 409) },
      },
    }, async (request, reply) => {
      const body = request.body as Static<typeof BulkReplayBody>;
      const companyId = request.auth.companyId;
      const company = await loadCompanyWebhook(sql, companyId);
      const notSent = notSentBecause(company, body.type);
      if (notSent || !company) throw conflict(`Not replayed: ${body.type ? `${body.type} events` : 'deliveries'} would not be sent (${notSent}; see PUT /v1/company/webhook)`);
      const since = body.since ? parseInstant(body.since, 'body.since') : undefined;
      // Only the types the company receives now: the others would only be skipped again.
      const types = body.type ? [body.type] : company.events;
      return reply.code(202).send(await replayDeliveries(sql, companyId, { status: body.status, types, since }, body.limit ?? MAX_BULK_REPLAY));
    });

    app.post('/webhooks/test', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags: ['webhooks'],
        summary: 'Send a signed webhook.test event to the configured URL now and return the attempt',
        description: `At most ${testLimits.concurrent} at once and ${testLimits.perMinute} per minute per company (429 with Retry-After beyond, naming the limit in \`details.limit\`): each is a request from this server to the URL the company chose.`,
        response: { 200: TestResult, ...errors(400, 401, 429) },
      },
    }, async (request) => {
      const release = await testGate.take(request.auth.companyId);
      try {
        const result = await sendTestEvent(sql, client, request.auth.companyId);
        return { ...result, url: urlFor(request.auth.scopes, result.url) };
      } finally {
        release();
      }
    });
  };
}
