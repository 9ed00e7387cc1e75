/**
 * "A resource of another company is always 404" (README), wherever a request names it: in the path, as a list's
 * filter (`?bot_id=`, `?call_id=`, `?actor=`), or in a body (`"bot_id"`). For every such input of every company
 * route: another company's id → 404, an id nobody has → the same 404, the company's own id → what the route answers
 * (200 for reads). A new route that takes an id fails the coverage test until it has a row in ID_INPUTS.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookingRoutes } from '../../src/api/routes/bookings.js';
import { campaignRoutes } from '../../src/api/routes/campaigns.js';
import { knowledgeRoutes } from '../../src/api/routes/knowledge.js';
import { outboundCallRoutes } from '../../src/api/routes/outbound-calls.js';
import { webCallRoutes } from '../../src/api/routes/web-calls.js';
import { webhookRoutes } from '../../src/api/routes/webhooks.js';
import { createBookingService } from '../../src/bookings/service.js';
import { recordEvent } from '../../src/webhooks/emit.js';
import { knowledgeHarness } from '../fixtures/knowledge/kb.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';
import { at, salon, seedCall } from './booking-fixtures.js';

/** One company's resources, each named by id somewhere in the API. */
interface Ids {
  bot: string;
  call: string;
  booking: string;
  campaign: string;
  document: string;
  apiKey: string;
  erasure: string;
  delivery: string;
}

interface Req {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  payload?: unknown;
  headers?: Record<string, string>;
}

interface IdInput {
  /** The OpenAPI operation, e.g. "GET /v1/bookings". */
  operation: string;
  /** Where it takes the id: path.<param>, query.<name> or body.<field>. */
  input: string;
  /** Which of the company's ids goes there (the others in the request are the caller's own). */
  kind: keyof Ids;
  request: (ids: Ids) => Req;
  /** What the route answers the caller's own id. */
  own: number;
}

const get = (url: string): Req => ({ method: 'GET', url });
const DAYS = 'from=2026-03-01&to=2026-03-07';

function textFile(name: string, text: string): Pick<Req, 'payload' | 'headers'> {
  const boundary = `----parley${randomBytes(8).toString('hex')}`;
  const payload = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\n${text}\r\n--${boundary}--\r\n`,
  );
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

/**
 * Every input of a company route that carries a resource's id. Run in this order against the caller's own ids, so
 * the rows that change their resource (cancel, revoke, deactivate) come after the rows that read it.
 */
const ID_INPUTS: IdInput[] = [
  // Filters and body fields: a foreign id once answered 200 with an empty list, or 400.
  { operation: 'GET /v1/calls', input: 'query.bot_id', kind: 'bot', request: (i) => get(`/v1/calls?bot_id=${i.bot}`), own: 200 },
  { operation: 'GET /v1/bookings', input: 'query.bot_id', kind: 'bot', request: (i) => get(`/v1/bookings?bot_id=${i.bot}`), own: 200 },
  { operation: 'GET /v1/bookings', input: 'query.call_id', kind: 'call', request: (i) => get(`/v1/bookings?call_id=${i.call}`), own: 200 },
  { operation: 'GET /v1/analytics', input: 'query.bot_id', kind: 'bot', request: (i) => get(`/v1/analytics?${DAYS}&bot_id=${i.bot}`), own: 200 },
  { operation: 'GET /v1/usage', input: 'query.bot_id', kind: 'bot', request: (i) => get(`/v1/usage?${DAYS}&bot_id=${i.bot}`), own: 200 },
  { operation: 'GET /v1/audit-log', input: 'query.actor', kind: 'apiKey', request: (i) => get(`/v1/audit-log?actor=${i.apiKey}`), own: 200 },
  {
    operation: 'POST /v1/bookings', input: 'body.bot_id', kind: 'bot', own: 201,
    request: (i) => ({ method: 'POST', url: '/v1/bookings', payload: { bot_id: i.bot, service_id: 'haircut', start: '2026-03-05T11:00:00-05:00', customer_name: 'Ann', customer_phone: '+12125550142' } }),
  },
  { operation: 'POST /v1/campaigns', input: 'body.bot_id', kind: 'bot', request: (i) => ({ method: 'POST', url: '/v1/campaigns', payload: { bot_id: i.bot, name: 'Reminders' } }), own: 201 },
  { operation: 'PUT /v1/campaigns/{id}', input: 'body.bot_id', kind: 'bot', request: (i) => ({ method: 'PUT', url: `/v1/campaigns/${i.campaign}`, payload: { bot_id: i.bot, name: 'Renamed' } }), own: 200 },
  { operation: 'PUT /v1/campaigns/{id}', input: 'path.id', kind: 'campaign', request: (i) => ({ method: 'PUT', url: `/v1/campaigns/${i.campaign}`, payload: { bot_id: i.bot, name: 'Renamed' } }), own: 200 },
  { operation: 'PATCH /v1/campaigns/{id}', input: 'body.bot_id', kind: 'bot', request: (i) => ({ method: 'PATCH', url: `/v1/campaigns/${i.campaign}`, payload: { bot_id: i.bot } }), own: 200 },
  { operation: 'PATCH /v1/campaigns/{id}', input: 'path.id', kind: 'campaign', request: (i) => ({ method: 'PATCH', url: `/v1/campaigns/${i.campaign}`, payload: { name: 'Renamed' } }), own: 200 },

  // Ids in the path.
  { operation: 'GET /v1/bots/{id}', input: 'path.id', kind: 'bot', request: (i) => get(`/v1/bots/${i.bot}`), own: 200 },
  { operation: 'PATCH /v1/bots/{id}', input: 'path.id', kind: 'bot', request: (i) => ({ method: 'PATCH', url: `/v1/bots/${i.bot}`, payload: { name: 'Salon' } }), own: 200 },
  { operation: 'GET /v1/bots/{id}/availability', input: 'path.id', kind: 'bot', request: (i) => get(`/v1/bots/${i.bot}/availability?service=haircut`), own: 200 },
  { operation: 'POST /v1/bots/{id}/web-calls', input: 'path.id', kind: 'bot', request: (i) => ({ method: 'POST', url: `/v1/bots/${i.bot}/web-calls` }), own: 201 },
  // No dialer in this app: the own bot gets past the 404 to the 503.
  { operation: 'POST /v1/bots/{id}/calls', input: 'path.id', kind: 'bot', request: (i) => ({ method: 'POST', url: `/v1/bots/${i.bot}/calls`, payload: { to: '+12125550143' } }), own: 503 },
  { operation: 'GET /v1/bots/{id}/knowledge', input: 'path.id', kind: 'bot', request: (i) => get(`/v1/bots/${i.bot}/knowledge`), own: 200 },
  { operation: 'POST /v1/bots/{id}/knowledge', input: 'path.id', kind: 'bot', request: (i) => ({ method: 'POST', url: `/v1/bots/${i.bot}/knowledge`, ...textFile('hours.txt', 'We open at nine.') }), own: 202 },
  { operation: 'POST /v1/bots/{id}/knowledge/search', input: 'path.id', kind: 'bot', request: (i) => ({ method: 'POST', url: `/v1/bots/${i.bot}/knowledge/search`, payload: { query: 'prices' } }), own: 200 },
  { operation: 'GET /v1/bots/{id}/knowledge/{documentId}', input: 'path.id', kind: 'bot', request: (i) => get(`/v1/bots/${i.bot}/knowledge/${i.document}`), own: 200 },
  { operation: 'GET /v1/bots/{id}/knowledge/{documentId}', input: 'path.documentId', kind: 'document', request: (i) => get(`/v1/bots/${i.bot}/knowledge/${i.document}`), own: 200 },
  ...(['id', 'documentId'] as const).map((param): IdInput => ({
    operation: 'PUT /v1/bots/{id}/knowledge/{documentId}', input: `path.${param}`, kind: param === 'id' ? 'bot' : 'document', own: 202,
    request: (i) => ({ method: 'PUT', url: `/v1/bots/${i.bot}/knowledge/${i.document}`, ...textFile('prices.txt', `A haircut costs forty dollars (${param}).`) }),
  })),
  { operation: 'GET /v1/calls/{id}', input: 'path.id', kind: 'call', request: (i) => get(`/v1/calls/${i.call}`), own: 200 },
  // The own call's recording is at Twilio, which this server has no credentials for: past the 404, a 503.
  { operation: 'GET /v1/calls/{id}/recording', input: 'path.id', kind: 'call', request: (i) => get(`/v1/calls/${i.call}/recording`), own: 503 },
  { operation: 'GET /v1/usage/calls/{id}', input: 'path.id', kind: 'call', request: (i) => get(`/v1/usage/calls/${i.call}`), own: 200 },
  { operation: 'GET /v1/bookings/{id}', input: 'path.id', kind: 'booking', request: (i) => get(`/v1/bookings/${i.booking}`), own: 200 },
  { operation: 'GET /v1/bookings/{id}/events', input: 'path.id', kind: 'booking', request: (i) => get(`/v1/bookings/${i.booking}/events`), own: 200 },
  { operation: 'POST /v1/bookings/{id}/reschedule', input: 'path.id', kind: 'booking', request: (i) => ({ method: 'POST', url: `/v1/bookings/${i.booking}/reschedule`, payload: { start: '2026-03-05T14:00:00-05:00' } }), own: 200 },
  { operation: 'POST /v1/bookings/{id}/transitions', input: 'path.id', kind: 'booking', request: (i) => ({ method: 'POST', url: `/v1/bookings/${i.booking}/transitions`, payload: { to: 'in_progress' } }), own: 200 },
  { operation: 'POST /v1/bookings/{id}/cancel', input: 'path.id', kind: 'booking', request: (i) => ({ method: 'POST', url: `/v1/bookings/${i.booking}/cancel`, payload: {} }), own: 200 },
  { operation: 'GET /v1/campaigns/{id}', input: 'path.id', kind: 'campaign', request: (i) => get(`/v1/campaigns/${i.campaign}`), own: 200 },
  { operation: 'POST /v1/campaigns/{id}/contacts', input: 'path.id', kind: 'campaign', request: (i) => ({ method: 'POST', url: `/v1/campaigns/${i.campaign}/contacts`, payload: { contacts: [{ phone: '+12125550144' }] } }), own: 200 },
  {
    operation: 'POST /v1/campaigns/{id}/contacts/csv', input: 'path.id', kind: 'campaign', own: 200,
    request: (i) => ({ method: 'POST', url: `/v1/campaigns/${i.campaign}/contacts/csv`, payload: 'phone\n+12125550145\n', headers: { 'content-type': 'text/csv' } }),
  },
  { operation: 'GET /v1/campaigns/{id}/contacts', input: 'path.id', kind: 'campaign', request: (i) => get(`/v1/campaigns/${i.campaign}/contacts`), own: 200 },
  { operation: 'GET /v1/campaigns/{id}/attempts', input: 'path.id', kind: 'campaign', request: (i) => get(`/v1/campaigns/${i.campaign}/attempts`), own: 200 },
  // A draft whose bot has no number is not scheduled, nor paused or resumed: past the 404, a 409.
  { operation: 'POST /v1/campaigns/{id}/schedule', input: 'path.id', kind: 'campaign', request: (i) => ({ method: 'POST', url: `/v1/campaigns/${i.campaign}/schedule` }), own: 409 },
  { operation: 'POST /v1/campaigns/{id}/pause', input: 'path.id', kind: 'campaign', request: (i) => ({ method: 'POST', url: `/v1/campaigns/${i.campaign}/pause` }), own: 409 },
  { operation: 'POST /v1/campaigns/{id}/resume', input: 'path.id', kind: 'campaign', request: (i) => ({ method: 'POST', url: `/v1/campaigns/${i.campaign}/resume` }), own: 409 },
  { operation: 'POST /v1/campaigns/{id}/cancel', input: 'path.id', kind: 'campaign', request: (i) => ({ method: 'POST', url: `/v1/campaigns/${i.campaign}/cancel` }), own: 200 },
  { operation: 'GET /v1/privacy/erasures/{id}', input: 'path.id', kind: 'erasure', request: (i) => get(`/v1/privacy/erasures/${i.erasure}`), own: 200 },
  { operation: 'GET /v1/webhooks/deliveries/{id}', input: 'path.id', kind: 'delivery', request: (i) => get(`/v1/webhooks/deliveries/${i.delivery}`), own: 200 },
  { operation: 'POST /v1/webhooks/deliveries/{id}/replay', input: 'path.id', kind: 'delivery', request: (i) => ({ method: 'POST', url: `/v1/webhooks/deliveries/${i.delivery}/replay` }), own: 202 },
  { operation: 'DELETE /v1/bots/{id}/knowledge/{documentId}', input: 'path.id', kind: 'bot', request: (i) => ({ method: 'DELETE', url: `/v1/bots/${i.bot}/knowledge/${i.document}` }), own: 204 },
  // The document is gone now; the row above checked the own id.
  { operation: 'DELETE /v1/bots/{id}/knowledge/{documentId}', input: 'path.documentId', kind: 'document', request: (i) => ({ method: 'DELETE', url: `/v1/bots/${i.bot}/knowledge/${i.document}` }), own: 404 },
  { operation: 'DELETE /v1/api-keys/{id}', input: 'path.id', kind: 'apiKey', request: (i) => ({ method: 'DELETE', url: `/v1/api-keys/${i.apiKey}` }), own: 200 },
  { operation: 'DELETE /v1/bots/{id}', input: 'path.id', kind: 'bot', request: (i) => ({ method: 'DELETE', url: `/v1/bots/${i.bot}` }), own: 200 },
];

/** Inputs named like ids that are not a stored resource of the company. */
const NOT_RESOURCE_IDS: Record<string, string> = {
  'POST /v1/bookings body.service_id': "a service of the bot's booking config, checked against it (400)",
};

/** An id nobody has, of each kind. */
const unknownIds = (): Ids => ({
  bot: randomUUID(), call: randomUUID(), booking: randomUUID(), campaign: randomUUID(), document: randomUUID(),
  apiKey: randomUUID(), erasure: randomUUID(), delivery: `evt_${randomBytes(16).toString('hex')}`,
});

describe('tenant isolation: every id a request names is the company\'s own, or 404', () => {
  let t: TestApp;
  let alpha: { apiKey: string; ids: Ids };
  let beta: { apiKey: string; ids: Ids };

  beforeAll(async () => {
    t = await createTestApp({
      env: { RATE_LIMIT_PER_MIN: '100000' },
      tenantRoutes: (db, config) => {
        const kb = knowledgeHarness(db.sql, { maxUploadBytes: config.UPLOAD_MAX_BYTES });
        return [
          bookingRoutes({ sql: db.sql, bookings: createBookingService({ holdSec: 300, now: () => at('2026-03-04T10:00') }) }),
          campaignRoutes({ sql: db.sql, dialingAvailable: true }),
          knowledgeRoutes({ sql: db.sql, store: kb.store, retriever: kb.retriever, maxUploadBytes: config.UPLOAD_MAX_BYTES, onEnqueued: () => {} }),
          webCallRoutes({ sql: db.sql, publicOrigin: config.PUBLIC_URL, tokenTtlSec: config.WEB_CALL_TOKEN_TTL_SEC }),
          outboundCallRoutes({ sql: db.sql, dialer: null }),
          webhookRoutes({ sql: db.sql, delivery: { timeoutMs: 1000, allowHttp: false, allowPrivate: false } }),
        ];
      },
    });
    alpha = await company('Alpha');
    beta = await company('Beta');
  });
  afterAll(async () => t?.close());

  const send = (apiKey: string, r: Req) => {
    const json = r.payload !== undefined && !Buffer.isBuffer(r.payload) && typeof r.payload !== 'string';
    return t.app.inject({
      method: r.method, url: r.url,
      headers: { ...t.as(apiKey), ...(json ? { 'content-type': 'application/json' } : {}), ...r.headers },
      ...(r.payload !== undefined ? { payload: json ? JSON.stringify(r.payload) : (r.payload as string | Buffer) } : {}),
    });
  };

  /** A company with one of each resource, made through the API where it can be. */
  async function company(name: string): Promise<{ apiKey: string; ids: Ids }> {
    const { companyId, apiKey } = await t.createCompany(name);
    const made = async (r: Req, status: number): Promise<Record<string, string>> => {
      const res = await send(apiKey, r);
      expect(res.statusCode, `${name}: ${r.method} ${r.url}: ${res.body}`).toBe(status);
      return res.json();
    };
    const bot = (await made({ method: 'POST', url: '/v1/bots', payload: botBody({ config: { greeting: 'Hi', systemPrompt: '', booking: salon } }) }, 201)).id!;
    const call = await seedCall(t.db.sql, companyId, bot, '+12125550140');
    await t.db.sql`update calls set recording_sid = 'RE00000000000000000000000000000000' where id = ${call}`;
    const booking = (await made({ method: 'POST', url: '/v1/bookings', payload: { bot_id: bot, service_id: 'haircut', start: '2026-03-05T09:00:00-05:00', customer_name: 'Bo', customer_phone: '+12125550141' } }, 201)).id!;
    const campaign = (await made({ method: 'POST', url: '/v1/campaigns', payload: { bot_id: bot, name: 'Follow-up' } }, 201)).id!;
    const document = (await made({ method: 'POST', url: `/v1/bots/${bot}/knowledge`, ...textFile('faq.txt', 'Parking is free.') }, 202)).id!;
    const key = (await made({ method: 'POST', url: '/v1/api-keys', payload: { name: 'reports', scopes: ['calls:read'] } }, 201)).id!;
    const erasure = (await made({ method: 'DELETE', url: '/v1/privacy/phone-numbers/%2B12125550149' }, 200)).id!;
    await made({ method: 'PUT', url: '/v1/company/webhook', payload: { url: 'https://hooks.example.com/parley' } }, 200);
    const delivery = (await recordEvent(t.db.sql, { companyId, type: 'call.started', data: { call_id: call, bot_id: bot } }))!;
    return { apiKey, ids: { bot, call, booking, campaign, document, apiKey: key, erasure, delivery } };
  }

  it.each(ID_INPUTS.map((row) => [`${row.operation} ${row.input}`, row] as const))('%s: another company\'s id and an unknown one are 404 alike; its own is not', async (_name, row) => {
    const foreign = await send(alpha.apiKey, row.request({ ...alpha.ids, [row.kind]: beta.ids[row.kind] }));
    expect(foreign.statusCode, foreign.body).toBe(404);
    expect(foreign.json().error.code).toBe('PARLEY_ERR_NOT_FOUND');
    const unknown = await send(alpha.apiKey, row.request({ ...alpha.ids, [row.kind]: unknownIds()[row.kind] }));
    expect(unknown.statusCode, unknown.body).toBe(404);
    expect(unknown.json().error).toEqual(foreign.json().error);
    const own = await send(alpha.apiKey, row.request(alpha.ids));
    expect(own.statusCode, own.body).toBe(row.own);
  });

  it('the other company\'s resources are untouched by it all', async () => {
    for (const url of [`/v1/bots/${beta.ids.bot}`, `/v1/bookings/${beta.ids.booking}`, `/v1/campaigns/${beta.ids.campaign}`, `/v1/bots/${beta.ids.bot}/knowledge/${beta.ids.document}`]) {
      const res = await send(beta.apiKey, get(url));
      expect(res.statusCode, url).toBe(200);
    }
    expect((await send(beta.apiKey, get(`/v1/bots/${beta.ids.bot}`))).json()).toMatchObject({ name: 'Front desk', is_active: true });
    expect((await send(beta.apiKey, get(`/v1/bookings/${beta.ids.booking}`))).json()).toMatchObject({ status: 'confirmed' });
    expect((await send(beta.apiKey, get(`/v1/campaigns/${beta.ids.campaign}`))).json()).toMatchObject({ status: 'draft', name: 'Follow-up' });
  });

  it('covers every company route input that names a resource by id (OpenAPI)', async () => {
    const doc = (await t.app.inject({ url: '/openapi.json' })).json() as OpenApi;
    const inputs = idInputsOf(doc);
    const covered = new Set([...ID_INPUTS.map((r) => `${r.operation} ${r.input}`), ...Object.keys(NOT_RESOURCE_IDS)]);
    expect(inputs.filter((k) => !covered.has(k)), 'inputs without a row').toEqual([]);
    // And no row names an input the API does not have (a route renamed, a typo).
    expect([...covered].filter((k) => !inputs.includes(k)), 'rows without an input').toEqual([]);
  });
});

type Schema = { properties?: Record<string, unknown> };
interface Operation {
  parameters?: { in: string; name: string }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}
type OpenApi = { paths: Record<string, Record<string, Operation>> };

/** "METHOD path input" of every company route input named like an id (admin routes are not a company's). */
function idInputsOf(doc: OpenApi): string[] {
  const idLike = (name: string) => name === 'id' || name === 'actor' || /(_id|Id)$/.test(name);
  const out: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    if (!path.startsWith('/v1/') || path.startsWith('/v1/admin/')) continue;
    for (const [method, op] of Object.entries(ops)) {
      const operation = `${method.toUpperCase()} ${path}`;
      for (const p of op.parameters ?? []) if (idLike(p.name)) out.push(`${operation} ${p.in}.${p.name}`);
      const body = op.requestBody?.content?.['application/json']?.schema;
      for (const field of Object.keys(body?.properties ?? {})) if (idLike(field)) out.push(`${operation} body.${field}`);
    }
  }
  return out;
}
