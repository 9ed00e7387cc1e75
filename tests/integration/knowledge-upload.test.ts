/**
 * A multipart upload carries exactly one file (a second one is refused, not silently
 * dropped), a body cut short is the client's error (400, not 500), and UTF-16 text with a BOM is text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knowledgeRoutes } from '../../src/api/routes/knowledge.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';
import { knowledgeHarness } from '../fixtures/knowledge/kb.js';

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
  let who: { apiKey: string; botId: string };
  const post = (payload: Buffer) =>
    t.app.inject({ method: 'POST', url: `/v1/bots/${who.botId}/knowledge`, headers: { ...t.as(who.apiKey), ...headers }, payload });
  const count = async () => (await t.db.sql<{ n: number }[]>`select count(*)::int as n from knowledge_documents`)[0]!.n;

  beforeAll(async () => {
    t = await createTestApp({
      env: { UPLOAD_MAX_BYTES: '65536' },
      tenantRoutes: (db, config) => {
        const kb = knowledgeHarness(db.sql, { maxUploadBytes: config.UPLOAD_MAX_BYTES });
        return [knowledgeRoutes({ sql: db.sql, store: kb.store, retriever: kb.retriever, maxUploadBytes: config.UPLOAD_MAX_BYTES })];
      },
    });
    const { apiKey } = await t.createCompany('Uploader');
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

  it('still takes one ordinary file', async () => {
    const res = await post(Buffer.concat([filePart('one.md', text('# One\n\nJust one file.')), end]));
    expect(res.statusCode).toBe(202);
  });
});
