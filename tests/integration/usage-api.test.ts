/**
 * GET /v1/usage sums the stored usage and the calls' telephony minutes by local day, prices them with
 * the server's PRICE_* settings, filters by bot, and shows one company only; GET /v1/usage/calls/:id for one call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCallUsage } from '../../src/usage/repo.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

interface Item { kind: string; provider: string; model: string; quantity: number; unit: string; cost: number }

describe('usage API', () => {
  let t: TestApp;
  let a: { companyId: string; apiKey: string };
  let b: { companyId: string; apiKey: string };
  let botA: string;
  let botA2: string;
  let botB: string;
  let firstCall: string;
  let callB: string;

  async function call(companyId: string, botId: string, o: { at: string; direction?: string; durationSec: number }): Promise<string> {
    const sql = t.db.sql;
    const at = new Date(o.at);
    const [row] = await sql<{ id: string }[]>`
      insert into calls (company_id, bot_id, direction, status, started_at, answered_at, ended_at, duration_sec)
      values (${companyId}, ${botId}, ${o.direction ?? 'inbound'}, 'completed', ${at}, ${at}, ${new Date(at.getTime() + o.durationSec * 1000)}, ${o.durationSec})
      returning id`;
    return row!.id;
  }

  beforeAll(async () => {
    t = await createTestApp({
      env: {
        PRICE_TWILIO_INBOUND_PER_MIN: '0.01', PRICE_TWILIO_OUTBOUND_PER_MIN: '0.02', PRICE_DEEPGRAM_PER_MIN: '0.006',
        PRICE_CARTESIA_PER_MCHAR: '50', PRICE_OPENAI_INPUT_PER_MTOK: '2', PRICE_OPENAI_CACHED_INPUT_PER_MTOK: '1', PRICE_OPENAI_OUTPUT_PER_MTOK: '8',
        PRICE_CURRENCY: 'EUR',
      },
    });
    a = await t.createCompany('A');
    b = await t.createCompany('B');
    const mk = async (key: string, n: string) => (await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(key), payload: botBody({ name: n, phone_number: null }) })).json().id as string;
    botA = await mk(a.apiKey, 'a1');
    botA2 = await mk(a.apiKey, 'a2');
    botB = await mk(b.apiKey, 'b1');

    const sql = t.db.sql;
    const usage = async (companyId: string, callId: string, items: Array<[string, string, string, number]>) => {
      await writeCallUsage(sql, { callId, companyId }, items.map(([kind, provider, model, quantity]) => ({ kind: kind as never, provider, model, quantity })));
    };
    // 2024-03-10 23:30 UTC is 2024-03-10 in UTC but 2024-03-11 in Europe/Berlin (UTC+1).
    firstCall = await call(a.companyId, botA, { at: '2024-03-10T23:30:00Z', durationSec: 61 });
    await usage(a.companyId, firstCall, [
      ['stt_audio_ms', 'deepgram', 'nova-3', 60_000], ['tts_chars', 'cartesia', 'sonic-3', 2000],
      ['llm_input_tokens', 'openai', 'gpt-4o-mini', 100_000], ['llm_cached_input_tokens', 'openai', 'gpt-4o-mini', 50_000], ['llm_output_tokens', 'openai', 'gpt-4o-mini', 10_000],
    ]);
    // Written twice (a second session of the same call): added.
    await usage(a.companyId, firstCall, [['llm_output_tokens', 'openai', 'gpt-4o-mini', 5_000]]);
    const second = await call(a.companyId, botA2, { at: '2024-03-11T09:00:00Z', durationSec: 30, direction: 'outbound' });
    await usage(a.companyId, second, [['stt_audio_ms', 'local', '', 30_000], ['llm_output_tokens', 'openai', 'gpt-4o-mini', 1_000]]);
    await call(a.companyId, botA2, { at: '2024-03-11T10:00:00Z', durationSec: 125, direction: 'web' });
    // Another company's call on the same day.
    callB = await call(b.companyId, botB, { at: '2024-03-11T09:00:00Z', durationSec: 600 });
    await usage(b.companyId, callB, [['llm_output_tokens', 'openai', 'gpt-4o-mini', 9_000_000]]);
  });
  afterAll(async () => t?.close());

  const get = (key: string, url: string) => t.app.inject({ method: 'GET', url, headers: t.as(key) });
  const find = (items: Item[], kind: string, provider: string) => items.find((i) => i.kind === kind && i.provider === provider);

  it('sums and prices usage by day and in total', async () => {
    const res = await get(a.apiKey, '/v1/usage?from=2024-03-10&to=2024-03-11');
    expect(res.statusCode).toBe(200);
    const body = res.json() as { currency: string; days: Array<{ date: string; items: Item[]; cost: number }>; totals: { items: Item[]; cost: number } };
    expect(body.currency).toBe('EUR');
    expect(body.days.map((d) => d.date)).toEqual(['2024-03-10', '2024-03-11']);
    const [d10, d11] = body.days;
    expect(find(d10!.items, 'telephony_minutes', 'twilio')).toMatchObject({ model: 'inbound', quantity: 2, unit: 'minutes', cost: 0.02 });
    expect(find(d10!.items, 'stt_seconds', 'deepgram')).toMatchObject({ quantity: 60, cost: 0.006 });
    expect(find(d10!.items, 'tts_chars', 'cartesia')).toMatchObject({ quantity: 2000, cost: 0.1 });
    expect(find(d10!.items, 'llm_input_tokens', 'openai')).toMatchObject({ model: 'gpt-4o-mini', quantity: 100_000, cost: 0.2 });
    expect(find(d10!.items, 'llm_cached_input_tokens', 'openai')).toMatchObject({ quantity: 50_000, cost: 0.05 });
    expect(find(d10!.items, 'llm_output_tokens', 'openai')).toMatchObject({ quantity: 15_000, cost: 0.12 });
    expect(d10!.cost).toBe(0.496);
    expect(find(d11!.items, 'telephony_minutes', 'twilio')).toMatchObject({ model: 'outbound', quantity: 1, cost: 0.02 });
    expect(find(d11!.items, 'telephony_minutes', 'web')).toMatchObject({ quantity: 3, cost: 0 });
    expect(find(d11!.items, 'stt_seconds', 'local')).toMatchObject({ quantity: 30, cost: 0 });
    expect(d11!.cost).toBe(0.028);
    expect(body.totals.cost).toBe(0.524);
    expect(find(body.totals.items, 'llm_output_tokens', 'openai')).toMatchObject({ quantity: 16_000, cost: 0.128 });
  });

  it('cuts days in the requested time zone', async () => {
    const body = (await get(a.apiKey, '/v1/usage?from=2024-03-10&to=2024-03-11&time_zone=Europe/Berlin')).json() as { days: Array<{ date: string; items: Item[]; cost: number }> };
    expect(body.days[0]!.items).toEqual([]);
    expect(body.days[1]!.cost).toBe(0.524);
  });

  it('filters by bot', async () => {
    const body = (await get(a.apiKey, `/v1/usage?from=2024-03-10&to=2024-03-11&bot_id=${botA2}`)).json() as { bot_id: string; totals: { cost: number; items: Item[] } };
    expect(body.bot_id).toBe(botA2);
    expect(body.totals.cost).toBe(0.028);
    expect(find(body.totals.items, 'stt_seconds', 'deepgram')).toBeUndefined();
  });

  it("shows one call's usage", async () => {
    const res = await get(a.apiKey, `/v1/usage/calls/${firstCall}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ call_id: firstCall, currency: 'EUR', cost: 0.496 });
  });

  it("never shows another company's usage", async () => {
    expect((await get(a.apiKey, `/v1/usage/calls/${callB}`)).statusCode).toBe(404);
    expect((await get(a.apiKey, `/v1/usage?from=2024-03-10&to=2024-03-11&bot_id=${botB}`)).statusCode).toBe(404);
    const mine = (await get(b.apiKey, '/v1/usage?from=2024-03-10&to=2024-03-11')).json() as { totals: { items: Item[] } };
    expect(mine.totals.items.map((i) => `${i.kind}/${i.provider}`).sort()).toEqual(['llm_output_tokens/openai', 'telephony_minutes/twilio']);
    expect(find(mine.totals.items, 'telephony_minutes', 'twilio')!.quantity).toBe(10);
  });

  it('validates its input', async () => {
    for (const qs of ['from=2024-03-10', 'from=2024-3-1&to=2024-03-02', 'from=2024-03-10&to=2024-03-09', 'from=2024-03-10&to=2024-03-11&time_zone=Mars/Base', 'from=2024-03-10&to=2024-03-11&bot_id=nope', 'from=2020-01-01&to=2024-01-01', 'from=2024-03-10&to=2024-03-11&x=1']) {
      const res = await get(a.apiKey, `/v1/usage?${qs}`);
      expect(res.statusCode, qs).toBe(400);
      expect(res.json().error.code).toBeDefined();
    }
    expect((await get(a.apiKey, '/v1/usage/calls/not-a-uuid')).statusCode).toBe(400);
    // Days whose instants the database cannot store (9999-12-31 ends in the year 10000) name their field.
    for (const [qs, field] of [['from=9999-12-31&to=9999-12-31', 'querystring.to'], ['from=0001-01-01&to=0001-01-02&time_zone=Asia/Tokyo', 'querystring.from']]) {
      const res = await get(a.apiKey, `/v1/usage?${qs}`);
      expect(res.statusCode, qs).toBe(400);
      expect(res.json().error.details?.field, qs).toBe(field);
    }
  });

  it('needs usage:read and is in the OpenAPI document', async () => {
    const create = async (scopes: string[]) => (await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(a.apiKey), payload: { name: scopes.join(','), scopes } })).json().key as string;
    const calls = await create(['calls:read']);
    const usage = await create(['usage:read']);
    expect((await get(calls, '/v1/usage?from=2024-03-10&to=2024-03-11')).statusCode).toBe(403);
    expect((await get(calls, `/v1/usage/calls/${firstCall}`)).statusCode).toBe(403);
    expect((await get(usage, '/v1/usage?from=2024-03-10&to=2024-03-11')).statusCode).toBe(200);
    expect((await get(usage, `/v1/usage/calls/${firstCall}`)).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/v1/usage?from=2024-03-10&to=2024-03-11' })).statusCode).toBe(401);
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/usage', '/v1/usage/calls/{id}']));
  });
});
