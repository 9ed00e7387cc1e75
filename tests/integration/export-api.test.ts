import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RootSql } from '../../src/db/sql.js';
import { exportJsonl } from '../../src/export/jsonl.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { storeTurns } from '../helpers/transcript.js';

let t: TestApp;
let sql: RootSql;

async function seed(companyId: string, tag: string, calls: number) {
  const [bot] = await sql<{ id: string }[]>`insert into bots (company_id, name, language, config) values (${companyId}, ${`Bot ${tag}`}, 'en', ${sql.json({ greeting: 'Hi' } as never)}) returning id`;
  const inserted = await sql<{ id: string; i: number }[]>`
    insert into calls (company_id, bot_id, direction, from_number, status, started_at)
    select ${companyId}, ${bot!.id}, 'inbound', '+1555000' || lpad(i::text, 4, '0'), 'completed', now() - make_interval(secs => i)
    from generate_series(1, ${calls}::int) i
    returning id, substr(from_number, 8)::int as i`;
  for (const c of inserted) await storeTurns(sql, c.id, [{ role: 'caller', text: `${tag} turn ${c.i}`, ts: new Date().toISOString() }]);
  await sql`insert into outcomes (call_id, company_id, outcome_type, confidence, summary, analyzer)
    select id, company_id, 'lead', 0.8, ${`${tag} summary`}, 'test' from calls where company_id = ${companyId} limit 3`;
  await sql`insert into bookings (company_id, bot_id, service_id, service_name, resource_id, resource_name, starts_at, ends_at, status, customer_phone)
    values (${companyId}, ${bot!.id}, 'cut', 'Haircut', 'r1', ${tag}, '2030-01-01T10:00Z', '2030-01-01T11:00Z', 'confirmed', '+15550001234')`;
  await sql`insert into dnc_numbers (company_id, phone, source) values (${companyId}, '+15550009999', 'api')`;
  return bot!.id;
}

const lines = (body: string) => body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string } & Record<string, unknown>);

beforeAll(async () => {
  t = await createTestApp();
  sql = t.db.sql;
});
afterAll(async () => t.close());

describe('GET /v1/export', () => {
  it('streams the company\'s own data as JSONL, more calls than one cursor batch, never another tenant\'s; audited', async () => {
    const a = await t.createCompany('Alpha');
    const b = await t.createCompany('Beta');
    const botA = await seed(a.companyId, 'alpha', 1203); // 500-row batches: three cursor batches
    await seed(b.companyId, 'beta', 7);
    const res = await t.app.inject({ method: 'GET', url: '/v1/export', headers: t.as(a.apiKey) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(res.headers['content-disposition']).toMatch(/attachment; filename="parley-export-/);
    expect(res.body.endsWith('\n')).toBe(true);
    const all = lines(res.body);
    const byType = (type: string) => all.filter((l) => l.type === type);
    expect(byType('company')).toEqual([expect.objectContaining({ id: a.companyId, name: 'Alpha' })]);
    expect(byType('bot').map((l) => l.id)).toEqual([botA]);
    const calls = byType('call');
    expect(calls).toHaveLength(1203);
    expect(new Set(calls.map((c) => c.id)).size).toBe(1203);
    expect(calls.filter((c) => c.outcome !== null)).toHaveLength(3);
    expect(calls[0]).toMatchObject({ bot_id: botA, transcript: [{ role: 'caller', text: expect.stringMatching(/^alpha turn /) }] });
    expect(byType('booking')).toHaveLength(1);
    expect(byType('dnc_number')).toHaveLength(1);
    expect(res.body).not.toContain('beta');
    expect(res.body).not.toContain(b.companyId);

    const audit = await sql`select action from audit_log where company_id = ${a.companyId} and action = 'GET /v1/export'`;
    expect(audit).toHaveLength(1);
    // The next export carries that audit entry.
    const again = lines((await t.app.inject({ method: 'GET', url: '/v1/export?types=audit', headers: t.as(a.apiKey) })).body);
    expect(again.some((l) => l.type === 'audit' && l.action === 'GET /v1/export')).toBe(true);
    expect(again.every((l) => l.type === 'audit')).toBe(true);

    const other = lines((await t.app.inject({ method: 'GET', url: '/v1/export?types=call&types=company', headers: t.as(b.apiKey) })).body);
    expect(other.filter((l) => l.type === 'call')).toHaveLength(7);
    expect(JSON.stringify(other)).not.toContain('alpha');
  });

  it('reads in cursor batches: one chunk per batch, pulled as the consumer asks', async () => {
    const c = await t.createCompany('Gamma');
    await seed(c.companyId, 'gamma', 25);
    const it = exportJsonl(sql, c.companyId, { batchSize: 10, types: ['call'], withRecordingUrls: true });
    const sizes: number[] = [];
    for await (const chunk of it) sizes.push(chunk.split('\n').filter(Boolean).length);
    expect(sizes).toEqual([10, 10, 5]);
  });

  it('needs export:read and rejects unknown types', async () => {
    const c = await t.createCompany();
    const key = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(c.apiKey), payload: { name: 'calls only', scopes: ['calls:read'] } });
    expect((await t.app.inject({ method: 'GET', url: '/v1/export', headers: t.as(key.json().key) })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/v1/export?types=secrets', headers: t.as(c.apiKey) })).statusCode).toBe(400);
  });
});
