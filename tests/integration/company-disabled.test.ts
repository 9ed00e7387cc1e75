/**
 * A company the operator disables (PATCH /v1/admin/companies/{id}) stops placing calls on every path, not only
 * through its keys: its running campaigns dial nobody (and go on when it is enabled again), and a call placed
 * before the disable is hung up when the callee answers. (Web-call tokens minted before: web-call-token.test.ts;
 * inbound routing: tenant-numbers.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from '../helpers/app.js';
import { campaignHarness, contactRow, type Harness } from './campaign-harness.js';

describe('a disabled company', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await campaignHarness();
  });
  afterAll(async () => h.close());

  const setActive = async (companyId: string, active: boolean) => {
    const res = await h.t.app.inject({
      method: 'PATCH', url: `/v1/admin/companies/${companyId}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { is_active: active },
    });
    expect(res.statusCode, res.body).toBe(200);
  };

  it('dials nobody from its running campaigns until it is enabled again', async () => {
    const { companyId, apiKey, botId } = await h.company();
    const phones = ['+12125550301', '+12125550302'];
    const id = await h.campaign(apiKey, botId, {}, phones.map((phone) => ({ phone, time_zone: 'UTC' })));
    await setActive(companyId, false);
    const s = h.scheduler();
    await s.runOnce();
    expect(phones.map((p) => h.dialsTo(p))).toEqual([0, 0]);
    expect(await contactRow(h, id, phones[0]!)).toMatchObject({ state: 'pending', attempts: 0 });
    const [campaign] = await h.t.db.sql`select status from campaigns where id = ${id}`;
    expect(campaign!.status).toBe('running');

    await setActive(companyId, true);
    await s.runOnce();
    expect(phones.map((p) => h.dialsTo(p))).toEqual([1, 1]);
  });

  it('hangs up a call placed before the disable when the callee answers, and says why on the call', async () => {
    const { companyId, apiKey, botId, botNumber } = await h.company();
    const phone = '+12125550311';
    await h.campaign(apiKey, botId, {}, [{ phone, time_zone: 'UTC' }]);
    await h.scheduler().runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    const [call] = await h.t.db.sql<{ id: string; twilio_call_sid: string }[]>`
      select id, twilio_call_sid from calls where to_number = ${phone} and company_id = ${companyId}`;

    await setActive(companyId, false);
    const answer = await h.twilio(`/twilio/outbound/${call!.id}`, {
      CallSid: call!.twilio_call_sid, From: botNumber, To: phone, Direction: 'outbound-api', CallStatus: 'in-progress', AnsweredBy: 'human',
    });
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toContain('<Hangup/>');
    expect(answer.body).not.toContain('<Stream');
    // Ended now with why: the webhook, the API and the export say the bot was disabled, not that the callee hung up.
    const [row] = await h.t.db.sql`select status, end_reason, failure_reason, ended_at from calls where id = ${call!.id}`;
    expect(row!.failure_reason).toContain('disabled');
    expect(row).toMatchObject({ status: 'canceled', end_reason: expect.stringMatching(/^bot_disabled: /) });
    const [event] = await h.t.db.sql`select body::jsonb as payload from webhook_events where company_id = ${companyId} and type = 'call.ended' and body::jsonb->'data'->>'call_id' = ${call!.id}`;
    expect(event?.payload.data).toMatchObject({ status: 'canceled', reason: expect.stringMatching(/^bot_disabled: /) });
  });
});
