/**
 * A multipart upload carries exactly one file (a second one is refused, not silently
 * dropped), a body cut short is the client's error (400, not 500), and UTF-16 text with a BOM is text.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knowledgeRoutes } from '../../src/api/routes/knowledge.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';
import { knowledgeHarness } from '../fixtures/knowledge/kb.js';
import { UploadSlots } from '../../src/knowledge/upload-slots.js';
import { until } from '../helpers/until.js';

const BOUNDARY = '----parleyUploadTest';
const headers = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };
const filePart = (filename: string, bytes: Uint8Array, field = 'file') =>
  Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    Buffer.from(bytes),
    Buffer.from('\r\n'),
  ]);
const end = Buffer.from(`--${BOUNDARY}--\r\n`);
const text = (s: string) => new TextEncoder().encode(s);

describe('knowledge upload body', () => {
  let t: TestApp;
  const uploadSlots = new UploadSlots(1);
  let who: { apiKey: string; botId: string };
  let companyId: string;
  const post = (payload: Buffer | Readable) =>
    t.app.inject({ method: 'POST', url: `/v1/bots/${who.botId}/knowledge`, headers: { ...t.as(who.apiKey), ...headers }, payload });
  const count = async () => (await t.db.sql<{ n: number }[]>`select count(*)::int as n from knowledge_documents`)[0]!.n;

  beforeAll(async () => {
    t = await createTestApp({
      env: { UPLOAD_MAX_BYTES: '65536' },
      tenantRoutes: (db, config) => {
        const kb = knowledgeHarness(db.sql, { maxUploadBytes: config.UPLOAD_MAX_BYTES });
        return [knowledgeRoutes({ sql: db.sql, store: kb.store, retriever: kb.retriever, maxUploadBytes: config.UPLOAD_MAX_BYTES, uploadSlots })];
      },
    });
    const { apiKey, companyId: id } = await t.createCompany('Uploader');
    companyId = id;
    const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(apiKey), payload: botBody() });
    who = { apiKey, botId: (res.json() as { id: string }).id };
  });
  afterAll(async () => t?.close());

  it('refuses a second file with 400 and stores nothing', async () => {
    const res = await post(Buffer.concat([filePart('a.txt', text('First file.')), filePart('b.txt', text('Second file.')), end]));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'PARLEY_ERR_VALIDATION', message: 'Send one file per upload; this request carries more than one' } });
    // In another field name too.
    const other = await post(Buffer.concat([filePart('a.txt', text('First file.')), filePart('b.txt', text('Second file.'), 'extra'), end]));
    expect(other.statusCode).toBe(400);
    expect(await count()).toBe(0);
  });

  it('answers 400 to a truncated multipart body', async () => {
    const whole = Buffer.concat([filePart('cut.txt', text('A body that never reaches its closing boundary. '.repeat(50))), end]);
    for (const cut of [whole.length - 10, Math.floor(whole.length / 2), 60]) {
      const res = await post(whole.subarray(0, cut));
      expect(res.statusCode, `cut at ${cut}`).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'PARLEY_ERR_VALIDATION' } });
    }
    expect(await count()).toBe(0);
  });

  it('accepts UTF-16 LE text with a BOM as text (it used to be refused as audio/mpeg)', async () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Opening hours\n\nWe open at nine.', 'utf16le')]);
    const res = await post(Buffer.concat([filePart('hours.txt', bytes), end]));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ status: 'processing', content_type: 'text/plain', filename: 'hours.txt' });
  });

  it('refuses text in an older encoding (an Excel CSV in Windows-1251, Latin-1) with 415 saying to save it as UTF-8; binary without that advice', async () => {
    const cp1251 = Buffer.from([0xd3, 0xf1, 0xeb, 0xf3, 0xe3, 0xe0, 0x3b, 0xd6, 0xe5, 0xed, 0xe0, 0x0a, 0xd1, 0xf2, 0xf0, 0xe8, 0xe6, 0xea, 0xe0, 0x3b, 0x39, 0x30, 0x30, 0x0a]); // Услуга;Цена / Стрижка;900
    const latin1 = Buffer.from('Caf\xe9 cr\xe8me: 5 \x80\n', 'latin1');
    const before = await count();
    for (const [name, bytes] of [['prices.csv', cp1251], ['menu.txt', latin1]] as const) {
      const res = await post(Buffer.concat([filePart(name, bytes), end]));
      expect(res.statusCode, name).toBe(415);
      expect(res.json().error.message, name).toMatch(/older encoding \(Windows-1251, Latin-1.*save it as UTF-8 and upload it again$/);
    }
    const binary = await post(Buffer.concat([filePart('data.txt', Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe, 0x00, 0x13, 0x88])), end]));
    expect(binary.statusCode).toBe(415);
    expect(binary.json().error.message).toBe('The file is neither PDF nor DOCX and is not UTF-8 (or UTF-16 with a byte-order mark) text');
    expect(await count()).toBe(before);
  });

  it("refuses an upload beyond the company's uploads in progress with 429 before reading it; other companies are not held", async () => {
    // A body that arrives slowly: its head now, the rest when the test says. Each upload's body
    // is held in memory while it arrives, so one API key opening hundreds of them could hold gigabytes.
    const slow = new Readable({ read: () => {} });
    slow.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="slow.txt"\r\nContent-Type: text/plain\r\n\r\nSlow `));
    const first = post(slow);
    await until(() => uploadSlots.held(companyId) === 1);
    const before = await count();
    const refused = await post(Buffer.concat([filePart('second.txt', text('A second upload at once.')), end]));
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ error: { code: 'PARLEY_ERR_RATE_LIMITED', message: expect.stringContaining('the limit is 1') } });
    expect(await count()).toBe(before);

    const other = await t.createCompany('Other uploader');
    const bot = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(other.apiKey), payload: botBody() });
    const theirs = await t.app.inject({
      method: 'POST', url: `/v1/bots/${(bot.json() as { id: string }).id}/knowledge`, headers: { ...t.as(other.apiKey), ...headers },
      payload: Buffer.concat([filePart('theirs.txt', text('Another company uploads meanwhile.')), end]),
    });
    expect(theirs.statusCode).toBe(202);

    slow.push(Buffer.concat([text('upload, finished.'), Buffer.from('\r\n'), end]));
    slow.push(null);
    expect((await first).statusCode).toBe(202);
    // The slot is given back, whatever the answer.
    expect((await post(Buffer.concat([filePart('second.txt', text('A second upload, after.')), end]))).statusCode).toBe(202);
    expect((await post(Buffer.concat([filePart('a.txt', text('One.')), filePart('b.txt', text('Two.')), end]))).statusCode).toBe(400);
    expect((await post(Buffer.concat([filePart('third.txt', text('A third upload, after a refused one.')), end]))).statusCode).toBe(202);
  });

  it('still takes one ordinary file', async () => {
    const res = await post(Buffer.concat([filePart('one.md', text('# One\n\nJust one file.')), end]));
    expect(res.statusCode).toBe(202);
  });
});
