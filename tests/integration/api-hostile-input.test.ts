/**
 * Hostile input that the request guards and the fuzz benchmark do not reach.
 * - A bot's outcomes.extractionSchema is JSON Schema that the post-call analysis compiles (src/outcomes/
 *   response-schema.ts). One that cannot compile (bad type, bad regex, a regex with no linear-time match, $ref to
 *   a schema elsewhere) must be a 400
 *   at the boundary, not a bot whose every analysis fails later; and one company's schema must never be
 *   reachable from another company's ($id/$ref across tenants in a shared validator).
 * - Company B with company A's ids on every nested route: 404 (or 400 for a body id), never A's rows, and
 *   nothing of A's changed.
 * - A read-only key cannot write, and cannot escalate through a key it creates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookingRoutes } from '../../src/api/routes/bookings.js';
import { campaignRoutes } from '../../src/api/routes/campaigns.js';
import { knowledgeRoutes } from '../../src/api/routes/knowledge.js';
import { outboundCallRoutes } from '../../src/api/routes/outbound-calls.js';
import { webCallRoutes } from '../../src/api/routes/web-calls.js';
import { webhookRoutes } from '../../src/api/routes/webhooks.js';
import { createBookingService } from '../../src/bookings/service.js';
import { checkResponse } from '../../src/outcomes/response-schema.js';
import { knowledgeHarness } from '../fixtures/knowledge/kb.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

const booking = {
  timezone: 'America/New_York',
  services: [{ id: 'cut', name: 'Cut', durationMin: 30 }],
  resources: [{ id: 'r', name: 'R', services: ['cut'] }],
  hours: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, { open: '09:00', close: '17:00' }])),
};

const withExtraction = (properties: Record<string, unknown>) =>
  botBody({ config: { greeting: 'Hi', systemPrompt: '', outcomes: { extractionSchema: { type: 'object', properties } } } });

describe('hostile input on the API', () => {
  let t: TestApp;
  let a: { companyId: string; apiKey: string };
  let b: { companyId: string; apiKey: string };
  let aBot: string;
  let bBot: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    t = await createTestApp({
      env: { RATE_LIMIT_PER_MIN: '100000' },
      tenantRoutes: (db, config) => {
        const kb = knowledgeHarness(db.sql, { maxUploadBytes: config.UPLOAD_MAX_BYTES });
        return [
          bookingRoutes({ sql: db.sql, bookings: createBookingService({ holdSec: 300 }) }),
          knowledgeRoutes({ sql: db.sql, store: kb.store, retriever: kb.retriever, maxUploadBytes: config.UPLOAD_MAX_BYTES, onEnqueued: () => {} }),
          webCallRoutes({ sql: db.sql, publicOrigin: config.PUBLIC_URL, tokenTtlSec: config.WEB_CALL_TOKEN_TTL_SEC }),
          outboundCallRoutes({ sql: db.sql, dialer: null }),
          campaignRoutes({ sql: db.sql, dialingAvailable: false }),
          webhookRoutes({ sql: db.sql, delivery: { timeoutMs: 1000, allowHttp: true, allowPrivate: true } }),
        ];
      },
    });
    a = await t.createCompany('Alpha');
    b = await t.createCompany('Beta');
    const mk = async (key: string, name: string, phone: string) => {
      const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(key), payload: botBody({ name, phone_number: phone, config: { greeting: 'Hi', systemPrompt: '', booking } }) });
      expect(res.statusCode, res.body).toBe(201);
      return res.json().id as string;
    };
    aBot = await mk(a.apiKey, 'Alpha bot', '+15550001111');
    bBot = await mk(b.apiKey, 'Beta bot', '+15550002222');
    // A's webhook, booking (emits a delivery), web call, campaign with a contact, knowledge document, DNC entry.
    expect((await t.app.inject({ method: 'PUT', url: '/v1/company/webhook', headers: t.as(a.apiKey), payload: { url: 'https://hooks.example.com/a' } })).statusCode).toBe(200);
    const slot = (await t.app.inject({ method: 'GET', url: `/v1/bots/${aBot}/availability?service=cut`, headers: t.as(a.apiKey) })).json().slots[0].start as string;
    ids.slot = slot;
    const bk = await t.app.inject({ method: 'POST', url: '/v1/bookings', headers: t.as(a.apiKey), payload: { bot_id: aBot, service_id: 'cut', start: slot, customer_name: 'Alice', customer_phone: '+12125550100' } });
    expect(bk.statusCode, bk.body).toBe(201);
    ids.booking = bk.json().id;
    const wc = await t.app.inject({ method: 'POST', url: `/v1/bots/${aBot}/web-calls`, headers: t.as(a.apiKey) });
    expect(wc.statusCode, wc.body).toBe(201);
    ids.call = wc.json().call_id;
    const camp = await t.app.inject({ method: 'POST', url: '/v1/campaigns', headers: t.as(a.apiKey), payload: { bot_id: aBot, name: 'Spring' } });
    expect(camp.statusCode, camp.body).toBe(201);
    ids.campaign = camp.json().id;
    await t.app.inject({ method: 'POST', url: `/v1/campaigns/${ids.campaign}/contacts`, headers: t.as(a.apiKey), payload: { contacts: [{ phone: '+12125550101', consent: { voice: 'granted' } }] } });
    await t.app.inject({ method: 'POST', url: '/v1/dnc', headers: t.as(a.apiKey), payload: { numbers: [{ phone: '+12125550102', reason: 'asked' }] } });
    const boundary = 'review';
    const up = await t.app.inject({
      method: 'POST', url: `/v1/bots/${aBot}/knowledge`,
      headers: { ...t.as(a.apiKey), 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="hours.txt"\r\nContent-Type: text/plain\r\n\r\nAlpha opens at nine.\r\n--${boundary}--\r\n`,
    });
    expect(up.statusCode, up.body).toBe(202);
    ids.document = up.json().id;
    const deliveries = await t.app.inject({ method: 'GET', url: '/v1/webhooks/deliveries', headers: t.as(a.apiKey) });
    ids.delivery = deliveries.json().data[0].id;
    ids.key = (await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: t.as(a.apiKey) })).json().data[0].id;
  });
  afterAll(async () => t.close());

  describe('a bot\'s extraction schema is checked when it is saved', () => {
    const bad: [string, Record<string, unknown>][] = [
      ['an unknown type', { x: { type: 'bogus' } }],
      ['a pattern that is not a regular expression', { x: { type: 'string', pattern: '(' } }],
      ['a $ref to a schema outside it', { x: { $ref: 'https://schemas.example.com/x.json' } }],
      ['a minLength that is not a number', { x: { type: 'string', minLength: 'ten' } }],
      ['a pattern with a back-reference (no linear-time match)', { x: { type: 'string', pattern: '^(a+)\\1$' } }],
      ['a patternProperties key with lookahead (no linear-time match)', { x: { type: 'object', patternProperties: { '^(?=a)': { type: 'number' } } } }],
    ];
    it.each(bad)('%s → 400 naming the field, on create and update; nothing stored', async (_name, properties) => {
      const created = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(a.apiKey), payload: withExtraction(properties) });
      expect(created.statusCode, created.body).toBe(400);
      expect(created.json().error.code).toBe('PARLEY_ERR_VALIDATION');
      expect(created.json().error.details.field).toBe('body.config.outcomes.extractionSchema');
      expect(created.json().error.message).toMatch(/extractionSchema/);
      const patched = await t.app.inject({ method: 'PATCH', url: `/v1/bots/${aBot}`, headers: t.as(a.apiKey), payload: { config: withExtraction(properties).config } });
      expect(patched.statusCode, patched.body).toBe(400);
      const bots = await t.app.inject({ method: 'GET', url: '/v1/bots', headers: t.as(a.apiKey) });
      expect((bots.json().data as { id: string }[]).map((x) => x.id)).toEqual([aBot]);
      expect((await t.app.inject({ method: 'GET', url: `/v1/bots/${aBot}`, headers: t.as(a.apiKey) })).json().config.outcomes).toBeUndefined();
    });

    it('a valid extraction schema is still accepted', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(b.apiKey), payload: withExtraction({ pet: { type: ['string', 'null'], maxLength: 40 }, code: { type: 'string', pattern: '^[A-Z]{2}-[0-9]{3,6}$' } }) });
      expect(res.statusCode, res.body).toBe(201);
      await t.app.inject({ method: 'DELETE', url: `/v1/bots/${res.json().id}`, headers: t.as(b.apiKey) });
    });

    it('a pattern that would backtrack for ever in a JavaScript RegExp is saved, and checks an answer at once', async () => {
      // ^(a+)+$ and (\w|\d)*! take 2^n steps in a backtracking engine on n characters that almost match: with
      // RegExp this check would not return (the test times out); the linear-time engine answers at once.
      const properties = { code: { type: 'string', pattern: '^(a+)+$' }, tags: { type: 'object', patternProperties: { '^(\\w|\\d)*!$': { type: 'number' } } } };
      const saved = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(b.apiKey), payload: withExtraction(properties) });
      expect(saved.statusCode, saved.body).toBe(201);
      await t.app.inject({ method: 'DELETE', url: `/v1/bots/${saved.json().id}`, headers: t.as(b.apiKey) });
      const types = [{ name: 'lead' }];
      const schema = { types, extractionSchema: { type: 'object', properties } };
      const answer = (data: Record<string, unknown>) => ({ summary: 's', outcome_type: 'lead', confidence: 0.5, extracted_data: data });
      expect(checkResponse(schema, answer({ code: `${'a'.repeat(60)}!`, tags: {} }))).toEqual({ ok: false, error: expect.stringContaining('must match pattern') });
      expect(checkResponse(schema, answer({ code: 'aaa', tags: { [`${'1'.repeat(60)}!`]: 'not a number' } }))).toEqual({ ok: false, error: expect.stringContaining('must be number') });
      expect(checkResponse(schema, answer({ code: 'aaa', tags: { 'x1!': 2 } }))).toMatchObject({ ok: true });
    });

    it('one company\'s $id is never what another company\'s $ref resolves to', async () => {
      // Company A's bot names a sub-schema with an $id (valid on its own); company B's bot refers to that $id.
      const ofA = { pet: { $id: 'urn:review:shared', type: 'string', maxLength: 5 } };
      const ofB = { pet: { $ref: 'urn:review:shared' } };
      const savedA = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(a.apiKey), payload: withExtraction(ofA) });
      expect(savedA.statusCode, savedA.body).toBe(201);
      const savedB = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(b.apiKey), payload: withExtraction(ofB) });
      expect(savedB.statusCode, savedB.body).toBe(400);
      expect(savedB.json().error.details.field).toBe('body.config.outcomes.extractionSchema');
      await t.app.inject({ method: 'DELETE', url: `/v1/bots/${savedA.json().id}`, headers: t.as(a.apiKey) });

      // The analysis check itself: B's $ref does not resolve (it is B's schema alone), whatever A compiled before.
      const types = [{ name: 'lead' }];
      const answer = { summary: 's', outcome_type: 'lead', confidence: 0.5, extracted_data: { pet: 'a much longer value than five' } };
      const checkedA = checkResponse({ types, extractionSchema: { type: 'object', properties: ofA } }, answer);
      expect(checkedA).toEqual({ ok: false, error: expect.stringContaining('5 characters') });
      expect(() => checkResponse({ types, extractionSchema: { type: 'object', properties: ofB } }, answer)).toThrow(/resolve reference/);
    });
  });

  describe('company B with company A\'s ids', () => {
    type Probe = [string, 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', () => string, (() => unknown)?];
    const probes: Probe[] = [
      ['get bot', 'GET', () => `/v1/bots/${aBot}`],
      ['patch bot', 'PATCH', () => `/v1/bots/${aBot}`, () => ({ name: 'taken over' })],
      ['deactivate bot', 'DELETE', () => `/v1/bots/${aBot}`],
      ['availability', 'GET', () => `/v1/bots/${aBot}/availability?service=cut`],
      ['list documents', 'GET', () => `/v1/bots/${aBot}/knowledge`],
      ['get document via A bot', 'GET', () => `/v1/bots/${aBot}/knowledge/${ids.document}`],
      ['get document via own bot', 'GET', () => `/v1/bots/${bBot}/knowledge/${ids.document}`],
      ['delete document via own bot', 'DELETE', () => `/v1/bots/${bBot}/knowledge/${ids.document}`],
      ['delete document via A bot', 'DELETE', () => `/v1/bots/${aBot}/knowledge/${ids.document}`],
      ['search A bot', 'POST', () => `/v1/bots/${aBot}/knowledge/search`, () => ({ query: 'opens' })],
      ['web call on A bot', 'POST', () => `/v1/bots/${aBot}/web-calls`],
      ['outbound call on A bot', 'POST', () => `/v1/bots/${aBot}/calls`, () => ({ to: '+12125550199' })],
      ['get booking', 'GET', () => `/v1/bookings/${ids.booking}`],
      ['booking events', 'GET', () => `/v1/bookings/${ids.booking}/events`],
      ['cancel booking', 'POST', () => `/v1/bookings/${ids.booking}/cancel`, () => ({})],
      ['transition booking', 'POST', () => `/v1/bookings/${ids.booking}/transitions`, () => ({ to: 'cancelled' })],
      ['reschedule booking', 'POST', () => `/v1/bookings/${ids.booking}/reschedule`, () => ({ start: ids.slot })],
      ['book on A bot', 'POST', () => '/v1/bookings', () => ({ bot_id: aBot, service_id: 'cut', start: ids.slot, customer_name: 'x', customer_phone: '+12125550100' })],
      ['get call', 'GET', () => `/v1/calls/${ids.call}`],
      ['call recording', 'GET', () => `/v1/calls/${ids.call}/recording`],
      ['call usage', 'GET', () => `/v1/usage/calls/${ids.call}`],
      ['analytics of A bot', 'GET', () => `/v1/analytics?from=2026-01-01&to=2026-01-02&bot_id=${aBot}`],
      ['usage of A bot', 'GET', () => `/v1/usage?from=2026-01-01&to=2026-01-02&bot_id=${aBot}`],
      ['get campaign', 'GET', () => `/v1/campaigns/${ids.campaign}`],
      ['replace campaign', 'PUT', () => `/v1/campaigns/${ids.campaign}`, () => ({ bot_id: bBot, name: 'mine' })],
      ['cancel campaign', 'POST', () => `/v1/campaigns/${ids.campaign}/cancel`],
      ['add contacts', 'POST', () => `/v1/campaigns/${ids.campaign}/contacts`, () => ({ contacts: [{ phone: '+12125550103' }] })],
      ['list contacts', 'GET', () => `/v1/campaigns/${ids.campaign}/contacts`],
      ['list attempts', 'GET', () => `/v1/campaigns/${ids.campaign}/attempts`],
      ['campaign on A bot', 'POST', () => '/v1/campaigns', () => ({ bot_id: aBot, name: 'x' })],
      ['A dnc entry', 'GET', () => '/v1/dnc/%2B12125550102'],
      ['remove A dnc entry', 'DELETE', () => '/v1/dnc/%2B12125550102'],
      ['get delivery', 'GET', () => `/v1/webhooks/deliveries/${ids.delivery}`],
      ['replay delivery', 'POST', () => `/v1/webhooks/deliveries/${ids.delivery}/replay`],
      ['revoke A key', 'DELETE', () => `/v1/api-keys/${ids.key}`],
      ['release A number', 'DELETE', () => '/v1/phone-numbers/%2B15550001111'],
    ];

    it.each(probes)('%s → 4xx, nothing of A in the answer', async (_name, method, url, payload) => {
      const body = payload?.();
      const res = await t.app.inject({ method, url: url(), headers: t.as(b.apiKey), ...(body !== undefined ? { payload: body as object } : {}) });
      expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, res.body).toBeLessThan(500);
      for (const id of [aBot, ids.booking, ids.call, ids.campaign, ids.document, a.companyId]) expect(res.body).not.toContain(id);
      expect(res.body).not.toContain('Alice');
    });

    it('filters by A\'s ids are 404, as A\'s resources are (tenant-isolation-ids.test.ts)', async () => {
      for (const url of [`/v1/bookings?bot_id=${aBot}`, `/v1/bookings?call_id=${ids.call}`, `/v1/calls?bot_id=${aBot}`, `/v1/audit-log?actor=${ids.key}`]) {
        const res = await t.app.inject({ method: 'GET', url, headers: t.as(b.apiKey) });
        expect(res.statusCode, url).toBe(404);
        for (const id of [aBot, ids.call, ids.key]) expect(res.body, url).not.toContain(id);
      }
      const consent = await t.app.inject({ method: 'GET', url: '/v1/contacts/%2B12125550101/consent', headers: t.as(b.apiKey) });
      expect(consent.json().voice).toBe('unknown');
      const exp = await t.app.inject({ method: 'GET', url: '/v1/export', headers: t.as(b.apiKey) });
      expect(exp.statusCode).toBe(200);
      for (const id of [aBot, ids.booking, ids.call, ids.campaign, a.companyId]) expect(exp.body).not.toContain(id);
    });

    it('left everything of A as it was', async () => {
      const h = t.as(a.apiKey);
      const bot = (await t.app.inject({ method: 'GET', url: `/v1/bots/${aBot}`, headers: h })).json();
      expect([bot.name, bot.is_active, bot.phone_number]).toEqual(['Alpha bot', true, '+15550001111']);
      expect((await t.app.inject({ method: 'GET', url: `/v1/bookings/${ids.booking}`, headers: h })).json().status).toBe('confirmed');
      expect((await t.app.inject({ method: 'GET', url: `/v1/campaigns/${ids.campaign}`, headers: h })).json().status).toBe('draft');
      expect((await t.app.inject({ method: 'GET', url: `/v1/bots/${aBot}/knowledge/${ids.document}`, headers: h })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/v1/dnc/%2B12125550102', headers: h })).statusCode).toBe(200);
      const keys = (await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: h })).json().data as { id: string; revoked_at: string | null }[];
      expect(keys.find((k) => k.id === ids.key)?.revoked_at).toBeNull();
    });
  });

  describe('prototype keys', () => {
    const send = (method: 'POST' | 'PATCH', url: string, body: string, type = 'application/json') =>
      t.app.inject({ method, url, headers: { ...t.as(a.apiKey), 'content-type': type }, payload: body });

    it('a JSON key __proto__ (or constructor holding prototype) is a 400 naming it and its object, not "not valid JSON"', async () => {
      const cases: [string, 'POST' | 'PATCH', string, string][] = [
        ['body.config', 'PATCH', `/v1/bots/${aBot}`, '{"config":{"greeting":"Hi","systemPrompt":"","__proto__":{"admin":true}}}'],
        ['body', 'PATCH', `/v1/bots/${aBot}`, '{"__proto__":{"name":"x"}}'],
        ['body.config', 'PATCH', `/v1/bots/${aBot}`, '{"config":{"greeting":"Hi","systemPrompt":"","constructor":{"prototype":{"admin":true}}}}'],
        // The bulk uploads parse their bodies on a thread of their own (campaigns/upload-body.ts): the same answer.
        ['body.contacts.0.variables', 'POST', `/v1/campaigns/${ids.campaign}/contacts`, '{"contacts":[{"phone":"+12125550111","variables":{"__proto__":"x"}}]}'],
      ];
      for (const [field, method, url, body] of cases) {
        const res = await send(method, url, body);
        expect(res.statusCode, body).toBe(400);
        expect(res.json().error.details.field, body).toBe(field);
        expect(res.json().error.message, body).toMatch(/has a key named (__proto__|constructor holding prototype): keys that would reach an object's prototype are refused/);
      }
      // JSON that is not JSON is still said to be that.
      expect((await send('PATCH', `/v1/bots/${aBot}`, '{"config":')).json().error.message).toBe('Body is not valid JSON');
      // A constructor key without a prototype is an ordinary key (a contact's variable may be called that).
      const ok = await send('POST', `/v1/campaigns/${ids.campaign}/contacts`, '{"contacts":[{"phone":"+12125550112","variables":{"constructor":"x"}}]}');
      expect(ok.statusCode, ok.body).toBe(200);
    });

    it('a CSV column named __proto__ is a 400, not its values dropped without a word', async () => {
      const res = await send('POST', `/v1/campaigns/${ids.campaign}/contacts/csv`, 'phone,__proto__,plan\n+12125550113,gold,annual\n', 'text/csv');
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.message).toContain('a column may not be named __proto__');
      const listed = (await t.app.inject({ method: 'GET', url: `/v1/campaigns/${ids.campaign}/contacts`, headers: t.as(a.apiKey) })).json().data as { phone: string }[];
      expect(listed.map((c) => c.phone)).not.toContain('+12125550113');
    });
  });

  describe('bytes that are not UTF-8', () => {
    // "José" in Windows-1252 / Latin-1: é is the one byte 0xE9, which UTF-8 decoding turned into U+FFFD.
    const latin1 = (text: string) => Buffer.from(text, 'latin1');
    const send = (method: 'POST' | 'PATCH', url: string, body: Buffer, type: string) =>
      t.app.inject({ method, url, headers: { ...t.as(a.apiKey), 'content-type': type }, payload: body });

    it('are a 400 saying so, on every text body (JSON, the bulk JSON uploads, CSV), and nothing is stored', async () => {
      const cases: [string, 'POST' | 'PATCH', string, Buffer, string][] = [
        ['a key name', 'POST', '/v1/api-keys', latin1('{"name":"José"}'), 'application/json'],
        ['a bot name', 'PATCH', `/v1/bots/${aBot}`, latin1('{"name":"Café"}'), 'application/json'],
        ['UTF-16 JSON', 'POST', '/v1/api-keys', Buffer.from('\ufeff{"name":"Jose"}', 'utf16le'), 'application/json; charset=utf-16'],
        ['a contact (bulk JSON)', 'POST', `/v1/campaigns/${ids.campaign}/contacts`, latin1('{"contacts":[{"phone":"+12125550121","name":"José"}]}'), 'application/json'],
        ['a contacts CSV', 'POST', `/v1/campaigns/${ids.campaign}/contacts/csv`, latin1('phone,name\n+12125550122,José\n'), 'text/csv'],
        ['a do-not-call CSV', 'POST', '/v1/dnc/csv', latin1('phone,reason\n+12125550123,asked é\n'), 'text/csv'],
      ];
      for (const [name, method, url, body, type] of cases) {
        const res = await send(method, url, body, type);
        expect(res.statusCode, name).toBe(400);
        expect(res.json().error.code, name).toBe('PARLEY_ERR_VALIDATION');
        expect(res.json().error.message, name).toMatch(/^(Body|CSV) is not UTF-8 text: send it encoded as UTF-8/);
      }
      const keys = (await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: t.as(a.apiKey) })).json().data as { name: string }[];
      expect(keys.map((k) => k.name).filter((n) => n.startsWith('Jos'))).toEqual([]);
      expect((await t.app.inject({ method: 'GET', url: `/v1/bots/${aBot}`, headers: t.as(a.apiKey) })).json().name).toBe('Alpha bot');
      const contacts = (await t.app.inject({ method: 'GET', url: `/v1/campaigns/${ids.campaign}/contacts`, headers: t.as(a.apiKey) })).json().data as { phone: string }[];
      expect(contacts.map((c) => c.phone).filter((p) => p === '+12125550121' || p === '+12125550122')).toEqual([]);
      expect((await t.app.inject({ method: 'GET', url: '/v1/dnc/+12125550123', headers: t.as(a.apiKey) })).statusCode).toBe(404);
      // The same text in UTF-8 is taken as it is.
      const ok = await send('POST', '/v1/api-keys', Buffer.from('{"name":"José"}', 'utf8'), 'application/json');
      expect(ok.statusCode, ok.body).toBe(201);
      expect(ok.json().name).toBe('José');
    });
  });

  describe('a body of another type than the route takes', () => {
    it('is a 415 naming JSON, not "body must be object"; the CSV routes still take text/plain', async () => {
      const send = (url: string, body: string, type: string, method: 'POST' | 'PATCH' = 'POST') =>
        t.app.inject({ method, url, headers: { ...t.as(a.apiKey), 'content-type': type }, payload: body });
      const cases: [string, string, string, 'POST' | 'PATCH'][] = [
        [`/v1/bots/${aBot}`, '{"name":"Renamed"}', 'text/plain', 'PATCH'],
        [`/v1/bots/${aBot}/knowledge/search`, '{"query":"hours"}', 'text/plain; charset=utf-8', 'POST'],
        [`/v1/bots/${aBot}/knowledge/search`, '--x\r\nContent-Disposition: form-data; name="query"\r\n\r\nhours\r\n--x--\r\n', 'multipart/form-data; boundary=x', 'POST'],
      ];
      for (const [url, body, type, method] of cases) {
        const res = await send(url, body, type, method);
        expect(res.statusCode, `${type} ${url}`).toBe(415);
        expect(res.json().error).toEqual({ code: 'PARLEY_ERR_UNSUPPORTED_MEDIA_TYPE', message: `This route takes JSON (content-type: application/json), not ${type.split(';')[0]}` });
      }
      expect((await t.app.inject({ method: 'GET', url: `/v1/bots/${aBot}`, headers: t.as(a.apiKey) })).json().name).toBe('Alpha bot');
      const csv = await send('/v1/dnc/csv', 'phone\n+12125550131\n', 'text/plain');
      expect(csv.statusCode, csv.body).toBe(200);
    });
  });

  describe('names with control characters or direction overrides', () => {
    it('are a 400 on a campaign, and a contact\'s is its row\'s error (JSON and CSV), the other rows stored', async () => {
      const camp = await t.app.inject({ method: 'POST', url: '/v1/campaigns', headers: t.as(a.apiKey), payload: { bot_id: aBot, name: 'Spring\u202e' } });
      expect(camp.statusCode, camp.body).toBe(400);
      expect(camp.json().error.details.field).toBe('body.name');
      const json = await t.app.inject({
        method: 'POST', url: `/v1/campaigns/${ids.campaign}/contacts`, headers: t.as(a.apiKey),
        payload: { contacts: [{ phone: '+12125550141', name: 'Ann\u001b[31m' }, { phone: '+12125550142', name: 'Ann Lee' }] },
      });
      expect(json.json()).toMatchObject({ added: 1, rejected: [{ row: 1, error: 'name has control characters or direction overrides' }] });
      const csv = await t.app.inject({
        method: 'POST', url: `/v1/campaigns/${ids.campaign}/contacts/csv`, headers: { ...t.as(a.apiKey), 'content-type': 'text/csv' },
        payload: 'phone,name\n+12125550143,Bob\u2066\n+12125550144,Bob Ray\n',
      });
      expect(csv.json()).toMatchObject({ added: 1, rejected: [{ row: 1, error: 'name has control characters or direction overrides' }] });
    });
  });

  describe('a read-only key', () => {
    it('cannot write, nor mint a key that can', async () => {
      const ro = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(a.apiKey), payload: { name: 'ro', scopes: ['bots:read', 'bookings:read', 'knowledge:read', 'calls:read'] } });
      expect(ro.statusCode).toBe(201);
      const key = ro.json().key as string;
      const writes: ['POST' | 'PATCH' | 'DELETE', string, unknown?][] = [
        ['PATCH', `/v1/bots/${aBot}`, { name: 'x' }],
        ['DELETE', `/v1/bots/${aBot}`],
        ['POST', `/v1/bookings/${ids.booking}/cancel`, {}],
        ['DELETE', `/v1/bots/${aBot}/knowledge/${ids.document}`],
        ['POST', `/v1/bots/${aBot}/web-calls`],
        ['POST', '/v1/api-keys', { name: 'escalate', scopes: ['bots:write'] }],
        ['POST', '/v1/api-keys', { name: 'escalate' }],
      ];
      for (const [method, url, payload] of writes) {
        const res = await t.app.inject({ method, url, headers: t.as(key), ...(payload !== undefined ? { payload: payload as object } : {}) });
        expect(res.statusCode, `${method} ${url}`).toBe(403);
        expect(res.json().error.code).toBe('PARLEY_ERR_FORBIDDEN');
      }
      expect((await t.app.inject({ method: 'GET', url: `/v1/bookings/${ids.booking}`, headers: t.as(a.apiKey) })).json().status).toBe('confirmed');
    });
  });
});
