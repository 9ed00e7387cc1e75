/**
 * Numbers stored before their canonical form was enforced at every write (+112025550143, +4402079460000) are
 * brought to it by the job migration 0430 queues: holdings, bots (number and transfer number) and calls. Two
 * spellings held apart are settled by one rule (the canonical spelling's holder keeps the number) and recorded in
 * the loser's audit log; a re-run changes nothing; an erasure of the short form then finds the old calls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobContext } from '../../src/jobs/queue.js';
import {
  backfillBatch, PHONE_BACKFILL_ACTION, PHONE_BACKFILL_BATCH, PHONE_BACKFILL_JOB, phoneBackfillJob, runPhoneBackfill,
} from '../../src/db/phone-backfill.js';
import type { RootSql } from '../../src/db/sql.js';
import { erasePhoneNumber } from '../../src/privacy/erase.js';
import { assertDialable } from '../../src/campaigns/suppression.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
let sql: RootSql;
const apiKeys: Record<string, string> = {};

async function company(name: string): Promise<string> {
  const { companyId, apiKey } = await t.createCompany(name);
  apiKeys[companyId] = apiKey;
  return companyId;
}

/** A holding and, when `active` is given, a bot on it, written as an older release wrote them: as given. */
async function hold(companyId: string, number: string, claimedAt: string): Promise<void> {
  await sql`insert into phone_numbers (number, company_id, claimed_at) values (${number}, ${companyId}, ${claimedAt})`;
}

async function bot(companyId: string, number: string | null, o: { active?: boolean; transfer?: string } = {}): Promise<string> {
  const config = { greeting: 'Hi', ...(o.transfer ? { transferNumber: o.transfer } : {}) };
  const [b] = await sql<{ id: string }[]>`
    insert into bots (company_id, name, language, config, phone_number, is_active)
    values (${companyId}, 'Desk', 'en', ${sql.json(config as never)}, ${number}, ${o.active ?? true}) returning id`;
  return b!.id;
}

async function call(companyId: string, botId: string, direction: 'inbound' | 'outbound', from: string, to: string): Promise<string> {
  const [c] = await sql<{ id: string }[]>`
    insert into calls (company_id, bot_id, direction, from_number, to_number, status, started_at, ended_at)
    values (${companyId}, ${botId}, ${direction}, ${from}, ${to}, 'completed', now(), now()) returning id`;
  return c!.id;
}

const botRow = async (id: string) =>
  (await sql<{ phone_number: string | null; is_active: boolean; transfer: string | null }[]>`
    select phone_number, is_active, config->>'transferNumber' as transfer from bots where id = ${id}`)[0]!;
const holder = async (number: string) =>
  (await sql<{ company_id: string | null }[]>`select company_id from phone_numbers where number = ${number}`)[0]?.company_id;

/** The job as the worker runs it (one attempt, lease always renewed). */
async function runJob(): Promise<void> {
  const ctx: JobContext = { jobId: 'test', attempt: 1, signal: new AbortController().signal, renewLease: async () => true };
  await phoneBackfillJob({ sql }).handler({}, ctx);
}

describe('canonical phone numbers for rows stored before', () => {
  let a: string;
  let b: string;
  let c: string;
  const ids = {} as Record<'alpha' | 'alphaOld' | 'gamma' | 'beta' | 'betaLong' | 'betaShort' | 'out' | 'in' | 'anon', string>;

  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_PER_MIN: '1000' } });
    sql = t.db.sql;
    [a, b, c] = [await company('Alpha'), await company('Beta'), await company('Gamma')];
    // Alpha: a US number held only in its long spelling, its active bot never reached by Twilio's short form.
    await hold(a, '+112025550143', '2026-01-01T00:00:00Z');
    ids.alpha = await bot(a, '+112025550143', { transfer: '+4402079460333' });
    // Alpha again: an old inactive bot on a long spelling.
    ids.alphaOld = await bot(a, '+4402079460222', { active: false });
    // Beta holds the short form of a London number that Gamma holds (earlier) in its long spelling.
    await hold(c, '+4402079460000', '2025-06-01T00:00:00Z');
    ids.gamma = await bot(c, '+4402079460000');
    await hold(b, '+442079460000', '2026-02-01T00:00:00Z');
    ids.beta = await bot(b, '+442079460000');
    // Beta holds both spellings of another number, an active bot on each.
    await hold(b, '+4402079460111', '2026-03-01T00:00:00Z');
    ids.betaLong = await bot(b, '+4402079460111');
    await hold(b, '+442079460111', '2026-03-02T00:00:00Z');
    ids.betaShort = await bot(b, '+442079460111');
    // Alpha's calls: placed through the API to a trunk-prefixed number, and that person calling back.
    ids.out = await call(a, ids.alpha, 'outbound', '+112025550143', '+4402079460123');
    ids.in = await call(a, ids.alpha, 'inbound', '+4402079460123', '+12025550143');
    ids.anon = await call(a, ids.alpha, 'inbound', 'anonymous', '+12025550143');
    // Do-not-call entries and consents the API stored as typed: one number listed in both spellings (the long one
    // first), one only in the long one; a refusal in the long spelling newer than a grant in the short one.
    await sql`insert into dnc_numbers (company_id, phone, source, reason, created_at) values
      (${a}, '+4402079460444', 'api', 'asked on the phone', '2026-01-01T00:00:00Z'),
      (${a}, '+442079460444', 'csv', null, '2026-02-01T00:00:00Z'),
      (${c}, '+4402079460666', 'api', null, '2026-01-01T00:00:00Z')`;
    await sql`insert into contact_consents (company_id, phone, voice, recorded_at) values
      (${a}, '+4402079460555', 'denied', '2026-01-02T00:00:00Z'),
      (${a}, '+442079460555', 'granted', '2026-01-01T00:00:00Z'),
      (${c}, '+4402079460777', 'denied', '2026-01-01T00:00:00Z')`;
  });
  afterAll(async () => t?.close());

  it('the upgrade queues the backfill as a job, once', async () => {
    const jobs = await sql`select status from jobs where kind = ${PHONE_BACKFILL_JOB}`;
    expect(jobs.map((j) => j.status)).toEqual(['queued']);
  });

  it('every stored number column holds the canonical form after the job', async () => {
    await runJob();
    // Holdings: the long spellings are gone; Alpha holds its number in the form Twilio sends.
    const long = await sql`select number from phone_numbers where number like '+1120%' or number like '+440%'`;
    expect(long).toEqual([]);
    expect(await holder('+12025550143')).toBe(a);
    expect(await botRow(ids.alpha)).toEqual({ phone_number: '+12025550143', is_active: true, transfer: '+442079460333' });
    expect(await botRow(ids.alphaOld)).toEqual({ phone_number: '+442079460222', is_active: false, transfer: null });
    const calls = await sql<{ id: string; from_number: string; to_number: string }[]>`
      select id, from_number, to_number from calls where company_id = ${a}`;
    const byId = Object.fromEntries(calls.map((r) => [r.id, [r.from_number, r.to_number]]));
    expect(byId[ids.out!]).toEqual(['+12025550143', '+442079460123']);
    expect(byId[ids.in!]).toEqual(['+442079460123', '+12025550143']);
    expect(byId[ids.anon!]).toEqual(['anonymous', '+12025550143']);
  });

  it('two companies on one number: the canonical spelling keeps it, the other bot is deactivated and told in its audit log', async () => {
    expect(await holder('+442079460000')).toBe(b);
    expect(await botRow(ids.beta)).toMatchObject({ phone_number: '+442079460000', is_active: true });
    expect(await botRow(ids.gamma)).toMatchObject({ phone_number: '+442079460000', is_active: false });
    const audit = await sql<{ resource_id: string | null; details: Record<string, string> }[]>`
      select resource_id, details from audit_log where company_id = ${c} and action = ${PHONE_BACKFILL_ACTION} order by id`;
    expect(audit.map((e) => e.resource_id)).toEqual([null, ids.gamma]);
    expect(audit[1]!.details).toMatchObject({ number: '+442079460000', spelling: '+4402079460000' });
    // The company reads it in its audit log.
    const res = await t.app.inject({ method: 'GET', url: '/v1/audit-log?actor=system', headers: t.as(apiKeys[c]!) });
    expect(res.statusCode).toBe(200);
    expect(res.json().data).toEqual(expect.arrayContaining([expect.objectContaining({ actor: 'system', action: PHONE_BACKFILL_ACTION, resource_id: ids.gamma })]));
    // The winner lost nothing and was told nothing.
    expect(await sql`select 1 from audit_log where company_id = ${b} and resource_id = ${ids.beta!}`).toEqual([]);
  });

  it('one company holding both spellings keeps the number; the bot on the long spelling is deactivated', async () => {
    expect(await holder('+442079460111')).toBe(b);
    expect(await botRow(ids.betaShort)).toMatchObject({ phone_number: '+442079460111', is_active: true });
    expect(await botRow(ids.betaLong)).toMatchObject({ phone_number: '+442079460111', is_active: false });
    const [entry] = await sql`select 1 from audit_log where company_id = ${b} and resource_id = ${ids.betaLong!} and action = ${PHONE_BACKFILL_ACTION}`;
    expect(entry).toBeDefined();
  });

  it('do-not-call entries and consents: one record per number, merged by their own rules, and the dial check sees them', async () => {
    const dnc = await sql`select company_id, phone, source, reason from dnc_numbers order by phone`;
    expect(dnc).toEqual([
      { company_id: a, phone: '+442079460444', source: 'api', reason: 'asked on the phone' },
      { company_id: c, phone: '+442079460666', source: 'api', reason: null },
    ]);
    const consents = await sql`select company_id, phone, voice from contact_consents order by phone`;
    expect(consents).toEqual([
      { company_id: a, phone: '+442079460555', voice: 'denied' },
      { company_id: c, phone: '+442079460777', voice: 'denied' },
    ]);
    for (const [companyId, to, reason] of [[c, '+442079460666', 'do_not_call'], [c, '+442079460777', 'consent_denied']] as const) {
      await expect(sql.begin((tx) => assertDialable(tx, companyId, to))).rejects.toMatchObject({ reason });
    }
  });

  it('a re-run from the start changes nothing', async () => {
    const before = await sql`select count(*)::int as n from audit_log`;
    await sql`update phone_backfill_steps set after_key = null, done_at = null`;
    expect(await runPhoneBackfill(sql)).toEqual({ rewritten: 0, conflicts: 0 });
    expect(await sql`select count(*)::int as n from audit_log`).toEqual(before);
  });

  it('goes on from where it stopped; two runners at once rewrite each row once', async () => {
    const d = await company('Delta');
    const deltaBot = await bot(d, null);
    const n = PHONE_BACKFILL_BATCH * 2 + 7;
    await sql`
      insert into calls (company_id, bot_id, direction, from_number, to_number, status)
      select ${d}, ${deltaBot}, 'outbound', '+4402079460998', '+4402079460' || lpad((g % 1000)::text, 3, '0'), 'completed'
      from generate_series(1, ${n}) g`;
    await sql`update phone_backfill_steps set after_key = null, done_at = null`;
    for (const step of ['phone_numbers', 'bots'] as const) expect(await backfillBatch(sql, step)).toMatchObject({ rewritten: 0, done: false });
    // One batch of calls, then a stop (a restart, a lost lease): the position is kept.
    const first = await backfillBatch(sql, 'calls');
    expect(first.done).toBe(false);
    const [at] = await sql`select after_key, done_at from phone_backfill_steps where step = 'calls'`;
    expect(at).toMatchObject({ done_at: null, after_key: expect.any(String) });
    const [x, y] = await Promise.all([runPhoneBackfill(sql), runPhoneBackfill(sql)]);
    expect(first.rewritten + x!.rewritten + y!.rewritten).toBe(n);
    const left = await sql`select 1 from calls where from_number like '+440%' or to_number like '+440%'`;
    expect(left).toEqual([]);
    const steps = await sql`select step from phone_backfill_steps where done_at is null`;
    expect(steps).toEqual([]);
  });

  it('an erasure of the short form finds the calls stored in the long one', async () => {
    const erasure = await erasePhoneNumber(sql, a, '+442079460123');
    expect(erasure.calls).toBe(2);
    const left = await sql`select id from calls where company_id = ${a} and (from_number = '+442079460123' or to_number = '+442079460123')`;
    expect(left).toEqual([]);
  });
});
