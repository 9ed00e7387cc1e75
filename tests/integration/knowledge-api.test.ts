import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knowledgeRoutes } from '../../src/api/routes/knowledge.js';
import { JobWorker } from '../../src/jobs/queue.js';
import { ingestJobKind, INGEST_JOB_KIND } from '../../src/knowledge/ingest.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';
import { makePdf } from '../fixtures/knowledge/generate.js';
import { knowledgeHarness, waitFor } from '../fixtures/knowledge/kb.js';

const MAX = 4096;

function multipart(filename: string, bytes: Uint8Array, contentType = 'application/octet-stream') {
  const boundary = `----parley${Math.random().toString(16).slice(2)}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${contentType}\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { payload: Buffer.concat([head, Buffer.from(bytes), tail]), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

describe('knowledge API', () => {
  let t: TestApp;
  let worker: JobWorker;
  let a: { apiKey: string; botId: string };
  let b: { apiKey: string; botId: string };

  const upload = (who: { apiKey: string }, botId: string, filename: string, bytes: Uint8Array) => {
    const body = multipart(filename, bytes);
    return t.app.inject({ method: 'POST', url: `/v1/bots/${botId}/knowledge`, headers: { ...t.as(who.apiKey), ...body.headers }, payload: body.payload });
  };
  const get = (who: { apiKey: string }, url: string) => t.app.inject({ method: 'GET', url, headers: t.as(who.apiKey) });

  beforeAll(async () => {
    t = await createTestApp({
      env: { UPLOAD_MAX_BYTES: String(MAX) },
      tenantRoutes: (db, config) => {
        const kb = knowledgeHarness(db.sql, { maxUploadBytes: config.UPLOAD_MAX_BYTES });
        worker = new JobWorker(db.sql, {
          kinds: { [INGEST_JOB_KIND]: ingestJobKind({ ...kb.ingestDeps, concurrency: config.INGEST_CONCURRENCY }) },
          pollMs: 20,
          log: { warn: () => {}, error: () => {} },
        });
        return [knowledgeRoutes({ sql: db.sql, store: kb.store, retriever: kb.retriever, maxUploadBytes: config.UPLOAD_MAX_BYTES, onEnqueued: () => worker.kick() })];
      },
    });
    worker.start();
    for (const who of ['A', 'B'] as const) {
      const { apiKey } = await t.createCompany(`Company ${who}`);
      const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(apiKey), payload: botBody() });
      expect(res.statusCode).toBe(201);
      const bot = { apiKey, botId: (res.json() as { id: string }).id };
      if (who === 'A') a = bot;
      else b = bot;
    }
  });
  afterAll(async () => {
    await worker?.stop(1000);
    await t?.close();
  });

  let docId: string;

  it('accepts a PDF with 202 and ingests it in the background', async () => {
    const pdf = await makePdf([{ heading: 'Parking', paragraphs: ['Free parking for patients is behind the building, enter from Mill Lane.'] }]);
    expect(pdf.length).toBeLessThan(MAX);
    const res = await upload(a, a.botId, 'info.pdf', pdf);
    expect(res.statusCode).toBe(202);
    const doc = res.json() as { id: string; status: string; filename: string; bot_id: string };
    expect(doc).toMatchObject({ status: 'processing', filename: 'info.pdf', bot_id: a.botId, content_type: 'application/pdf' });
    docId = doc.id;

    const ready = await waitFor(async () => {
      const r = (await get(a, `/v1/bots/${a.botId}/knowledge/${docId}`)).json() as { status: string; chunk_count: number };
      return r.status !== 'processing' && r;
    });
    expect(ready).toMatchObject({ status: 'ready', chunk_count: 1, page_count: 1, error_message: null });

    const list = (await get(a, `/v1/bots/${a.botId}/knowledge`)).json() as { data: { id: string; status: string }[] };
    expect(list.data.map((d) => [d.id, d.status])).toEqual([[docId, 'ready']]);
  });

  it('answers 200 with the existing document when the same bytes are uploaded again', async () => {
    const pdf = await makePdf([{ heading: 'Parking', paragraphs: ['Free parking for patients is behind the building, enter from Mill Lane.'] }]);
    const res = await upload(a, a.botId, 'again.pdf', pdf);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: docId, status: 'ready' });
  });

  it('searches like a call would, with scores and sources', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/bots/${a.botId}/knowledge/search`, headers: t.as(a.apiKey), payload: { query: 'where can I park?' } });
    expect(res.statusCode).toBe(200);
    const { results } = res.json() as { results: { source: string; page: number; section: string; score: number; text: string }[] };
    expect(results[0]).toMatchObject({ source: 'info.pdf', page: 1, section: 'Parking' });
    expect(results[0]!.score).toBeGreaterThan(0);
    expect(results[0]!.text).toContain('Mill Lane');
  });

  it('rejects oversize uploads with 413 and unsupported ones with 415', async () => {
    const big = await upload(a, a.botId, 'big.txt', new Uint8Array(MAX + 100).fill(97));
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ error: { code: 'PARLEY_ERR_PAYLOAD_TOO_LARGE' } });

    const gif = await upload(a, a.botId, 'notes.txt', new TextEncoder().encode('GIF89a\x01\x00\x01\x00\x00\x00\x00;'));
    expect(gif.statusCode).toBe(415);
    expect(gif.json()).toMatchObject({ error: { code: 'PARLEY_ERR_UNSUPPORTED_MEDIA_TYPE' } });

    const json = await t.app.inject({ method: 'POST', url: `/v1/bots/${a.botId}/knowledge`, headers: t.as(a.apiKey), payload: { file: 'x' } });
    expect(json.statusCode).toBe(415);

    const list = (await get(a, `/v1/bots/${a.botId}/knowledge`)).json() as { data: unknown[] };
    expect(list.data).toHaveLength(1);
  });

  it("keeps companies apart: B cannot list, read, search, upload to or delete A's knowledge", async () => {
    expect((await get(b, `/v1/bots/${a.botId}/knowledge`)).statusCode).toBe(404);
    expect((await get(b, `/v1/bots/${a.botId}/knowledge/${docId}`)).statusCode).toBe(404);
    // B's own bot with A's document id: still not found.
    expect((await get(b, `/v1/bots/${b.botId}/knowledge/${docId}`)).statusCode).toBe(404);
    const search = await t.app.inject({ method: 'POST', url: `/v1/bots/${a.botId}/knowledge/search`, headers: t.as(b.apiKey), payload: { query: 'parking' } });
    expect(search.statusCode).toBe(404);
    expect(search.json()).toMatchObject({ error: { code: 'PARLEY_ERR_NOT_FOUND' } });
    const own = await t.app.inject({ method: 'POST', url: `/v1/bots/${b.botId}/knowledge/search`, headers: t.as(b.apiKey), payload: { query: 'parking Mill Lane' } });
    expect(own.json()).toEqual({ results: [] });
    expect((await upload(b, a.botId, 'x.txt', new TextEncoder().encode('hello'))).statusCode).toBe(404);
    for (const url of [`/v1/bots/${a.botId}/knowledge/${docId}`, `/v1/bots/${b.botId}/knowledge/${docId}`]) {
      const del = await t.app.inject({ method: 'DELETE', url, headers: t.as(b.apiKey) });
      expect(del.statusCode).toBe(404);
    }
    expect((await get(a, `/v1/bots/${a.botId}/knowledge/${docId}`)).json()).toMatchObject({ status: 'ready' });
  });

  it('deletes a document; its chunks are no longer found', async () => {
    const del = await t.app.inject({ method: 'DELETE', url: `/v1/bots/${a.botId}/knowledge/${docId}`, headers: t.as(a.apiKey) });
    expect(del.statusCode).toBe(204);
    expect((await get(a, `/v1/bots/${a.botId}/knowledge/${docId}`)).statusCode).toBe(404);
    const res = await t.app.inject({ method: 'POST', url: `/v1/bots/${a.botId}/knowledge/search`, headers: t.as(a.apiKey), payload: { query: 'where can I park?' } });
    expect(res.json()).toEqual({ results: [] });
    const left = await t.db.sql`select count(*)::int as n from knowledge_chunks where document_id = ${docId}`;
    expect(left[0]!.n).toBe(0);
  });

  it('lists a bot\'s documents page by page, newest first, each once, like every other list', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(b.apiKey), payload: botBody() });
    const botId = (res.json() as { id: string }).id;
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      const up = await upload(b, botId, `note-${i}.txt`, new TextEncoder().encode(`Note number ${i} about parking.`));
      made.push((up.json() as { id: string }).id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = (await get(b, `/v1/bots/${botId}/knowledge?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json() as { data: { id: string }[]; next_cursor: string | null };
      seen.push(...page.data.map((d) => d.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...made].reverse());
    expect((await get(b, `/v1/bots/${botId}/knowledge?cursor=%%%`)).statusCode).toBe(400);
  });

  it('validates the search body', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/bots/${a.botId}/knowledge/search`, headers: t.as(a.apiKey), payload: { query: '' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'PARLEY_ERR_VALIDATION' } });
  });
});
