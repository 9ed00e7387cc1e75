/**
 * Time zones are matched without regard to case, and were echoed as sent ("utc", "Europe/berlin"): every answer
 * that shows a zone now shows its canonical spelling — GET /v1/analytics and /v1/usage, a campaign contact's zone
 * (JSON and CSV uploads), a bot's booking.timezone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botBody } from '../helpers/app.js';
import { salon } from './booking-fixtures.js';
import { campaignHarness, type Harness } from './campaign-harness.js';

describe('time zones echoed in their canonical spelling', () => {
  let h: Harness;
  let me: Awaited<ReturnType<Harness['company']>>;
  beforeAll(async () => {
    h = await campaignHarness();
    me = await h.company();
  });
  afterAll(async () => h.close());

  const get = (url: string) => h.t.app.inject({ method: 'GET', url, headers: h.t.as(me.apiKey) });
  const cases: [string, string][] = [['utc', 'UTC'], ['Europe/berlin', 'Europe/Berlin'], ['asia/kolkata', 'Asia/Kolkata'], ['America/New_York', 'America/New_York'], ['US/Eastern', 'America/New_York']];

  it('GET /v1/analytics and GET /v1/usage', async () => {
    for (const [sent, shown] of cases) {
      for (const path of ['/v1/analytics', '/v1/usage']) {
        const res = await get(`${path}?from=2026-03-01&to=2026-03-02&time_zone=${encodeURIComponent(sent)}`);
        expect(res.statusCode, res.body).toBe(200);
        expect([path, sent, res.json().time_zone]).toEqual([path, sent, shown]);
      }
    }
  });

  it("a campaign contact's zone, from JSON and from CSV", async () => {
    const id = (await h.api(me.apiKey, 'POST', '/v1/campaigns', { bot_id: me.botId, name: 'Zones' })).json().id as string;
    const json = await h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/contacts`, { contacts: [{ phone: '+12125550501', time_zone: 'america/chicago' }] });
    expect(json.statusCode, json.body).toBeLessThan(300);
    const csv = await h.t.app.inject({
      method: 'POST', url: `/v1/campaigns/${id}/contacts/csv`, headers: { ...h.t.as(me.apiKey), 'content-type': 'text/csv' },
      payload: 'phone,time_zone\n+12125550502,europe/berlin\n',
    });
    expect(csv.statusCode, csv.body).toBeLessThan(300);
    const listed = (await get(`/v1/campaigns/${id}/contacts`)).json().data as { phone: string; time_zone: string }[];
    expect(Object.fromEntries(listed.map((c) => [c.phone, c.time_zone]))).toEqual({ '+12125550501': 'America/Chicago', '+12125550502': 'Europe/Berlin' });
  });

  it("a bot's booking.timezone", async () => {
    const body = botBody({ name: 'Salon' });
    body.config = { ...(body.config as Record<string, unknown>), booking: { ...salon, timezone: 'america/new_york' } };
    const res = await h.t.app.inject({ method: 'POST', url: '/v1/bots', headers: h.t.as(me.apiKey), payload: body });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().config.booking.timezone).toBe('America/New_York');
    const botId = res.json().id as string;
    expect((await get(`/v1/bots/${botId}`)).json().config.booking.timezone).toBe('America/New_York');
  });
});
