import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RootSql } from '../../src/db/sql.js';
import { companiesDue, purgeExpired, retentionWorker } from '../../src/privacy/retention.js';
import { createLogger } from '../../src/log.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { storedTranscript, storeTurns } from '../helpers/transcript.js';

let t: TestApp;
let sql: RootSql;
const DAY = 86_400_000;
const NUMBER = '+14155550123';

async function seedCompany(apiKeyCompany: { companyId: string }) {
  const companyId = apiKeyCompany.companyId;
  const [bot] = await sql<{ id: string }[]>`insert into bots (company_id, name, language, config) values (${companyId}, 'Desk', 'en', ${sql.json({ greeting: 'Hi' } as never)}) returning id`;
  return { companyId, botId: bot!.id };
}

async function insertCall(c: { companyId: string; botId: string }, o: { ageDays?: number; from?: string; to?: string; text?: string } = {}) {
  const started = new Date(Date.now() - (o.ageDays ?? 0) * DAY);
  const transcript = [{ role: 'caller', text: o.text ?? `call me back on ${NUMBER}`, ts: started.toISOString() }];
  const [call] = await sql<{ id: string }[]>`
    insert into calls (company_id, bot_id, direction, from_number, to_number, status, started_at, ended_at, recording_url)
    values (${c.companyId}, ${c.botId}, 'inbound', ${o.from ?? '+15550009999'}, ${o.to ?? '+15550001000'}, 'completed', ${started}, ${started}, 'https://rec.example/1')
    returning id`;
  const id = call!.id;
  await storeTurns(sql, id, transcript);
  await sql`insert into outcomes (call_id, company_id, outcome_type, confidence, summary, extracted_data, analyzer)
    values (${id}, ${c.companyId}, 'lead', 0.9, ${`caller ${o.from ?? ''}`}, ${sql.json({ client_phone: o.from ?? null } as never)}, 'test')`;
  await sql`insert into webhook_events (id, company_id, type, ordering_key, body)
    values (${`evt_${id}`}, ${c.companyId}, 'call.analyzed', ${id}, ${JSON.stringify({ data: { call_id: id, phone: o.from } })})`;
  return id;
}

async function insertBooking(c: { companyId: string; botId: string }, callId: string | null, phone: string, dayOffset: number) {
  const starts = new Date(Date.UTC(2030, 0, 1 + dayOffset, 10));
  const [b] = await sql<{ id: string }[]>`
    insert into bookings (company_id, bot_id, call_id, service_id, service_name, resource_id, resource_name, starts_at, ends_at, status, customer_name, customer_phone, notes)
    values (${c.companyId}, ${c.botId}, ${callId}, 'cut', 'Haircut', 'r1', 'Anna', ${starts}, ${new Date(starts.getTime() + 3_600_000)}, 'confirmed', 'John Smith', ${phone}, 'regular')
    returning id`;
  return b!.id;
}

beforeAll(async () => {
  t = await createTestApp();
  sql = t.db.sql;
});
afterAll(async () => t.close());

describe('retention', () => {
  it('is set per company through the API (privacy scope), validated', async () => {
    const a = await t.createCompany();
    expect((await t.app.inject({ method: 'GET', url: '/v1/privacy/retention', headers: t.as(a.apiKey) })).json()).toEqual({ retention_days: null });
    const put = await t.app.inject({ method: 'PUT', url: '/v1/privacy/retention', headers: t.as(a.apiKey), payload: { retention_days: 30 } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ retention_days: 30 });
    for (const bad of [0, -1, 1.5, 'forever', 40_000]) {
      const res = await t.app.inject({ method: 'PUT', url: '/v1/privacy/retention', headers: t.as(a.apiKey), payload: { retention_days: bad } });
      expect(res.statusCode, String(bad)).toBe(400);
    }
    const off = await t.app.inject({ method: 'PUT', url: '/v1/privacy/retention', headers: t.as(a.apiKey), payload: { retention_days: null } });
    expect(off.json()).toEqual({ retention_days: null });
    const [entry] = await sql<{ action: string }[]>`select action from audit_log where company_id = ${a.companyId} and action = 'PUT /v1/privacy/retention'`;
    expect(entry).toBeDefined();
  });

  it('purges calls older than N days with their outcomes and webhook events, in batches, concurrently safe; bookings keep their row', async () => {
    const a = await seedCompany(await t.createCompany());
    const keep = await seedCompany(await t.createCompany()); // no retention: nothing of it goes
    await sql`update companies set retention_days = 30 where id = ${a.companyId}`;
    const old = await Promise.all([40, 45, 50, 31, 365].map((d) => insertCall(a, { ageDays: d })));
    const recent = await insertCall(a, { ageDays: 29 });
    const keptOld = await insertCall(keep, { ageDays: 400 });
    const booking = await insertBooking(a, old[0]!, '+15550007777', 0);

    // Two purges at once (two instances): disjoint batches, every expired call deleted exactly once.
    const [p1, p2] = await Promise.all([purgeExpired(sql, { batchSize: 2 }), purgeExpired(sql, { batchSize: 2 })]);
    expect(p1.calls + p2.calls).toBe(5);
    expect(p1.webhook_events + p2.webhook_events).toBe(5);

    const left = await sql<{ id: string }[]>`select id from calls where company_id in (${a.companyId}, ${keep.companyId}) order by id`;
    expect(left.map((r) => r.id).sort()).toEqual([recent, keptOld].sort());
    expect(await sql`select 1 from outcomes where call_id = any(${old}::uuid[])`).toHaveLength(0);
    expect(await sql`select 1 from webhook_events where ordering_key = any(${old}::text[])`).toHaveLength(0);
    expect(await sql`select 1 from webhook_events where ordering_key = ${recent}`).toHaveLength(1);
    const [b] = await sql<{ call_id: string | null }[]>`select call_id from bookings where id = ${booking}`;
    expect(b!.call_id).toBeNull();
  });

  it('the worker purges with an injected clock', async () => {
    const a = await seedCompany(await t.createCompany());
    await sql`update companies set retention_days = 7 where id = ${a.companyId}`;
    const call = await insertCall(a, { ageDays: 1 });
    // Ten days from now the call is past its 7 days.
    const worker = retentionWorker(sql, createLogger('silent'), { pollMs: 10, batchSize: 1, now: () => new Date(Date.now() + 10 * DAY) });
    worker.start();
    try {
      await expect.poll(async () => (await sql`select 1 from calls where id = ${call}`).length, { timeout: 10_000 }).toBe(0);
    } finally {
      await worker.stop(1000);
    }
  });
});

describe('retention across a DST change', () => {
  it('finds a company due exactly when its batch has calls to purge, whatever the session\'s time zone', async () => {
    // 30 days before 2026-04-01T12:00Z crosses New York's spring-forward (8 March): 30 calendar days there end an
    // hour later than 30 × 24 h. A call inside that hour is not purged by the batch, so the company is not due.
    const now = new Date('2026-04-01T12:00:00Z');
    const c = await seedCompany(await t.createCompany());
    await sql`update companies set retention_days = 30 where id = ${c.companyId}`;
    await sql`insert into calls (company_id, bot_id, direction, status, started_at) values (${c.companyId}, ${c.botId}, 'inbound', 'completed', '2026-03-02T12:30:00Z')`;
    const dueIn = async (zone: string) => sql.begin(async (tx) => {
      await tx`select set_config('timezone', ${zone}, true)`;
      return (await companiesDue(tx as unknown as RootSql, now, 1000)).some((d) => d.id === c.companyId);
    });
    expect(await dueIn('America/New_York')).toBe(false);
    expect(await dueIn('UTC')).toBe(false);
    expect(await purgeExpired(sql, { now })).toMatchObject({ calls: 0 });
    // An hour later the call is past 30 × 24 h: due, and purged.
    const later = new Date(now.getTime() + 3_600_000);
    expect((await companiesDue(sql, later, 1000)).some((d) => d.id === c.companyId)).toBe(true);
    expect((await purgeExpired(sql, { now: later })).calls).toBeGreaterThanOrEqual(1);
    await sql`update companies set retention_days = null where id = ${c.companyId}`;
  });

  it('every connection works in UTC, whatever the database\'s default zone', async () => {
    expect((await sql<{ tz: string }[]>`select current_setting('timezone') as tz`)[0]!.tz).toBe('UTC');
  });
});

describe('erasure of a phone number', () => {
  it('removes everything about the number in the company, keeps the DNC entry, returns counts, audits a hash', async () => {
    const co = await t.createCompany();
    const a = await seedCompany(co);
    const other = await seedCompany(await t.createCompany());
    const inbound = await insertCall(a, { from: NUMBER });
    const outbound = await insertCall(a, { to: NUMBER, from: '+15550001000' });
    const unrelated = await insertCall(a, { from: '+15550002222', text: 'hello' });
    const otherCall = await insertCall(other, { from: NUMBER });
    await insertBooking(a, inbound, NUMBER, 1);
    const unrelatedBooking = await insertBooking(a, null, '+15550002222', 2);
    await insertBooking(other, null, NUMBER, 3);
    const [campaign] = await sql<{ id: string }[]>`insert into campaigns (company_id, bot_id, name, windows) values (${a.companyId}, ${a.botId}, 'C', '[]') returning id`;
    const [contact] = await sql<{ id: string }[]>`insert into campaign_contacts (company_id, campaign_id, phone, name, variables) values (${a.companyId}, ${campaign!.id}, ${NUMBER}, 'John', ${sql.json({ plan: 'gold' } as never)}) returning id`;
    await sql`insert into campaign_attempts (company_id, campaign_id, contact_id, phone, seq, call_id, status, local_day, dialed_at)
      values (${a.companyId}, ${campaign!.id}, ${contact!.id}, ${NUMBER}, 1, ${outbound}, 'ended', '2030-01-01', now())`;
    await sql`insert into dnc_numbers (company_id, phone, source) values (${a.companyId}, ${NUMBER}, 'api')`;
    await sql`insert into contact_consents (company_id, phone, voice, recorded_at) values (${a.companyId}, ${NUMBER}, 'granted', now())`;

    const url = `/v1/privacy/phone-numbers/${encodeURIComponent(NUMBER)}`;
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/privacy/phone-numbers/12345', headers: t.as(co.apiKey) })).statusCode).toBe(400);
    const res = await t.app.inject({ method: 'DELETE', url, headers: t.as(co.apiKey) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      id: expect.any(String), status: 'completed', created_at: expect.any(String), completed_at: expect.any(String),
      calls: 2, recordings: 0, outcomes: 2, webhook_events: 2, bookings: 1, campaign_contacts: 1, campaign_attempts: 1, consents: 1, dnc_kept: true,
    });
    // The erasure can be read back by its company (not another's), and no longer holds the number.
    const erasureUrl = `/v1/privacy/erasures/${res.json().id}`;
    expect((await t.app.inject({ method: 'GET', url: erasureUrl, headers: t.as(co.apiKey) })).json()).toEqual(res.json());
    const otherKey = await t.createCompany();
    expect((await t.app.inject({ method: 'GET', url: erasureUrl, headers: t.as(otherKey.apiKey) })).statusCode).toBe(404);
    expect(await sql`select 1 from privacy_erasures where company_id = ${a.companyId} and phones is not null`).toHaveLength(0);

    // Nothing with the number remains in the company, apart from the DNC entry.
    const tables = ['calls', 'outcomes', 'webhook_events', 'bookings', 'campaign_contacts', 'campaign_attempts', 'contact_consents'];
    for (const table of tables) {
      const rows = await sql.unsafe(`select 1 from ${table} x where x.company_id = $1 and strpos(row_to_json(x)::text, $2) > 0`, [a.companyId, NUMBER]);
      expect(rows, table).toHaveLength(0);
    }
    expect(await sql`select 1 from call_turns t join calls c on c.id = t.call_id where c.company_id = ${a.companyId} and strpos(t.turn::text, ${NUMBER}) > 0`).toHaveLength(0);
    expect(await sql`select 1 from dnc_numbers where company_id = ${a.companyId} and phone = ${NUMBER}`).toHaveLength(1);
    const [erasedCall] = await sql<{ recording_url: string | null; from_number: string | null }[]>`select recording_url, from_number from calls where id = ${inbound}`;
    expect(erasedCall).toEqual({ recording_url: null, from_number: null });
    expect(await storedTranscript(sql, inbound)).toEqual([]);
    const [c] = await sql<{ name: string | null; variables: object; state: string; phone: string }[]>`select name, variables, state, phone from campaign_contacts where id = ${contact!.id}`;
    expect(c).toMatchObject({ name: null, variables: {}, state: 'skipped' });
    expect(c!.phone).toMatch(/^\+999[0-9]{11}$/);
    const [bk] = await sql`select customer_name, customer_phone from bookings where company_id = ${a.companyId} and call_id = ${inbound}`;
    expect(bk).toEqual({ customer_name: null, customer_phone: null });

    // Untouched: the company's other data, and the other company's data about the same number.
    expect((await storedTranscript(sql, unrelated))[0]!.text).toBe('hello');
    expect((await sql`select customer_phone from bookings where id = ${unrelatedBooking}`)[0]!.customer_phone).toBe('+15550002222');
    expect((await sql`select from_number from calls where id = ${otherCall}`)[0]!.from_number).toBe(NUMBER);
    expect(await sql`select 1 from bookings where company_id = ${other.companyId} and customer_phone = ${NUMBER}`).toHaveLength(1);

    // Audited (by the hook) against a hash: the append-only log never holds the erased number.
    const audit = await sql<{ resource_id: string; details: { erased: { calls: number } } }[]>`
      select resource_id, details from audit_log where company_id = ${a.companyId} and action = 'DELETE /v1/privacy/phone-numbers/:number'`;
    expect(audit).toHaveLength(1);
    expect(audit[0]!.resource_id).toMatch(/^hmac:[0-9a-f]{32}$/);
    // Keyed: hashing every number of the area (unkeyed, as anyone could) does not find it.
    for (const variant of [NUMBER, NUMBER.slice(1)]) {
      expect(audit[0]!.resource_id.slice(5)).not.toBe(createHash('sha256').update(variant).digest('hex').slice(0, 32));
    }
    expect(audit[0]!.details.erased.calls).toBe(2);
    expect(JSON.stringify(audit)).not.toContain(NUMBER);

    // Again: nothing left to erase.
    const again = await t.app.inject({ method: 'DELETE', url, headers: t.as(co.apiKey) });
    expect(again.json()).toMatchObject({ calls: 0, bookings: 0, campaign_contacts: 0, dnc_kept: true });
  });
});
