/**
 * Numbers are compared in one form (E.164 as libphonenumber-js writes it) between consent, the do-not-call list,
 * contacts and erasure: a number given with its national trunk prefix after the country code (+44 0…) is the
 * same number as the one a contact upload normalises (+44 …).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { erasePhoneNumber } from '../../src/privacy/erase.js';
import { campaignHarness, contactRow, type Harness } from './campaign-harness.js';

const RAW = '+4402079460000';
const E164 = '+442079460000';

describe('one number form everywhere: contacts, consent, do-not-call, erasure', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await campaignHarness();
  });
  afterAll(async () => h.close());

  it('consent denied for the +44 0… form stops a contact uploaded in that form', async () => {
    const { apiKey, botId } = await h.company();
    h.clock.set('2026-04-15T12:00:00Z');
    expect((await h.api(apiKey, 'PUT', `/v1/contacts/${encodeURIComponent(RAW)}/consent`, { voice: 'denied', source: 'letter' })).statusCode).toBe(200);
    const id = await h.campaign(apiKey, botId, {}, [{ phone: RAW, time_zone: 'Europe/London' }]);
    await h.scheduler().runOnce();
    expect(h.dialsTo(E164)).toBe(0);
    expect(await contactRow(h, id, E164)).toMatchObject({ state: 'skipped', skip_reason: 'consent_denied' });
    expect((await h.api(apiKey, 'GET', `/v1/contacts/${encodeURIComponent(E164)}/consent`)).json()).toMatchObject({ voice: 'denied' });
  });

  it('the do-not-call entry is found and removed by either form', async () => {
    const { apiKey } = await h.company();
    expect((await h.api(apiKey, 'POST', '/v1/dnc', { numbers: [{ phone: RAW }] })).json()).toMatchObject({ added: 1 });
    expect((await h.api(apiKey, 'GET', `/v1/dnc/${encodeURIComponent(RAW)}`)).statusCode).toBe(200);
    expect((await h.api(apiKey, 'DELETE', `/v1/dnc/${encodeURIComponent(RAW)}`)).statusCode).toBe(204);
    expect((await h.api(apiKey, 'GET', `/v1/dnc/${encodeURIComponent(E164)}`)).statusCode).toBe(404);
  });

  it('erasure given the +44 0… form erases the contact stored as +44 …', async () => {
    const { apiKey, botId, companyId } = await h.company();
    h.clock.set('2026-04-15T12:00:00Z');
    const id = await h.campaign(apiKey, botId, {}, [{ phone: RAW, time_zone: 'Europe/London', name: 'Ann Lee' }]);
    const counts = await erasePhoneNumber(h.t.db.sql, companyId, RAW);
    expect(counts.campaign_contacts).toBe(1);
    const [row] = await h.t.db.sql<{ phone: string; name: string | null; state: string }[]>`select phone, name, state from campaign_contacts where campaign_id = ${id}`;
    expect(row).toMatchObject({ name: null, state: 'skipped' });
    expect(row!.phone.startsWith('+999')).toBe(true);
    await h.scheduler().runOnce();
    expect(h.dialsTo(E164)).toBe(0);
  });
});
