import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connect.js';
import type { RootSql } from '../../src/db/sql.js';
import { EXPORT_TYPES, exportJsonl } from '../../src/export/jsonl.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { usingRealPostgres } from '../helpers/db.js';
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

/** A campaign with `n` contacts (a phone each), for exports longer than one batch. */
async function seedContacts(companyId: string, n: number) {
  const [bot] = await sql<{ id: string }[]>`insert into bots (company_id, name, language, config) values (${companyId}, 'Dialler', 'en', ${sql.json({ greeting: 'Hi' } as never)}) returning id`;
  const [campaign] = await sql<{ id: string }[]>`insert into campaigns (company_id, bot_id, name, windows) values (${companyId}, ${bot!.id}, 'Reminders', '[]'::jsonb) returning id`;
  await sql`insert into campaign_contacts (company_id, campaign_id, phone, name)
    select ${companyId}, ${campaign!.id}, '+1555' || lpad(i::text, 7, '0'), 'Contact ' || i from generate_series(1, ${n}::int) i`;
}

/**
 * Rows of every type whose order columns tie: the same timestamps (and timestamps a microsecond apart, which a
 * JavaScript Date cannot tell apart), the same usage kind, provider and model.
 */
async function seedTies(companyId: string) {
  const at = '2031-03-04T05:06:07.123456Z';
  const bots = await sql<{ id: string }[]>`
    insert into bots (company_id, name, language, config, created_at)
    select ${companyId}, 'Tie ' || i, 'en', ${sql.json({ greeting: 'Hi' } as never)}, ${at}::timestamptz + make_interval(secs => (i / 3) * 0.000001)
    from generate_series(1, 5) i returning id`;
  const botId = bots[0]!.id;
  const calls = await sql<{ id: string }[]>`
    insert into calls (company_id, bot_id, direction, from_number, status, started_at)
    select ${companyId}, ${botId}, 'inbound', '+1555100' || lpad(i::text, 4, '0'), 'completed', ${at}::timestamptz + make_interval(secs => (i / 4) * 0.000001)
    from generate_series(1, 7) i returning id`;
  await storeTurns(sql, calls[0]!.id, [{ role: 'caller', text: 'tie turn', ts: at }]);
  await sql`insert into outcomes (call_id, company_id, outcome_type, confidence, summary, analyzer) values (${calls[1]!.id}, ${companyId}, 'lead', 0.5, 'tie', 'test')`;
  await sql`insert into bookings (company_id, bot_id, service_id, service_name, resource_id, resource_name, starts_at, ends_at, status, created_at)
    select ${companyId}, ${botId}, 'cut', 'Haircut', 'r' || i, 'Chair ' || i, '2031-01-01T10:00Z', '2031-01-01T11:00Z', 'confirmed', ${at}
    from generate_series(1, 4) i`;
  const campaigns = await sql<{ id: string }[]>`
    insert into campaigns (company_id, bot_id, name, windows, created_at)
    select ${companyId}, ${botId}, 'Tie ' || i, '[]'::jsonb, ${at} from generate_series(1, 3) i returning id`;
  for (const c of campaigns) {
    await sql`insert into campaign_contacts (company_id, campaign_id, phone, created_at)
      select ${companyId}, ${c.id}, '+1555200' || lpad(i::text, 4, '0'), ${at} from generate_series(1, 3) i`;
  }
  await sql`insert into dnc_numbers (company_id, phone, source, created_at) select ${companyId}, '+1555300' || lpad(i::text, 4, '0'), 'api', ${at} from generate_series(1, 4) i`;
  await sql`insert into audit_log (company_id, actor, action, status_code, request_id, created_at)
    select ${companyId}, 'admin', 'POST /v1/tie', 200, 'req-' || i, ${at} from generate_series(1, 4) i`;
  // Usage: three calls share a start (call_usage copies it), two kinds each, one provider and model.
  for (const c of calls.slice(0, 3)) {
    await sql`insert into call_usage (call_id, company_id, bot_id, started_at, kind, provider, model, quantity)
      values (${c.id}, ${companyId}, ${botId}, ${at}, 'llm_input_tokens', 'openai', 'gpt', 10), (${c.id}, ${companyId}, ${botId}, ${at}, 'tts_chars', 'cartesia', '', 20)`;
  }
  await sql`insert into ingest_usage (company_id, bot_id, document_id, occurred_at, kind, provider, model, quantity)
    select ${companyId}, ${botId}, gen_random_uuid(), ${at}, 'embedding_tokens', 'openai', 'emb', 100 + i from generate_series(1, 4) i`;
  return { bots: 5, calls: 7, bookings: 4, campaigns: 3, contacts: 9, dnc: 4, usage: 10 };
}

async function exportAll(companyId: string, batchSize: number) {
  const chunks: string[] = [];
  for await (const chunk of exportJsonl(sql, companyId, { batchSize, withRecordingUrls: true, withWebhookUrl: true })) {
    chunks.push(chunk);
    if (chunks.length > 1_000) throw new Error('the export repeats itself');
  }
  return chunks;
}

/** A key of the company's with only these scopes. */
async function keyWith(apiKey: string, scopes: string[]) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(apiKey), payload: { name: scopes.join(' '), scopes } });
  expect(res.statusCode).toBe(201);
  return (res.json() as { key: string }).key;
}

const answersWithin = (query: PromiseLike<unknown>, ms = 5_000) =>
  Promise.race([Promise.resolve(query).then(() => 'answered'), sleep(ms, 'still waiting', { ref: false })]);

const lines = (body: string) => body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string } & Record<string, unknown>);

beforeAll(async () => {
  t = await createTestApp();
  sql = t.db.sql;
});
afterAll(async () => t.close());

describe('GET /v1/export', () => {
  it('streams the company\'s own data as JSONL, more calls than one batch, never another tenant\'s; audited', async () => {
    const a = await t.createCompany('Alpha');
    const b = await t.createCompany('Beta');
    const botA = await seed(a.companyId, 'alpha', 1203); // 500-row batches: three of them
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

  it('reads in batches: one chunk per batch, pulled as the consumer asks', async () => {
    const c = await t.createCompany('Gamma');
    await seed(c.companyId, 'gamma', 25);
    const it = exportJsonl(sql, c.companyId, { batchSize: 10, types: ['call'], withRecordingUrls: true, withWebhookUrl: true });
    const sizes: number[] = [];
    for await (const chunk of it) sizes.push(chunk.split('\n').filter(Boolean).length);
    expect(sizes).toEqual([10, 10, 5]);
  });

  it('holds no database connection between batches: a paused export leaves the connection free for other queries', async () => {
    const c = await t.createCompany('Paused');
    await seedContacts(c.companyId, 95);
    // One connection, as PGlite always has: on PostgreSQL a pool of one, so a held connection shows here too.
    const one = usingRealPostgres() ? await openDatabase({ databaseUrl: t.db.url!, dataDir: 'memory://', poolMax: 1 }) : undefined;
    const db = one?.sql ?? sql;
    const it = exportJsonl(db, c.companyId, { batchSize: 10, types: ['campaign_contact', 'company'], withRecordingUrls: false, withWebhookUrl: false });
    try {
      const first = await it.next();
      expect(lines(first.value as string)).toHaveLength(10);
      // The consumer has taken one chunk and stopped pulling: the next query (and a write) must not wait for it.
      expect(await answersWithin(db`select 1 as ok`)).toBe('answered');
      expect(await answersWithin(db`insert into dnc_numbers (company_id, phone, source) values (${c.companyId}, '+15559990000', 'api')`)).toBe('answered');
      const rest: string[] = [];
      for await (const chunk of it) rest.push(chunk);
      const contacts = [...lines(first.value as string), ...rest.flatMap(lines)].filter((l) => l.type === 'campaign_contact');
      expect(contacts).toHaveLength(95);
      expect(new Set(contacts.map((l) => l.id)).size).toBe(95);
      expect(rest.map((chunk) => lines(chunk).length)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 5, 1]);
    } finally {
      await it.return(undefined);
      await one?.close();
    }
  });

  it('a client that stops reading the download blocks no other tenant', async () => {
    const a = await t.createCompany('Stalled');
    const b = await t.createCompany('Bystander');
    // Far more than the server buffers for a client that does not read (500-row batches of ~300 bytes a line).
    await seedContacts(a.companyId, 3000);
    const res = await t.app.inject({ method: 'GET', url: '/v1/export?types=campaign_contact', headers: t.as(a.apiKey), payloadAsStream: true });
    expect(res.statusCode).toBe(200);
    const body = res.stream()[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let text = '';
    try {
      text += String((await body.next()).value);
      await sleep(100); // the server fills its buffers and waits on the client
      const bots = t.app.inject({ method: 'GET', url: '/v1/bots', headers: t.as(b.apiKey) });
      expect(await answersWithin(bots)).toBe('answered');
      expect((await bots).statusCode).toBe(200);
    } finally {
      // The client resumes: the download completes, whole.
      for (let r = await body.next(); !r.done; r = await body.next()) text += String(r.value);
    }
    const contacts = lines(text);
    expect(contacts).toHaveLength(3000);
    expect(new Set(contacts.map((l) => l.id)).size).toBe(3000);
  });

  it('pages without losing or repeating a row: the same lines in the same order whatever the batch size, ties included', async () => {
    const c = await t.createCompany('Ties');
    const n = await seedTies(c.companyId);
    const whole = (await exportAll(c.companyId, 10_000)).join('');
    const count = (type: string) => lines(whole).filter((l) => l.type === type).length;
    expect({ bots: count('bot'), calls: count('call'), bookings: count('booking'), campaigns: count('campaign'),
      contacts: count('campaign_contact'), dnc: count('dnc_number'), usage: count('usage') }).toEqual(n);
    expect(count('audit')).toBeGreaterThanOrEqual(4);
    expect(new Set(lines(whole).map((l) => l.type))).toEqual(new Set(EXPORT_TYPES));
    const ones = await exportAll(c.companyId, 1);
    expect(ones.every((chunk) => lines(chunk).length === 1)).toBe(true);
    expect(ones.join('')).toBe(whole);
    expect((await exportAll(c.companyId, 2)).join('')).toBe(whole);
    expect((await exportAll(c.companyId, 3)).join('')).toBe(whole);
    // The keyset columns stay out of the output.
    expect(whole).not.toMatch(/"_k\d"/);
  });

  it('usage quantities are JSON numbers, exact', async () => {
    const c = await t.createCompany('Quantities');
    const [bot] = await sql<{ id: string }[]>`insert into bots (company_id, name, language, config) values (${c.companyId}, 'Q', 'en', ${sql.json({ greeting: 'Hi' } as never)}) returning id`;
    const [call] = await sql<{ id: string; started_at: Date }[]>`insert into calls (company_id, bot_id, direction, status) values (${c.companyId}, ${bot!.id}, 'inbound', 'completed') returning id, started_at`;
    await sql`insert into call_usage (call_id, company_id, bot_id, started_at, kind, provider, model, quantity)
      values (${call!.id}, ${c.companyId}, ${bot!.id}, ${call!.started_at}, 'tts_chars', 'cartesia', '', 9007199254740991)`;
    await sql`insert into ingest_usage (company_id, bot_id, document_id, occurred_at, kind, provider, model, quantity)
      values (${c.companyId}, ${bot!.id}, gen_random_uuid(), now(), 'embedding_tokens', 'openai', 'emb', 1000)`;
    const res = await t.app.inject({ method: 'GET', url: '/v1/export?types=usage', headers: t.as(c.apiKey) });
    const usage = lines(res.body);
    expect(usage.map((l) => l.quantity).sort()).toEqual([1000, 9007199254740991]);
    expect(res.body).toContain('"quantity":9007199254740991');
  });

  it('shows the webhook URL whole only to a key holding settings:read, as GET /v1/company; export:read alone sees its origin', async () => {
    const c = await t.createCompany('Hooked');
    await sql`update companies set webhook_url = 'https://hooks.example.com/parley/in?token=s3cret' where id = ${c.companyId}`;
    const exportOnly = await keyWith(c.apiKey, ['export:read']);
    expect((await t.app.inject({ method: 'GET', url: '/v1/company', headers: t.as(exportOnly) })).statusCode).toBe(403);
    const res = await t.app.inject({ method: 'GET', url: '/v1/export?types=company', headers: t.as(exportOnly) });
    expect(lines(res.body)).toEqual([expect.objectContaining({ type: 'company', webhook_url: 'https://hooks.example.com/…' })]);
    expect(res.body).not.toContain('s3cret');
    const withSettings = await keyWith(c.apiKey, ['export:read', 'settings:read']);
    const whole = lines((await t.app.inject({ method: 'GET', url: '/v1/export?types=company', headers: t.as(withSettings) })).body);
    expect(whole).toEqual([expect.objectContaining({ webhook_url: 'https://hooks.example.com/parley/in?token=s3cret' })]);
  });

  it('needs export:read and rejects unknown types', async () => {
    const c = await t.createCompany();
    const key = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(c.apiKey), payload: { name: 'calls only', scopes: ['calls:read'] } });
    expect((await t.app.inject({ method: 'GET', url: '/v1/export', headers: t.as(key.json().key) })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/v1/export?types=secrets', headers: t.as(c.apiKey) })).statusCode).toBe(400);
  });
});
