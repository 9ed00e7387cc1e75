/**
 * Erasure of a number whose campaign call is on the line: when that call ends unanswered the contact must not
 * go back to waiting and be dialled again (its number is now a +999 placeholder and its person asked to be erased).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { erasePhoneNumber } from '../../src/privacy/erase.js';
import { campaignHarness, type Harness } from './campaign-harness.js';

describe('erasing a contact whose call is live', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await campaignHarness();
  });
  afterAll(async () => h.close());

  it('is never dialled again after the live call ends', async () => {
    const { apiKey, botId, companyId } = await h.company();
    await h.api(apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 5, max_calls_per_week: 10, blocked_prefixes: [] });
    h.clock.set('2026-04-15T12:00:00Z');
    const phone = '+12125550301';
    const id = await h.campaign(apiKey, botId, { max_attempts: 3, retry_spacing_sec: 60 }, [{ phone, time_zone: 'UTC', name: 'Ann Lee' }]);
    const s = h.scheduler();
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    const [call] = await h.t.db.sql<{ id: string; twilio_call_sid: string }[]>`select id, twilio_call_sid from calls where to_number = ${phone}`;
    await erasePhoneNumber(h.t.db.sql, companyId, phone);
    const end = await h.twilio(`/twilio/status/${call!.id}`, { CallSid: call!.twilio_call_sid, CallStatus: 'no-answer', SequenceNumber: '9' });
    expect(end.statusCode).toBe(204);
    const before = h.fake.requests.filter((r) => r.path.endsWith('/Calls.json')).length;
    for (let i = 0; i < 3; i++) {
      await s.runOnce();
      h.clock.advance(120_000);
    }
    expect(h.fake.requests.filter((r) => r.path.endsWith('/Calls.json')).length).toBe(before);
    const [row] = await h.t.db.sql<{ state: string; time_zone: string | null }[]>`select state, time_zone from campaign_contacts where campaign_id = ${id}`;
    expect(row!.state).not.toBe('pending');
  });
});
