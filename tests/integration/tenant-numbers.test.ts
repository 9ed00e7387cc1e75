/**
 * a phone number belongs to one company until released. No takeover of a paused number, no probe
 * of who holds what, a race for a free number has one winner, and the voice webhook routes only to the holder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NUMBER_UNAVAILABLE_MESSAGE } from '../../src/api/routes/bots.js';
import { migrate } from '../../src/db/migrate.js';
import { claimNumber } from '../../src/db/phone-numbers.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { ADMIN_TOKEN, botBody, createTestApp, type TestApp } from '../helpers/app.js';
import { createTestDb, migrateBefore } from '../helpers/db.js';

const AUTH = 'twilio-auth-token-test';
const ORIGIN = 'https://voice.example.com';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('phone number ownership across tenants', () => {
  let t: TestApp;
  let a: { companyId: string; apiKey: string };
  let b: { companyId: string; apiKey: string };
  let sid = 0;

  beforeAll(async () => {
    t = await createTestApp({
      env: { RATE_LIMIT_PER_MIN: '1000' },
      publicRoutes: (db) => [twilioVoiceRoutes({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: 'call-token-secret' })],
    });
    a = await t.createCompany('Alpha');
    b = await t.createCompany('Beta');
  });
  afterAll(async () => t.close());

  const req = (apiKey: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: t.as(apiKey), ...(payload !== undefined ? { payload: payload as object } : {}) });
  const adminReq = (method: 'GET' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: admin, ...(payload !== undefined ? { payload: payload as object } : {}) });

  /** An inbound call to `to`: the bot id the voice webhook routed it to, or null if it apologised. */
  async function ring(to: string): Promise<string | null> {
    const form = { CallSid: `CAnum${++sid}`, From: '+15551112222', To: to, Direction: 'inbound' };
    const res = await t.app.inject({
      method: 'POST', url: '/twilio/voice',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeSignature(AUTH, `${ORIGIN}/twilio/voice`, form) },
      payload: new URLSearchParams(form).toString(),
    });
    expect(res.statusCode).toBe(200);
    const [call] = await t.db.sql<{ bot_id: string | null; company_id: string | null }[]>`select bot_id, company_id from calls where twilio_call_sid = ${form.CallSid}`;
    return call!.bot_id;
  }

  const expectUnavailable = (res: { statusCode: number; json(): { error: { code: string; message: string } } }) => {
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'PARLEY_ERR_CONFLICT', message: NUMBER_UNAVAILABLE_MESSAGE });
  };

  it('the takeover of a paused number is refused; the holder reactivates; calls reach the holder only', async () => {
    const number = '+15550007777';
    const botB = (await req(b.apiKey, 'POST', '/v1/bots', botBody({ phone_number: number }))).json();
    expect(await ring(number)).toBe(botB.id);

    expect((await req(b.apiKey, 'DELETE', `/v1/bots/${botB.id}`)).json().is_active).toBe(false);
    expect(await ring(number)).toBeNull();

    // A cannot create a bot on it, nor move an existing bot onto it, nor reactivate a bot that has it.
    expectUnavailable(await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: number })));
    const botA = (await req(a.apiKey, 'POST', '/v1/bots', botBody())).json();
    expectUnavailable(await req(a.apiKey, 'PATCH', `/v1/bots/${botA.id}`, { phone_number: number }));
    const pausedA = (await req(a.apiKey, 'POST', '/v1/bots', botBody())).json();
    expect((await req(a.apiKey, 'PATCH', `/v1/bots/${pausedA.id}`, { is_active: false })).statusCode).toBe(200);
    expectUnavailable(await req(a.apiKey, 'PATCH', `/v1/bots/${pausedA.id}`, { phone_number: number }));
    expectUnavailable(await req(a.apiKey, 'PATCH', `/v1/bots/${pausedA.id}`, { phone_number: number, is_active: true }));
    expect((await req(a.apiKey, 'GET', `/v1/bots/${botA.id}`)).json().phone_number).toBeNull();

    // Nothing else changed the holder or the routing: B reactivates (200, not 409), and calls reach B's bot.
    const back = await req(b.apiKey, 'PATCH', `/v1/bots/${botB.id}`, { is_active: true });
    expect(back.statusCode).toBe(200);
    expect(back.json()).toMatchObject({ is_active: true, phone_number: number });
    expect(await ring(number)).toBe(botB.id);
    const [call] = await t.db.sql`select company_id from calls where twilio_call_sid = ${`CAnum${sid}`}`;
    expect(call!.company_id).toBe(b.companyId);
  });

  it("refusing another company's number names no holder and reads the same whether its bot is active or paused", async () => {
    const taken = '+15550007001';
    expect((await req(b.apiKey, 'POST', '/v1/bots', botBody({ phone_number: taken }))).statusCode).toBe(201);
    // The holder's bot active or not, the answer to A is the same, and never names B or its bot.
    const whileActive = await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: taken }));
    const botB = (await req(b.apiKey, 'GET', '/v1/bots')).json().data.find((x: { phone_number: string }) => x.phone_number === taken);
    await req(b.apiKey, 'DELETE', `/v1/bots/${botB.id}`);
    const whilePaused = await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: taken }));
    for (const res of [whileActive, whilePaused]) {
      expectUnavailable(res);
      expect(res.body).not.toContain(b.companyId);
      expect(res.body).not.toContain(botB.id);
      expect(res.body).not.toContain('Beta');
    }
    expect(whileActive.json()).toEqual(whilePaused.json());
    // A company's own clash stays explicit (it reveals nothing foreign).
    const mine = '+15550007002';
    await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: mine }));
    const twin = await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: mine }));
    expect(twin.statusCode).toBe(409);
    expect(twin.json().error.message).toContain('another active bot of your company');
    // Releasing a number one does not hold is "not found", whether another company holds it or nobody does.
    const foreign = await req(a.apiKey, 'DELETE', `/v1/phone-numbers/${encodeURIComponent(taken)}`);
    const nobodys = await req(a.apiKey, 'DELETE', '/v1/phone-numbers/+15550007999');
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json()).toEqual(nobodys.json());
    // The company lists only its own numbers.
    const listed = (await req(a.apiKey, 'GET', '/v1/phone-numbers')).json().data.map((n: { number: string }) => n.number);
    expect(listed).toContain(mine);
    expect(listed).not.toContain(taken);
  });

  it('within one company, deactivating bot X and activating bot Y on the same number works', async () => {
    const number = '+15550007003';
    const x = (await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: number }))).json();
    const y = (await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: null }))).json();
    expect((await req(a.apiKey, 'PATCH', `/v1/bots/${y.id}`, { phone_number: number })).statusCode).toBe(409);
    await req(a.apiKey, 'PATCH', `/v1/bots/${x.id}`, { is_active: false });
    expect((await req(a.apiKey, 'PATCH', `/v1/bots/${y.id}`, { phone_number: number })).statusCode).toBe(200);
    expect(await ring(number)).toBe(y.id);
    // X cannot come back on it while Y answers — the company's own clash.
    const again = await req(a.apiKey, 'PATCH', `/v1/bots/${x.id}`, { is_active: true });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.message).toContain('your company');
  });

  it('two companies racing to claim one fresh number: exactly one wins, and calls reach its bot', async () => {
    for (let round = 0; round < 5; round++) {
      const number = `+1555000780${round}`;
      const [ra, rb] = await Promise.all([
        req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: number })),
        req(b.apiKey, 'POST', '/v1/bots', botBody({ phone_number: number })),
      ]);
      const codes = [ra.statusCode, rb.statusCode].sort();
      expect(codes).toEqual([201, 409]);
      const loser = ra.statusCode === 409 ? ra : rb;
      expectUnavailable(loser);
      const winner = ra.statusCode === 201 ? { res: ra, company: a } : { res: rb, company: b };
      const [held] = await t.db.sql`select company_id from phone_numbers where number = ${number}`;
      expect(held!.company_id).toBe(winner.company.companyId);
      expect(await ring(number)).toBe(winner.res.json().id);
    }
    // The same race through PATCH (bots moving onto the number).
    const number = '+15550007899';
    const botA = (await req(a.apiKey, 'POST', '/v1/bots', botBody())).json();
    const botB = (await req(b.apiKey, 'POST', '/v1/bots', botBody())).json();
    const [pa, pb] = await Promise.all([
      req(a.apiKey, 'PATCH', `/v1/bots/${botA.id}`, { phone_number: number }),
      req(b.apiKey, 'PATCH', `/v1/bots/${botB.id}`, { phone_number: number }),
    ]);
    expect([pa.statusCode, pb.statusCode].sort()).toEqual([200, 409]);
    const [{ n }] = await t.db.sql`select count(*)::int as n from bots where phone_number = ${number}` as unknown as [{ n: number }];
    expect(n).toBe(1);
  });

  it('claims race at the database: the second claimant waits for the first and loses, or wins if the first rolls back', async () => {
    for (const firstCommits of [true, false]) {
      const number = firstCommits ? '+15550007810' : '+15550007811';
      let release!: () => void;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      let firstClaimed!: () => void;
      const claimedByFirst = new Promise<void>((resolve) => { firstClaimed = resolve; });
      const first = t.db.sql.begin(async (tx) => {
        const ok = await claimNumber(tx, a.companyId, number);
        firstClaimed();
        await gate;
        if (!firstCommits) throw new Error('roll back');
        return ok;
      }).catch((err: Error) => err.message);
      await claimedByFirst;
      // Second claimant starts while the first transaction is open (on PostgreSQL it blocks on the row; on
      // PGlite, a single connection, it waits for it), then the first ends.
      const second = t.db.sql.begin((tx) => claimNumber(tx, b.companyId, number));
      await new Promise((r) => setTimeout(r, 100));
      release();
      expect(await first).toBe(firstCommits ? true : 'roll back');
      expect(await second).toBe(!firstCommits);
      const [held] = await t.db.sql`select company_id from phone_numbers where number = ${number}`;
      expect(held!.company_id).toBe(firstCommits ? a.companyId : b.companyId);
    }
  });

  it('the database itself refuses a bot on a number its company does not hold', async () => {
    const number = '+15550007004';
    const botB = (await req(b.apiKey, 'POST', '/v1/bots', botBody({ phone_number: number }))).json();
    await req(b.apiKey, 'DELETE', `/v1/bots/${botB.id}`); // so only ownership, not the one-active-bot index, stands in the way
    await expect(t.db.sql`insert into bots (company_id, name, phone_number, config) values (${a.companyId}, 'sneaky', ${number}, ${t.db.sql.json({ greeting: 'Hi' })})`)
      .rejects.toMatchObject({ code: '23503' });
    await expect(t.db.sql`insert into bots (company_id, name, phone_number, config) values (${a.companyId}, 'sneaky', '+15550007005', ${t.db.sql.json({ greeting: 'Hi' })})`)
      .rejects.toMatchObject({ code: '23503' });
    // An inactive bot may keep an old number as history; it cannot answer it.
    await t.db.sql`insert into bots (company_id, name, phone_number, config, is_active) values (${a.companyId}, 'old', ${number}, ${t.db.sql.json({ greeting: 'Hi' })}, false)`;
    await expect(t.db.sql`update bots set is_active = true where company_id = ${a.companyId} and name = 'old'`).rejects.toMatchObject({ code: '23503' });
  });

  it('one number spelled another way (a trunk prefix after the country code) is the same number: held once, routed once', async () => {
    // +1 1 202…, +44 0 20…: E.164-shaped, and the numbers Twilio delivers as +1 202…, +44 20….
    for (const [held, spelled] of [['+12025550143', '+112025550143'], ['+442079460000', '+4402079460000']] as const) {
      const botB = (await req(b.apiKey, 'POST', '/v1/bots', botBody({ phone_number: held }))).json();
      expectUnavailable(await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: spelled })));
      const botA = (await req(a.apiKey, 'POST', '/v1/bots', botBody())).json();
      expectUnavailable(await req(a.apiKey, 'PATCH', `/v1/bots/${botA.id}`, { phone_number: spelled }));
      expect((await adminReq('PUT', `/v1/admin/phone-numbers/${encodeURIComponent(spelled)}`, { company_id: a.companyId })).statusCode).toBe(409);
      const [{ n }] = await t.db.sql`select count(*)::int as n from phone_numbers where number in (${held}, ${spelled})` as unknown as [{ n: number }];
      expect(n).toBe(1);
      expect(await ring(held)).toBe(botB.id);
      // The holder's own bot may be given the other spelling: it is stored, shown and answered as the one number.
      await req(b.apiKey, 'DELETE', `/v1/bots/${botB.id}`);
      const again = await req(b.apiKey, 'POST', '/v1/bots', botBody({ phone_number: spelled }));
      expect(again.statusCode).toBe(201);
      expect(again.json().phone_number).toBe(held);
      expect(await ring(held)).toBe(again.json().id);
      // Released under either spelling.
      await req(b.apiKey, 'DELETE', `/v1/bots/${again.json().id}`);
      expect((await req(b.apiKey, 'DELETE', `/v1/phone-numbers/${encodeURIComponent(spelled)}`)).statusCode).toBe(204);
      expect((await req(a.apiKey, 'PATCH', `/v1/bots/${botA.id}`, { phone_number: spelled })).json().phone_number).toBe(held);
    }
  });

  describe('admin', () => {
    it('lists numbers with their holders; release, then another company claims it and calls follow', async () => {
      const number = '+15550007010';
      const botB = (await req(b.apiKey, 'POST', '/v1/bots', botBody({ phone_number: number }))).json();
      const listed = await adminReq('GET', `/v1/admin/phone-numbers?company_id=${b.companyId}&limit=200`);
      expect(listed.statusCode).toBe(200);
      expect(listed.json().data).toContainEqual(expect.objectContaining({ number, company_id: b.companyId, active_bot_id: botB.id, released_at: null }));

      expectUnavailable(await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: number })));
      const released = await adminReq('DELETE', `/v1/admin/phone-numbers/${encodeURIComponent(number)}`);
      expect(released.statusCode).toBe(200);
      expect(released.json()).toMatchObject({ number, company_id: null, claimed_at: null, active_bot_id: null, detached_bot_ids: [botB.id] });
      expect(released.json().released_at).toEqual(expect.any(String));
      // B's bot keeps running without the number; the number answers nobody until claimed.
      expect((await req(b.apiKey, 'GET', `/v1/bots/${botB.id}`)).json()).toMatchObject({ is_active: true, phone_number: null });
      expect(await ring(number)).toBeNull();

      const botA = await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: number }));
      expect(botA.statusCode).toBe(201);
      expect(await ring(number)).toBe(botA.json().id);
      expectUnavailable(await req(b.apiKey, 'PATCH', `/v1/bots/${botB.id}`, { phone_number: number }));
      const all = (await adminReq('GET', '/v1/admin/phone-numbers?include_released=true&limit=200')).json().data;
      expect(all).toContainEqual(expect.objectContaining({ number, company_id: a.companyId, active_bot_id: botA.json().id }));
    });

    it('assigns a free number to a company, refuses one held by another, and pages', async () => {
      const number = '+15550007020';
      const assigned = await adminReq('PUT', `/v1/admin/phone-numbers/${encodeURIComponent(number)}`, { company_id: b.companyId });
      expect(assigned.statusCode).toBe(200);
      expect(assigned.json()).toMatchObject({ number, company_id: b.companyId, active_bot_id: null });
      // Idempotent for the holder; a conflict (naming the holder: this is the operator) for anyone else.
      expect((await adminReq('PUT', `/v1/admin/phone-numbers/${encodeURIComponent(number)}`, { company_id: b.companyId })).statusCode).toBe(200);
      const clash = await adminReq('PUT', `/v1/admin/phone-numbers/${encodeURIComponent(number)}`, { company_id: a.companyId });
      expect(clash.statusCode).toBe(409);
      expect(clash.json().error.details.company_id).toBe(b.companyId);
      expect((await adminReq('PUT', `/v1/admin/phone-numbers/${encodeURIComponent(number)}`, { company_id: '00000000-0000-4000-8000-000000000000' })).statusCode).toBe(404);
      expect((await adminReq('PUT', '/v1/admin/phone-numbers/555-1234', { company_id: b.companyId })).statusCode).toBe(400);
      expect((await adminReq('DELETE', '/v1/admin/phone-numbers/+15550009999')).statusCode).toBe(404);
      // The assigned number is B's to use; A still cannot.
      expectUnavailable(await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: number })));
      expect((await req(b.apiKey, 'POST', '/v1/bots', botBody({ phone_number: number }))).statusCode).toBe(201);

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await adminReq('GET', `/v1/admin/phone-numbers?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.statusCode).toBe(200);
        seen.push(...page.json().data.map((n: { number: string }) => n.number));
        cursor = page.json().next_cursor;
      } while (cursor);
      const [{ n }] = await t.db.sql`select count(*)::int as n from phone_numbers where company_id is not null` as unknown as [{ n: number }];
      expect(seen).toHaveLength(n);
      expect(new Set(seen).size).toBe(n);
      expect((await t.app.inject({ method: 'GET', url: '/v1/admin/phone-numbers', headers: t.as(a.apiKey) })).statusCode).toBe(401);
    });

    it('a company releases its own number (not while a bot answers it); then anyone may claim it', async () => {
      const number = '+15550007030';
      const bot = (await req(b.apiKey, 'POST', '/v1/bots', botBody({ phone_number: number }))).json();
      const busy = await req(b.apiKey, 'DELETE', `/v1/phone-numbers/${encodeURIComponent(number)}`);
      expect(busy.statusCode).toBe(409);
      expect(busy.json().error.details.bot_ids).toEqual([bot.id]);
      await req(b.apiKey, 'DELETE', `/v1/bots/${bot.id}`);
      expect((await req(b.apiKey, 'DELETE', `/v1/phone-numbers/${encodeURIComponent(number)}`)).statusCode).toBe(204);
      expect((await req(b.apiKey, 'GET', '/v1/phone-numbers')).json().data.map((n: { number: string }) => n.number)).not.toContain(number);
      expect((await req(a.apiKey, 'POST', '/v1/bots', botBody({ phone_number: number }))).statusCode).toBe(201);
      // B's old bot kept the number as history, but cannot answer it any more.
      expectUnavailable(await req(b.apiKey, 'PATCH', `/v1/bots/${bot.id}`, { is_active: true }));
    });
  });
});

describe('migration 0060 backfills ownership from existing bots', () => {
  it('the active bot\'s company holds its number; else the company that used it last; other keys keep their reads', async () => {
    const db = await createTestDb({ migrate: false });
    try {
      await migrateBefore(db, '0060');
      const [a, b, c] = await db.sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('A', 'whsec_a'), ('B', 'whsec_b'), ('C', 'whsec_c') returning id`;
      const bot = (company: string, number: string, active: boolean, updated: string) => db.sql`
        insert into bots (company_id, name, phone_number, config, is_active, updated_at)
        values (${company}, 'bot', ${number}, ${db.sql.json({ greeting: 'Hi' })}, ${active}, ${updated})`;
      // The takeover that already happened: B paused on +15550001000, A took it (active).
      await bot(b!.id, '+15550001000', false, '2026-01-01T00:00:00Z');
      await bot(a!.id, '+15550001000', true, '2026-01-02T00:00:00Z');
      // Only paused bots on +15550002000: C used it last.
      await bot(a!.id, '+15550002000', false, '2026-01-01T00:00:00Z');
      await bot(c!.id, '+15550002000', false, '2026-01-03T00:00:00Z');
      await db.sql`insert into api_keys (company_id, name, prefix, key_hash, scopes) values
        (${a!.id}, 'w', 'pk_00000001', 'x', '{keys:write,settings:write}'), (${a!.id}, 'r', 'pk_00000002', 'x', '{calls:read}')`;

      await migrate(db.sql);
      const held = await db.sql<{ number: string; company_id: string }[]>`select number, company_id from phone_numbers order by number`;
      expect(held).toEqual([{ number: '+15550001000', company_id: a!.id }, { number: '+15550002000', company_id: c!.id }]);
      // History stays: B's and A's paused bots keep their old numbers; they cannot answer them.
      expect((await db.sql`select count(*)::int as n from bots where phone_number is not null`)[0]!.n).toBe(4);
      await expect(db.sql`update bots set is_active = true where company_id = ${a!.id} and phone_number = '+15550002000'`).rejects.toMatchObject({ code: '23503' });
      await db.sql`update bots set is_active = true where company_id = ${c!.id}`;
      const keys = await db.sql<{ prefix: string; scopes: string[] }[]>`select prefix, scopes from api_keys order by prefix`;
      expect(keys.map((k) => [...k.scopes].sort())).toEqual([['keys:read', 'keys:write', 'settings:read', 'settings:write'], ['calls:read']]);
    } finally {
      await db.close();
    }
  });
});
