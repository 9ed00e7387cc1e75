/**
 * The monthly budget: set by the company (settings) or the operator (admin), shown with the month's cost; once
 * used up, outbound calls and web-call tokens are refused (409 budget_exhausted), campaign dials are deferred
 * without burning an attempt, and inbound calls hear a notice in the bot's language and are hung up (stored with
 * the reason). Another company's budget and usage never count.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignRoutes } from '../../src/api/routes/campaigns.js';
import { outboundCallRoutes } from '../../src/api/routes/outbound-calls.js';
import { webCallRoutes } from '../../src/api/routes/web-calls.js';
import { CampaignScheduler } from '../../src/campaigns/scheduler.js';
import { createLogger } from '../../src/log.js';
import { OutboundDialer } from '../../src/telephony/twilio/outbound.js';
import { TwilioRestClient } from '../../src/telephony/twilio/rest.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { BUDGET_NOTICE, twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { purgeExpired } from '../../src/privacy/retention.js';
import { BudgetGuard, utcMonth } from '../../src/usage/budget.js';
import { pricesFrom } from '../../src/usage/prices.js';
import { FakeTwilioRest } from '../fakes/fakeTwilioRest.js';
import { ADMIN_TOKEN, botBody, createTestApp, type TestApp } from '../helpers/app.js';

const AUTH = 'twilio-auth-token-test';
const ORIGIN = 'https://voice.example.com';

let t: TestApp;
let fake: FakeTwilioRest;
let budget: BudgetGuard;
let dialer: OutboundDialer;
let n = 0;

interface Co { companyId: string; apiKey: string; botId: string; number: string }

async function company(language: 'en' | 'ru' = 'en'): Promise<Co> {
  const c = await t.createCompany();
  const number = `+1555888${String(++n).padStart(4, '0')}`;
  const bot = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(c.apiKey), payload: botBody({ phone_number: number, language }) });
  expect(bot.statusCode).toBe(201);
  // Campaigns need a webhook URL; call events are then written too.
  await t.app.inject({ method: 'PUT', url: '/v1/company/webhook', headers: t.as(c.apiKey), payload: { url: 'https://hooks.example.com/parley' } });
  return { ...c, botId: bot.json().id as string, number };
}

/** A call this month (or `at`) that used `chars` Cartesia characters: PRICE_CARTESIA_PER_MCHAR (40) per million. */
async function spend(c: Co, chars: number, at = new Date()): Promise<void> {
  const [call] = await t.db.sql<{ id: string }[]>`
    insert into calls (company_id, bot_id, direction, status, started_at, ended_at, duration_sec)
    values (${c.companyId}, ${c.botId}, 'web', 'completed', ${at}, ${at}, 0) returning id`;
  await t.db.sql`insert into call_usage (call_id, company_id, bot_id, started_at, kind, provider, model, quantity)
    values (${call!.id}, ${c.companyId}, ${c.botId}, ${at}, 'tts_chars', 'cartesia', 'sonic-3', ${chars})`;
}

const api = (c: { apiKey: string }, method: 'GET' | 'PUT' | 'POST', url: string, payload?: object) =>
  t.app.inject({ method, url, headers: t.as(c.apiKey), ...(payload ? { payload } : {}) });

const voice = (form: Record<string, string>) =>
  t.app.inject({
    method: 'POST', url: '/twilio/voice',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeSignature(AUTH, `${ORIGIN}/twilio/voice`, form) },
    payload: new URLSearchParams(form).toString(),
  });

beforeAll(async () => {
  fake = await FakeTwilioRest.start();
  const rest = new TwilioRestClient({ accountSid: fake.accountSid, authToken: fake.authToken, baseUrl: fake.url, retryDelayMs: 1, timeoutMs: 2000 });
  t = await createTestApp({
    env: { RATE_LIMIT_PER_MIN: '100000' },
    tenantRoutes: (db, config) => {
      // No cache: every check sees the usage written just before it.
      budget = new BudgetGuard(db.sql, pricesFrom(config), { cacheMs: 0 });
      dialer = new OutboundDialer({ sql: db.sql, publicOrigin: ORIGIN, rest, maxActivePerCompany: 1000 });
      return [
        outboundCallRoutes({ sql: db.sql, dialer, budget }),
        webCallRoutes({ sql: db.sql, publicOrigin: ORIGIN, tokenTtlSec: 60, budget }),
        campaignRoutes({ sql: db.sql, dialingAvailable: true }),
      ];
    },
    publicRoutes: (db) => [twilioVoiceRoutes({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: 'secret', budget })],
  });
}, 60_000);
afterAll(async () => {
  await t.close();
  await fake.close();
});

describe('setting and reading the budget', () => {
  it('the company sets, reads and clears its budget; bad values are a 400 and change nothing', async () => {
    const c = await company();
    const none = await api(c, 'GET', '/v1/company/budget');
    expect(none.statusCode).toBe(200);
    expect(none.json()).toMatchObject({ monthly_budget: null, spent: 0, exhausted: false, currency: 'USD', month: utcMonth(new Date()).label });
    // 0.004 would be stored as 0 (numeric(14, 2)): an exhausted budget nobody asked for.
    for (const bad of [-1, 'ten', 1e13, [1], 0.004, 12.345]) {
      expect((await api(c, 'PUT', '/v1/company/budget', { monthly_budget: bad })).statusCode).toBe(400);
    }
    expect((await api(c, 'PUT', '/v1/company/budget', { budget: 5 })).statusCode).toBe(400);
    await spend(c, 100_000); // 4.00
    // The month's cost shows before any budget is set.
    expect((await api(c, 'GET', '/v1/company/budget')).json()).toMatchObject({ monthly_budget: null, spent: 4, exhausted: false });
    const set = await api(c, 'PUT', '/v1/company/budget', { monthly_budget: 10 });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toMatchObject({ monthly_budget: 10, spent: 4, exhausted: false });
    expect(set.json().resets_at).toBe(utcMonth(new Date()).end.toISOString());
    expect((await api(c, 'PUT', '/v1/company/budget', { monthly_budget: 0 })).json()).toMatchObject({ monthly_budget: 0, exhausted: true });
    expect((await api(c, 'PUT', '/v1/company/budget', { monthly_budget: null })).json()).toMatchObject({ monthly_budget: null, exhausted: false });
  });

  it('needs settings:read / settings:write; the operator sets it through the admin API', async () => {
    const c = await company();
    const key = await api(c, 'POST', '/v1/api-keys', { name: 'usage only', scopes: ['usage:read'] });
    const limited = { apiKey: key.json().key as string };
    expect((await api(limited, 'GET', '/v1/company/budget')).statusCode).toBe(403);
    expect((await api(limited, 'PUT', '/v1/company/budget', { monthly_budget: 1 })).statusCode).toBe(403);
    const admin = (id: string, payload: object, token = ADMIN_TOKEN) =>
      t.app.inject({ method: 'PUT', url: `/v1/admin/companies/${id}/budget`, headers: { authorization: `Bearer ${token}` }, payload });
    expect((await admin(c.companyId, { monthly_budget: 25.5 }, 'wrong-token-0123456789abcdefghijklmnop')).statusCode).toBe(401);
    const res = await admin(c.companyId, { monthly_budget: 25.5 });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ company_id: c.companyId, monthly_budget: 25.5 });
    expect((await api(c, 'GET', '/v1/company/budget')).json()).toMatchObject({ monthly_budget: 25.5 });
    expect((await admin('3f1e2d4c-0000-4000-8000-00000000dead', { monthly_budget: 1 })).statusCode).toBe(404);
    expect((await admin(c.companyId, { monthly_budget: 0.001 })).statusCode).toBe(400);
    expect((await api(c, 'GET', '/v1/company/budget')).json()).toMatchObject({ monthly_budget: 25.5 });
  });

  it('counts this UTC month only, and only the company\'s own usage (embedding tokens included)', async () => {
    const c = await company();
    const other = await company();
    const month = utcMonth(new Date());
    await spend(c, 1_000_000, new Date(month.start.getTime() - 1000)); // last month: 40.00, not counted
    await spend(other, 1_000_000); // another company's 40.00
    await spend(c, 50_000); // 2.00
    await t.db.sql`insert into ingest_usage (company_id, bot_id, kind, provider, model, quantity)
      values (${c.companyId}, ${c.botId}, 'embedding_tokens', 'openai', 'text-embedding-3-small', 50000000),
             (${c.companyId}, ${c.botId}, 'embedding_tokens', 'local', 'local-hash', 999999999)`; // 1.00 + 0
    await api(c, 'PUT', '/v1/company/budget', { monthly_budget: 3.5 });
    expect((await api(c, 'GET', '/v1/company/budget')).json()).toMatchObject({ spent: 3, exhausted: false });
    await spend(c, 12_500); // 0.50 more: reached
    expect((await api(c, 'GET', '/v1/company/budget')).json()).toMatchObject({ spent: 3.5, exhausted: true });
    expect((await api(other, 'GET', '/v1/company/budget')).json()).toMatchObject({ monthly_budget: null, exhausted: false });
  });

  it('still counts what purged calls spent, telephony minutes included: retention removes calls, not the bill', async () => {
    const c = await company();
    const price = t.config.PRICE_TWILIO_INBOUND_PER_MIN;
    const [call] = await t.db.sql<{ id: string }[]>`
      insert into calls (company_id, bot_id, direction, status, started_at) values (${c.companyId}, ${c.botId}, 'inbound', 'in_progress', now()) returning id`;
    await t.db.sql`insert into call_usage (call_id, company_id, bot_id, started_at, kind, provider, model, quantity)
      values (${call!.id}, ${c.companyId}, ${c.botId}, now(), 'tts_chars', 'cartesia', 'sonic-3', 50000)`; // 2.00
    // The duration as the call's end sets it, then as Twilio's later status callback corrects it: 9 minutes, then 10.
    await t.db.sql`update calls set status = 'completed', ended_at = now(), duration_sec = 521 where id = ${call!.id}`;
    await t.db.sql`update calls set duration_sec = 599 where id = ${call!.id}`;
    const spent = 2 + 10 * price;
    expect((await api(c, 'GET', '/v1/company/budget')).json().spent).toBeCloseTo(spent, 6);
    await t.db.sql`update companies set retention_days = 1 where id = ${c.companyId}`;
    const purged = await purgeExpired(t.db.sql, { now: new Date(Date.now() + 1.5 * 86_400_000) });
    expect(purged.calls).toBe(1);
    expect((await api(c, 'GET', '/v1/company/budget')).json().spent).toBeCloseTo(spent, 6);
    const today = new Date().toISOString().slice(0, 10);
    const usage = (await api(c, 'GET', `/v1/usage?from=${today}&to=${today}`)).json() as { totals: { items: { kind: string; quantity: number }[] } };
    expect(usage.totals.items.find((i) => i.kind === 'telephony_minutes')?.quantity).toBe(10);
    expect(await t.db.sql`select call_id from call_usage where company_id = ${c.companyId}`).toEqual([{ call_id: null }, { call_id: null }]);
  });

  it('caches the month\'s cost for cacheMs; forget() reads it again', async () => {
    const c = await company();
    const cached = new BudgetGuard(t.db.sql, pricesFrom(t.config), { cacheMs: 3_600_000 });
    await t.db.sql`update companies set monthly_budget = 1 where id = ${c.companyId}`;
    expect((await cached.status(c.companyId)).spent).toBe(0);
    await spend(c, 25_000); // 1.00
    expect((await cached.status(c.companyId)).exhausted).toBe(false);
    cached.forget(c.companyId);
    expect(await cached.status(c.companyId)).toMatchObject({ spent: 1, exhausted: true });
  });
});

describe('an exhausted budget refuses new calls', () => {
  let broke: Co;
  let fine: Co;
  beforeAll(async () => {
    broke = await company();
    fine = await company();
    await spend(broke, 250_000); // 10.00
    await api(broke, 'PUT', '/v1/company/budget', { monthly_budget: 10 });
    await api(fine, 'PUT', '/v1/company/budget', { monthly_budget: 10 });
  });
  const callCount = async (c: Co) => (await t.db.sql`select count(*)::int as n from calls where company_id = ${c.companyId}`)[0]!.n as number;

  it('outbound calls: 409 budget_exhausted, no call row, nothing dialled; another company dials', async () => {
    const before = await callCount(broke);
    const dials = fake.requests.length;
    const res = await api(broke, 'POST', `/v1/bots/${broke.botId}/calls`, { to: '+15550100200' });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'PARLEY_ERR_BUDGET_EXHAUSTED', details: { reason: 'budget_exhausted', budget: 10, spent: 10, currency: 'USD' } });
    expect(await callCount(broke)).toBe(before);
    expect(fake.requests.length).toBe(dials);
    expect((await api(fine, 'POST', `/v1/bots/${fine.botId}/calls`, { to: '+15550100200' })).statusCode).toBe(201);
  });

  it('web calls: no token (409 budget_exhausted); another company gets one', async () => {
    const res = await api(broke, 'POST', `/v1/bots/${broke.botId}/web-calls`);
    expect(res.statusCode).toBe(409);
    expect(res.json().error.details.reason).toBe('budget_exhausted');
    expect((await api(fine, 'POST', `/v1/bots/${fine.botId}/web-calls`)).statusCode).toBe(201);
  });

  it('inbound calls: a notice in the bot\'s language, a hang-up, and a stored call that says why', async () => {
    const res = await voice({ CallSid: 'CAbudget1', From: '+15551112222', To: broke.number, Direction: 'inbound' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`<Say language="en-US">${BUDGET_NOTICE.en}</Say><Hangup/>`);
    expect(res.body).not.toContain('<Connect>');
    const [call] = await t.db.sql`select company_id, bot_id, status, end_reason, failure_reason, ended_at from calls where twilio_call_sid = 'CAbudget1'`;
    expect(call).toMatchObject({ company_id: broke.companyId, bot_id: broke.botId, status: 'failed', end_reason: 'budget_exhausted', failure_reason: 'budget_exhausted' });
    expect(call!.ended_at).not.toBeNull();
    const [event] = await t.db.sql`select body from webhook_events where company_id = ${broke.companyId} and type = 'call.ended' and body like '%budget_exhausted%'`;
    expect(event).toBeDefined();

    const ru = await company('ru');
    await spend(ru, 25_000);
    await api(ru, 'PUT', '/v1/company/budget', { monthly_budget: 1 });
    const ruRes = await voice({ CallSid: 'CAbudget2', From: '+15551112222', To: ru.number, Direction: 'inbound' });
    expect(ruRes.body).toContain(`<Say language="ru-RU">${BUDGET_NOTICE.ru}</Say><Hangup/>`);

    const ok = await voice({ CallSid: 'CAbudget3', From: '+15551112222', To: fine.number, Direction: 'inbound' });
    expect(ok.body).toContain('<Connect><Stream');
  });

  it('campaigns: contacts are deferred while exhausted, no attempt burned, nothing dialled; dialled once the budget allows', async () => {
    const scheduler = new CampaignScheduler({ sql: t.db.sql, dialer, log: createLogger('silent'), budget, concurrency: 10 });
    const created = await api(broke, 'POST', '/v1/campaigns', { bot_id: broke.botId, name: 'Reminders', windows: [{ days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '23:59' }] });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    expect((await api(broke, 'POST', `/v1/campaigns/${id}/contacts`, { contacts: [{ phone: '+12125550401', time_zone: 'UTC' }] })).statusCode).toBe(200);
    const scheduled = await api(broke, 'POST', `/v1/campaigns/${id}/schedule`);
    expect(scheduled.statusCode, scheduled.body).toBe(200);
    const dialsTo = () => fake.requests.filter((r) => r.path.endsWith('/Calls.json') && r.form.get('To') === '+12125550401').length;

    await scheduler.runOnce();
    const [deferred] = await t.db.sql`select state, attempts, deferred_reason, next_attempt_at from campaign_contacts where campaign_id = ${id}`;
    expect(deferred).toMatchObject({ state: 'pending', attempts: 0, deferred_reason: 'budget_exhausted' });
    expect(dialsTo()).toBe(0);
    expect((await t.db.sql`select count(*)::int as n from campaign_attempts where campaign_id = ${id}`)[0]!.n).toBe(0);

    await api(broke, 'PUT', '/v1/company/budget', { monthly_budget: null });
    await t.db.sql`update campaign_contacts set next_attempt_at = now() where campaign_id = ${id}`;
    await scheduler.runOnce();
    expect(dialsTo()).toBe(1);
  });
});
