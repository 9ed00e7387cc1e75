import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connect.js';
import type { RootSql } from '../../src/db/sql.js';
import { exportRoutes, OMITTED_HEADER } from '../../src/api/routes/export.js';
import { EXPORT_TYPES, exportBatches, exportJsonl } from '../../src/export/jsonl.js';
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

/** The export's database batches, each one's lines joined. */
async function exportAll(companyId: string, maxBatchRows: number) {
  const batches: string[] = [];
  for await (const b of exportBatches(sql, companyId, { maxBatchRows, withRecordingUrls: true, withWebhookUrl: true })) {
    batches.push(b.lines.join(''));
    if (batches.length > 1_000) throw new Error('the export repeats itself');
  }
  return batches;
}

/** `calls` calls of `turns` turns each, every turn `turnChars` long: the rows a long call makes. */
async function seedLongCalls(companyId: string, calls: number, turns: number, turnChars: number) {
  const [bot] = await sql<{ id: string }[]>`insert into bots (company_id, name, language, config) values (${companyId}, 'Long', 'en', ${sql.json({ greeting: 'Hi' } as never)}) returning id`;
  const inserted = await sql<{ id: string }[]>`
    insert into calls (company_id, bot_id, direction, from_number, status, started_at)
    select ${companyId}, ${bot!.id}, 'inbound', '+1555400' || lpad(i::text, 4, '0'), 'completed', now() - make_interval(secs => i)
    from generate_series(1, ${calls}::int) i returning id`;
  await sql`
    insert into call_turns (call_id, turn)
    select c.id, jsonb_build_object('role', case when k % 2 = 0 then 'bot' else 'caller' end, 'text', rpad('turn ' || k || ' ', ${turnChars}::int, 'abc '))
    from calls c cross join generate_series(1, ${turns}::int) k where c.company_id = ${companyId} order by c.id, k`;
  return inserted.map((c) => c.id);
}

/** A key of the company's with only these scopes. */
async function keyWith(apiKey: string, scopes: string[]) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(apiKey), payload: { name: scopes.join(' '), scopes } });
  expect(res.statusCode).toBe(201);
  return (res.json() as { key: string }).key;
}

/** GET over a real connection with `agent`: status, body, and whether the agent reused a socket for it. */
function httpGet(url: string, apiKey: string, agent: http.Agent) {
  return new Promise<{ status: number; body: string; reused: boolean }>((resolve, reject) => {
    const req = http.get(url, { agent, headers: { authorization: `Bearer ${apiKey}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve({ status: res.statusCode!, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
  });
}

/** The route with tight limits for the tests (a company 1 export at once, the process 2, stalled after STALL_MS). */
const STALL_MS = 300;

const answersWithin = (query: PromiseLike<unknown>, ms = 5_000) =>
  Promise.race([Promise.resolve(query).then(() => 'answered'), sleep(ms, 'still waiting', { ref: false })]);

const lines = (body: string) => body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string } & Record<string, unknown>);

beforeAll(async () => {
  t = await createTestApp({
    tenantRoutes: (db) => [async (app) => {
      await app.register(exportRoutes({ sql: db.sql, maxPerCompany: 1, maxPerProcess: 2, stallMs: STALL_MS }), { prefix: '/tight' });
    }],
  });
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

  it('reads in batches as the consumer asks: one row first, then twice the last at most, up to maxBatchRows; one line a chunk', async () => {
    const c = await t.createCompany('Gamma');
    await seed(c.companyId, 'gamma', 25);
    const sizes: number[] = [];
    for await (const b of exportBatches(sql, c.companyId, { maxBatchRows: 10, types: ['call'], withRecordingUrls: true, withWebhookUrl: true })) sizes.push(b.lines.length);
    expect(sizes).toEqual([1, 2, 4, 8, 10]);
    const chunks: string[] = [];
    for await (const line of exportJsonl(sql, c.companyId, { maxBatchRows: 10, types: ['call'], withRecordingUrls: true, withWebhookUrl: true })) chunks.push(line);
    expect(chunks).toHaveLength(25);
    expect(chunks.every((chunk) => lines(chunk).length === 1 && chunk.endsWith('\n'))).toBe(true);
  });

  it('sizes batches by bytes: long calls a few to a batch, never more than the budget and one row; small rows many to a batch', async () => {
    const c = await t.createCompany('Long calls');
    const callIds = await seedLongCalls(c.companyId, 12, 200, 150); // ~35 KB of JSON a call
    await seedContacts(c.companyId, 600); // ~300 bytes a line
    const batchBytes = 100_000;
    const batches: { type: string; rows: number; bytes: number; largestLine: number }[] = [];
    const seen: string[] = [];
    for await (const b of exportBatches(sql, c.companyId, { batchBytes, types: ['call', 'campaign_contact'], withRecordingUrls: true, withWebhookUrl: true })) {
      batches.push({ type: b.type, rows: b.lines.length, bytes: b.bytes, largestLine: Math.max(...b.lines.map((l) => Buffer.byteLength(l))) });
      expect(b.bytes).toBe(b.lines.reduce((n, l) => n + Buffer.byteLength(l), 0));
      if (b.type === 'call') seen.push(...lines(b.lines.join('')).map((l) => l.id as string));
    }
    expect(seen.sort()).toEqual([...callIds].sort());
    for (const b of batches) expect(b.bytes).toBeLessThanOrEqual(batchBytes + b.largestLine);
    const calls = batches.filter((b) => b.type === 'call');
    expect(calls.every((b) => b.rows <= 3)).toBe(true);
    // The contacts' batches grow past anything a batch of calls holds.
    expect(Math.max(...batches.filter((b) => b.type === 'campaign_contact').map((b) => b.rows))).toBeGreaterThan(100);
  });

  it('holds no database connection between batches: a paused export leaves the connection free for other queries', async () => {
    const c = await t.createCompany('Paused');
    await seedContacts(c.companyId, 95);
    // One connection, as PGlite always has: on PostgreSQL a pool of one, so a held connection shows here too.
    const one = usingRealPostgres() ? await openDatabase({ databaseUrl: t.db.url!, dataDir: 'memory://', poolMax: 1 }) : undefined;
    const db = one?.sql ?? sql;
    const it = exportBatches(db, c.companyId, { maxBatchRows: 10, types: ['campaign_contact', 'company'], withRecordingUrls: false, withWebhookUrl: false });
    try {
      const first = await it.next();
      expect((first.value as { lines: string[] }).lines).toHaveLength(1);
      // The consumer has taken one batch and stopped pulling: the next query (and a write) must not wait for it.
      expect(await answersWithin(db`select 1 as ok`)).toBe('answered');
      expect(await answersWithin(db`insert into dnc_numbers (company_id, phone, source) values (${c.companyId}, '+15559990000', 'api')`)).toBe('answered');
      const rest: string[][] = [];
      for await (const b of it) rest.push(b.lines);
      const contacts = [...(first.value as { lines: string[] }).lines, ...rest.flat()].flatMap(lines).filter((l) => l.type === 'campaign_contact');
      expect(contacts).toHaveLength(95);
      expect(new Set(contacts.map((l) => l.id)).size).toBe(95);
      expect(rest.map((b) => b.length)).toEqual([2, 4, 8, 10, 10, 10, 10, 10, 10, 10, 10, 1]);
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
    expect(ones.every((batch) => lines(batch).length === 1)).toBe(true);
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

  it('exports only the types the key may read: asked for one it may not, 403 naming the scope; everything, the rest left out and named', async () => {
    const c = await t.createCompany('Scoped');
    await seedTies(c.companyId);
    const callsOnly = await keyWith(c.apiKey, ['export:read', 'calls:read']);
    const all = await t.app.inject({ method: 'GET', url: '/v1/export', headers: t.as(callsOnly) });
    expect(all.statusCode).toBe(200);
    expect([...new Set(lines(all.body).map((l) => l.type))]).toEqual(['company', 'call']);
    expect(all.headers[OMITTED_HEADER]).toBe('bot,booking,campaign,campaign_contact,dnc_number,audit,usage');
    const asked = await t.app.inject({ method: 'GET', url: '/v1/export?types=call&types=audit', headers: t.as(callsOnly) });
    expect(asked.statusCode).toBe(403);
    expect(asked.json().error.message).toContain('audit:read');
    // With the type's scope it is there; a key holding every scope gets every type and no header.
    const withAudit = await keyWith(c.apiKey, ['export:read', 'audit:read']);
    const audit = await t.app.inject({ method: 'GET', url: '/v1/export?types=audit', headers: t.as(withAudit) });
    const auditTypes = lines(audit.body).map((l) => l.type);
    expect(auditTypes.length).toBeGreaterThanOrEqual(4); // the seeded four and the requests of this test
    expect(new Set(auditTypes)).toEqual(new Set(['audit']));
    const everything = await t.app.inject({ method: 'GET', url: '/v1/export', headers: t.as(c.apiKey) });
    expect(new Set(lines(everything.body).map((l) => l.type))).toEqual(new Set(EXPORT_TYPES));
    expect(everything.headers[OMITTED_HEADER]).toBeUndefined();
  });

  it('runs a few exports at once, per company and per process: the one past either limit gets 429 rate_limited', async () => {
    const a = await t.createCompany('Exporter A');
    const b = await t.createCompany('Exporter B');
    const c = await t.createCompany('Exporter C');
    await seedContacts(a.companyId, 1000);
    await seedContacts(b.companyId, 1000);
    const open = async (apiKey: string) => {
      const res = await t.app.inject({ method: 'GET', url: '/v1/tight/export?types=campaign_contact', headers: t.as(apiKey), payloadAsStream: true });
      expect(res.statusCode).toBe(200);
      return res.stream(); // not read yet: the export waits on its client
    };
    const readAll = async (stream: NodeJS.ReadableStream) => {
      let text = '';
      for await (const chunk of stream) text += String(chunk);
      return lines(text);
    };
    const heldA = await open(a.apiKey);
    const refusedA = await t.app.inject({ method: 'GET', url: '/v1/tight/export', headers: t.as(a.apiKey) });
    expect(refusedA.statusCode).toBe(429);
    expect(refusedA.json()).toMatchObject({ error: { code: 'PARLEY_ERR_RATE_LIMITED', message: expect.stringContaining('export') } });
    const heldB = await open(b.apiKey);
    const refusedC = await t.app.inject({ method: 'GET', url: '/v1/tight/export', headers: t.as(c.apiKey) });
    expect(refusedC.statusCode).toBe(429);
    expect(refusedC.json()).toMatchObject({ error: { code: 'PARLEY_ERR_RATE_LIMITED', message: expect.stringContaining('exports') } });
    // Downloads finished: their slots are free again.
    expect(await readAll(heldA)).toHaveLength(1000);
    expect(await readAll(heldB)).toHaveLength(1000);
    const again = await t.app.inject({ method: 'GET', url: '/v1/tight/export?types=company', headers: t.as(a.apiKey) });
    expect(again.statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/v1/tight/export?types=company', headers: t.as(c.apiKey) })).statusCode).toBe(200);
  });

  it('disconnects a client that has taken nothing for stallMs; a socket kept alive after a finished export is left alone', { timeout: 60_000 }, async () => {
    const small = await t.createCompany('Finishes');
    const stalled = await t.createCompany('Never reads');
    // Far more than the sockets buffer for a client that does not read: 20 calls of ~1 MB.
    await seedLongCalls(stalled.companyId, 20, 100, 10_000);
    const base = await t.app.listen({ port: 0, host: '127.0.0.1' });

    // A finished export's stall timer is gone with it: the connection kept alive serves the next request after it.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const done = await httpGet(`${base}/v1/tight/export?types=company`, small.apiKey, agent);
      expect(done.status).toBe(200);
      expect(lines(done.body)).toEqual([expect.objectContaining({ type: 'company', id: small.companyId })]);
      await sleep(STALL_MS * 3);
      const next = await httpGet(`${base}/v1/bots`, small.apiKey, agent);
      expect(next).toMatchObject({ status: 200, reused: true });
    } finally {
      agent.destroy();
    }

    // A client that sends its request and never reads: the server ends the download.
    const serverSide = once(t.app.server, 'connection') as Promise<[net.Socket]>;
    const client = net.connect(Number(new URL(base).port), '127.0.0.1');
    await once(client, 'connect');
    client.pause();
    client.write(`GET /v1/tight/export?types=call HTTP/1.1\r\nHost: parley\r\nAuthorization: Bearer ${stalled.apiKey}\r\n\r\n`);
    const [socket] = await serverSide;
    await once(socket, 'close');
    // What the kernel had taken still arrives, then the end: a truncated download, short of the 20 calls.
    const received: Buffer[] = [];
    client.on('data', (d: Buffer) => received.push(d));
    client.resume();
    await once(client, 'close');
    const text = Buffer.concat(received).toString('utf8');
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text.split('\n').filter((l) => l.startsWith('{"type":"call"')).length).toBeLessThan(20);
    // Its slot is free: the company may export again.
    expect((await t.app.inject({ method: 'GET', url: '/v1/tight/export?types=company', headers: t.as(stalled.apiKey) })).statusCode).toBe(200);
  });

  it('needs export:read and rejects unknown types', async () => {
    const c = await t.createCompany();
    const key = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(c.apiKey), payload: { name: 'calls only', scopes: ['calls:read'] } });
    expect((await t.app.inject({ method: 'GET', url: '/v1/export', headers: t.as(key.json().key) })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/v1/export?types=secrets', headers: t.as(c.apiKey) })).statusCode).toBe(400);
  });
});
