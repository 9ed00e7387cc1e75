/**
 * The scheduler looks at a bounded batch of running campaigns per poll: campaigns with nothing due (contacts waiting
 * out their retry spacing, their window, a budget) must not fill it and hide campaigns that have someone to call,
 * and among campaigns with due contacts the one that has waited longest goes first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignHarness, type Harness } from './campaign-harness.js';

describe('campaign scheduler fairness', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await campaignHarness('2026-03-09T15:00:00Z');
  });
  afterAll(async () => h.close());

  it('dials a campaign with a due contact however many running campaigns have nothing due', async () => {
    const { apiKey, botId } = await h.company();
    const waiting: string[] = [];
    for (let i = 0; i < 25; i++) {
      waiting.push(await h.campaign(apiKey, botId, { name: `old ${i}` }, [{ phone: `+1212555${String(1000 + i)}`, time_zone: 'UTC' }]));
    }
    await h.scheduler().runOnce();
    // Their contacts were called; each now waits out a retry spacing, and the campaigns look oldest.
    await h.t.db.sql`update campaign_contacts set state = 'pending', next_attempt_at = ${new Date('2026-03-09T19:00:00Z')}, deferred_reason = 'retry_spacing'
      where campaign_id = any(${waiting}::uuid[])`;
    await h.t.db.sql`update campaigns set updated_at = ${new Date('2026-03-09T14:00:00Z')} where id = any(${waiting}::uuid[])`;
    const dialledBefore = waiting.map((_, i) => h.dialsTo(`+1212555${String(1000 + i)}`)).reduce((a, b) => a + b, 0);

    const phone = '+12125552000';
    await h.campaign(apiKey, botId, { name: 'new' }, [{ phone, time_zone: 'UTC' }]);
    await h.scheduler().runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    // Nobody waiting was called early.
    expect(waiting.map((_, i) => h.dialsTo(`+1212555${String(1000 + i)}`)).reduce((a, b) => a + b, 0)).toBe(dialledBefore);
  }, 90_000); // 26 campaigns created through the API, each contact upload checked on a thread of its own

  it('takes the campaigns whose due contacts have waited longest first when more are due than one poll takes', async () => {
    const { apiKey, botId } = await h.company();
    const ids: string[] = [];
    for (let i = 0; i < 22; i++) ids.push(await h.campaign(apiKey, botId, { name: `due ${i}` }, [{ phone: `+1312555${String(1000 + i)}`, time_zone: 'UTC' }]));
    // All are due; the last two created have waited longest (their contacts since 14:00, the others' since 14:30),
    // and all campaigns look equally old.
    await h.t.db.sql`update campaign_contacts set next_attempt_at = ${new Date('2026-03-09T14:30:00Z')} where campaign_id = any(${ids.slice(0, 20)}::uuid[])`;
    await h.t.db.sql`update campaign_contacts set next_attempt_at = ${new Date('2026-03-09T14:00:00Z')} where campaign_id = any(${ids.slice(20)}::uuid[])`;
    const s = h.scheduler();
    await s.tick(); // scheduled → running, nobody dialled yet
    await h.t.db.sql`update campaigns set updated_at = ${new Date('2026-03-09T13:00:00Z')} where id = any(${ids}::uuid[])`;
    const claimed = await s.claim(2);
    expect(claimed.map((c) => c.campaign.id).sort()).toEqual(ids.slice(20).sort());
    for (const c of claimed) await h.t.db.sql`update campaign_contacts set state = 'pending', locked_until = null where id = ${c.contact.id}`;
  }, 90_000); // 22 campaigns created through the API
});
