/**
 * OUTBOUND_ALLOWED_PREFIXES holds for every number Parley makes Twilio call: outbound calls (outbound-calls.test),
 * campaigns (through the same dialer) and transfers — a bot's transfer number outside the list is refused when the
 * bot is saved (400), and a transfer to one saved before the list changed is refused when the caller asks for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policedTransfer } from '../../src/telephony/dial-policy.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

describe('dial policy for transfers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { OUTBOUND_ALLOWED_PREFIXES: '+1555, +44' } });
  });
  afterAll(async () => t.close());

  const withTransfer = (transferNumber: string) => {
    const body = botBody();
    return { ...body, config: { ...(body.config as object), transferNumber } };
  };

  it('refuses to save a bot whose transfer number is outside the allowed prefixes, on create and update', async () => {
    const c = await t.createCompany();
    const premium = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(c.apiKey), payload: withTransfer('+19005550100') });
    expect(premium.statusCode).toBe(400);
    expect(premium.json().error.message).toContain('config.transferNumber');
    const ok = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(c.apiKey), payload: withTransfer('+15550001111') });
    expect(ok.statusCode).toBe(201);
    const update = await t.app.inject({ method: 'PATCH', url: `/v1/bots/${ok.json().id}`, headers: t.as(c.apiKey), payload: { config: withTransfer('+19005550100').config } });
    expect(update.statusCode).toBe(400);
    const [row] = await t.db.sql`select config->>'transferNumber' as n from bots where id = ${ok.json().id}`;
    expect(row!.n).toBe('+15550001111');
  });

  it('refuses the transfer itself to a number outside the list, and passes one inside it', async () => {
    const sent: string[] = [];
    const transfer = policedTransfer({ allowedPrefixes: ['+1555'], allowPremiumRate: false }, async (_sid, to) => {
      sent.push(to);
    });
    await expect(transfer('CA1', '+19005550100')).rejects.toThrow(/Transfer refused: Calls may only go to numbers starting with \+1555/);
    await transfer('CA1', '+15550001111');
    expect(sent).toEqual(['+15550001111']);
  });
});

describe('premium-rate transfer numbers (no prefix list set)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  const withTransfer = (transferNumber: string) => {
    const body = botBody();
    return { ...body, config: { ...(body.config as object), transferNumber } };
  };

  it('refuses a premium-rate or shared-cost transfer number when the bot is saved, and the transfer itself', async () => {
    const c = await t.createCompany();
    for (const premium of ['+19005550123', '+449098790123']) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(c.apiKey), payload: withTransfer(premium) });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.message).toMatch(/config\.transferNumber: premium-rate/);
    }
    expect((await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(c.apiKey), payload: withTransfer('+12125550123') })).statusCode).toBe(201);
    const sent: string[] = [];
    const transfer = policedTransfer({ allowedPrefixes: [], allowPremiumRate: false }, async (_sid, to) => {
      sent.push(to);
    });
    await expect(transfer('CA1', '+19005550123')).rejects.toThrow(/Transfer refused: premium-rate/);
    const allowed = policedTransfer({ allowedPrefixes: [], allowPremiumRate: true }, async (_sid, to) => {
      sent.push(to);
    });
    await allowed('CA1', '+19005550123');
    expect(sent).toEqual(['+19005550123']);
  });
});

describe('transfer numbers this server answers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  const bot = (overrides: Record<string, unknown>, transferNumber?: string) => {
    const body = botBody(overrides);
    return { ...body, config: { ...(body.config as object), ...(transferNumber ? { transferNumber } : {}) } };
  };
  const refusedFor = (res: { statusCode: number; json(): { error: { message: string; details?: { field?: string } } } }, why: RegExp) => {
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details?.field).toBe('body.config.transferNumber');
    expect(res.json().error.message).toMatch(why);
  };

  it('refuses the bot\'s own number, however spelled, on create and on either side of an update', async () => {
    const c = await t.createCompany();
    const post = (payload: object) => t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(c.apiKey), payload });
    const patch = (id: string, payload: object) => t.app.inject({ method: 'PATCH', url: `/v1/bots/${id}`, headers: t.as(c.apiKey), payload });
    refusedFor(await post(bot({ phone_number: '+12025550188' }, '+12025550188')), /own phone number/);
    refusedFor(await post(bot({ phone_number: '+12025550188' }, '+112025550188')), /own phone number/);
    const b = (await post(bot({ phone_number: '+12025550188' }))).json();
    refusedFor(await patch(b.id, { config: bot({}, '+12025550188').config }), /own phone number/);
    const other = (await post(bot({}, '+12025550189'))).json();
    refusedFor(await patch(other.id, { phone_number: '+12025550189' }), /own phone number/);
    const [row] = await t.db.sql`select phone_number, config->>'transferNumber' as transfer from bots where id = ${other.id}`;
    expect(row).toMatchObject({ phone_number: null, transfer: '+12025550189' });
    // Stored as dialled: the trunk-prefix spelling is the same number.
    const spelled = await post(bot({}, '+4402079460011'));
    expect(spelled.statusCode).toBe(201);
    expect(spelled.json().config.transferNumber).toBe('+442079460011');
  });

  it('refuses a number another company holds; another bot of the company itself may be the transfer', async () => {
    const a = await t.createCompany('Alpha');
    const b = await t.createCompany('Beta');
    expect((await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(b.apiKey), payload: bot({ phone_number: '+12025550177' }) })).statusCode).toBe(201);
    refusedFor(await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(a.apiKey), payload: bot({}, '+12025550177') }), /another company/);
    expect((await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(a.apiKey), payload: bot({ phone_number: '+12025550166' }) })).statusCode).toBe(201);
    expect((await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(a.apiKey), payload: bot({}, '+12025550166') })).statusCode).toBe(201);
  });
});
