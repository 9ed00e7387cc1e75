/**
 * Erasure holds for what comes after it (src/privacy/erase.ts, calls.erased_at) and reaches everything tied to the
 * erased calls: a call still on the line stores no more turns, a recording reported or written afterwards is deleted
 * instead of kept, no analysis is made; a booking made during the call under another number is cleared; the
 * do-not-call entry kept keeps only the number. Retention takes every webhook event past it, campaign events too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendTurn } from '../../src/call/lifecycle.js';
import { addDnc } from '../../src/campaigns/suppression.js';
import type { RootSql } from '../../src/db/sql.js';
import { analyzeCall } from '../../src/outcomes/analyze-call.js';
import { purgeExpired } from '../../src/privacy/retention.js';
import { saveStoredRecording, saveTwilioRecording } from '../../src/recordings/repo.js';
import { emitEvent } from '../../src/webhooks/emit.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { storedTranscript } from '../helpers/transcript.js';

let t: TestApp;
let sql: RootSql;
const DAY = 86_400_000;
const now = () => new Date().toISOString();

async function companyWithBot() {
  const co = await t.createCompany();
  const [b] = await sql<{ id: string }[]>`insert into bots (company_id, name, language, config) values (${co.companyId}, 'Desk', 'en', ${sql.json({ greeting: 'Hi' } as never)}) returning id`;
  return { ...co, botId: b!.id };
}
async function callFrom(co: { companyId: string; botId: string }, from: string, o: { status?: string; sid?: string; ageDays?: number } = {}) {
  const started = new Date(Date.now() - (o.ageDays ?? 0) * DAY);
  const [c] = await sql<{ id: string }[]>`
    insert into calls (company_id, bot_id, direction, from_number, to_number, status, started_at, twilio_call_sid)
    values (${co.companyId}, ${co.botId}, 'inbound', ${from}, '+15550001000', ${o.status ?? 'in_progress'}, ${started}, ${o.sid ?? null}) returning id`;
  return c!.id;
}
const erase = (co: { apiKey: string }, phone: string) =>
  t.app.inject({ method: 'DELETE', url: `/v1/privacy/phone-numbers/${encodeURIComponent(phone)}`, headers: t.as(co.apiKey) });

beforeAll(async () => {
  t = await createTestApp();
  sql = t.db.sql;
});
afterAll(async () => t.close());

describe('erasure, for what comes after it', () => {
  it('a call still on the line stores no more turns, and is not analysed when it ends', async () => {
    const co = await companyWithBot();
    const id = await callFrom(co, '+14155550123');
    await appendTurn(sql, { callId: id, companyId: co.companyId }, { role: 'caller', text: 'Please erase my data', ts: now() });
    expect((await erase(co, '+14155550123')).json()).toMatchObject({ calls: 1 });
    await appendTurn(sql, { callId: id, companyId: co.companyId }, { role: 'caller', text: 'my address is 1 Main St, John Smith', ts: now() });
    expect(await storedTranscript(sql, id)).toEqual([]);
    await sql`update calls set status = 'completed', ended_at = now() where id = ${id}`;
    const analysis = await analyzeCall(sql, { analyze: async () => ({ summary: 'John Smith of 1 Main St', outcomeType: 'lead', confidence: 1, extractedData: {}, analyzer: 'test' }) }, id);
    expect(analysis).toBeNull();
    expect(await sql`select 1 from outcomes where call_id = ${id}`).toHaveLength(0);
    expect(await sql`select 1 from webhook_events where company_id = ${co.companyId} and type = 'call.analyzed'`).toHaveLength(0);
  });

  it('a Twilio recording reported after it is deleted at Twilio, not kept; so is a WAV written after it', async () => {
    const co = await companyWithBot();
    const sid = `CA${'a'.repeat(32)}`;
    const recordingSid = `RE${'b'.repeat(32)}`;
    const id = await callFrom(co, '+14155550124', { sid, status: 'completed' });
    await erase(co, '+14155550124');
    const result = await saveTwilioRecording(sql, { callId: id, callSid: sid, recordingSid, recordingUrl: 'https://api.twilio.com/rec/RE1', durationSec: 30, channels: 2 });
    expect(result).toBe('erased');
    expect((await sql`select recording_sid, recording_url from calls where id = ${id}`)[0]).toEqual({ recording_sid: null, recording_url: null });
    expect(await sql`select 1 from recording_deletions where recording_sid = ${recordingSid} and company_id = ${co.companyId}`).toHaveLength(1);

    const web = await callFrom(co, '+14155550125');
    await erase(co, '+14155550125');
    await saveStoredRecording(sql, { callId: web, companyId: co.companyId, key: `${co.companyId}/${web}.wav`, durationSec: 12, channels: 2 });
    expect((await sql`select recording_key from calls where id = ${web}`)[0]!.recording_key).toBeNull();
    expect(await sql`select 1 from recording_deletions where recording_key = ${`${co.companyId}/${web}.wav`}`).toHaveLength(1);
  });
});

describe('erasure, for what is tied to the erased calls', () => {
  it('clears a booking made during the call under another number, and keeps nothing but the number on the do-not-call entry', async () => {
    const co = await companyWithBot();
    const id = await callFrom(co, '+14155550155', { status: 'completed' });
    const starts = new Date(Date.UTC(2030, 0, 5, 10));
    await sql`insert into bookings (company_id, bot_id, call_id, service_id, service_name, resource_id, resource_name, starts_at, ends_at, status, customer_name, customer_phone, notes)
      values (${co.companyId}, ${co.botId}, ${id}, 'cut', 'Haircut', 'r1', 'Anna', ${starts}, ${new Date(starts.getTime() + 3_600_000)}, 'confirmed', 'John Smith', '+14155550166', 'allergic to X')`;
    await addDnc(sql, co.companyId, [{ phone: '+14155550155', reason: 'John Smith, recovering from surgery, asked us to stop calling' }], 'call', id);
    const res = (await erase(co, '+14155550155')).json();
    expect(res).toMatchObject({ bookings: 1, dnc_kept: true });
    expect((await sql`select customer_name, customer_phone, notes from bookings where call_id = ${id}`)[0]).toEqual({ customer_name: null, customer_phone: null, notes: null });
    expect((await sql`select phone, reason, call_id from dnc_numbers where company_id = ${co.companyId}`)[0]).toEqual({ phone: '+14155550155', reason: null, call_id: null });
  });

  it('erases a call without caller ID in which a booking was made under the number: its transcript too', async () => {
    const co = await companyWithBot();
    const [web] = await sql<{ id: string }[]>`
      insert into calls (company_id, bot_id, direction, status, started_at) values (${co.companyId}, ${co.botId}, 'web', 'completed', now()) returning id`;
    const id = web!.id;
    await appendTurn(sql, { callId: id, companyId: co.companyId }, { role: 'caller', text: 'Jane Doe, my number is 415 555 0177', ts: now() });
    const starts = new Date(Date.UTC(2030, 0, 6, 10));
    await sql`insert into bookings (company_id, bot_id, call_id, service_id, service_name, resource_id, resource_name, starts_at, ends_at, status, customer_name, customer_phone)
      values (${co.companyId}, ${co.botId}, ${id}, 'cut', 'Haircut', 'r1', 'Anna', ${starts}, ${new Date(starts.getTime() + 3_600_000)}, 'confirmed', 'Jane Doe', '+14155550177')`;
    // Another company's call and booking under the same number stay as they are.
    const other = await companyWithBot();
    const theirs = await callFrom(other, '+14155550177', { status: 'completed' });
    await appendTurn(sql, { callId: theirs, companyId: other.companyId }, { role: 'caller', text: 'Hello', ts: now() });

    const res = (await erase(co, '+14155550177')).json();
    expect(res).toMatchObject({ calls: 1, bookings: 1 });
    expect((await sql`select erased_at from calls where id = ${id}`)[0]!.erased_at).not.toBeNull();
    expect(await sql`select 1 from call_turns where call_id = ${id}`).toHaveLength(0);
    expect(await sql`select 1 from call_turns where call_id = ${theirs}`).toHaveLength(1);
    expect((await sql`select from_number, erased_at from calls where id = ${theirs}`)[0]).toEqual({ from_number: '+14155550177', erased_at: null });
  });
});

describe('retention', () => {
  it('takes every settled webhook event older than it, campaign events with a callee\'s number too, and nothing newer', async () => {
    const co = await companyWithBot();
    await sql`update companies set retention_days = 30, webhook_url = 'https://hooks.example.com/parley' where id = ${co.companyId}`;
    const old = await callFrom(co, '+15550002000', { ageDays: 40, status: 'completed' });
    const [campaign] = await sql<{ id: string }[]>`insert into campaigns (company_id, bot_id, name, windows) values (${co.companyId}, ${co.botId}, 'C', '[]') returning id`;
    await sql.begin(async (tx) => {
      await emitEvent(tx, { companyId: co.companyId, type: 'campaign.attempt.ended', data: { campaign_id: campaign!.id, call_id: old, phone: '+14155550177', outcome: 'no_answer' }, orderingKey: campaign!.id });
      await emitEvent(tx, { companyId: co.companyId, type: 'campaign.contact.skipped', data: { campaign_id: campaign!.id, phone: '+14155550178', reason: 'dnc' }, orderingKey: campaign!.id });
      await emitEvent(tx, { companyId: co.companyId, type: 'campaign.contact.skipped', data: { campaign_id: campaign!.id, phone: '+14155550179', reason: 'dnc' }, orderingKey: campaign!.id });
      await emitEvent(tx, { companyId: co.companyId, type: 'campaign.contact.skipped', data: { campaign_id: campaign!.id, phone: '+14155550180', reason: 'dnc' }, orderingKey: campaign!.id });
    });
    // The first two were made 40 days ago and delivered; the third today; the fourth 40 days ago, still being retried.
    await sql`update webhook_events set created_at = now() - interval '40 days', status = 'delivered'
      where company_id = ${co.companyId} and (body like '%+14155550177%' or body like '%+14155550178%')`;
    await sql`update webhook_events set created_at = now() - interval '40 days' where company_id = ${co.companyId} and body like '%+14155550180%'`;
    const purged = await purgeExpired(sql, { batchSize: 1 });
    expect(purged).toMatchObject({ calls: 1, webhook_events: 2 });
    const left = await sql<{ body: string }[]>`select body from webhook_events where company_id = ${co.companyId} order by seq`;
    expect(left.map((e) => JSON.parse(e.body).data.phone)).toEqual(['+14155550179', '+14155550180']);
    // Once its delivery settles, it goes too.
    await sql`update webhook_events set status = 'dead' where company_id = ${co.companyId} and body like '%+14155550180%'`;
    expect((await purgeExpired(sql)).webhook_events).toBe(1);
  });
});
