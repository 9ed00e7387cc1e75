import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyError } from '../../src/errors.js';
import { acceptUpload, deleteDocument } from '../../src/knowledge/documents.js';
import { ingestDocument } from '../../src/knowledge/ingest.js';
import { getDocument } from '../../src/knowledge/repo.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { corruptPdf, makeDocx, makePdf } from '../fixtures/knowledge/generate.js';
import { createBot, knowledgeHarness, type KnowledgeHarness } from '../fixtures/knowledge/kb.js';

const fixture = (name: string) => readFile(new URL(`../fixtures/knowledge/${name}`, import.meta.url));

describe('knowledge ingestion', () => {
  let db: TestDatabase;
  let kb: KnowledgeHarness;
  let en: { companyId: string; botId: string };
  let ru: { companyId: string; botId: string };

  beforeAll(async () => {
    db = await createTestDb();
    kb = knowledgeHarness(db.sql, { maxUploadBytes: 64 * 1024 });
    en = await createBot(db.sql, 'en', 'Dental EN');
    ru = await createBot(db.sql, 'ru', 'Салон');
  });
  afterAll(async () => db?.close());

  const chunksOf = (documentId: string) =>
    db.sql<{ text: string; page: number | null; section: string | null; has_vector: boolean }[]>`
      select text, page, section, embedding is not null as has_vector from knowledge_chunks where document_id = ${documentId} order by ordinal`;

  it('indexes a generated PDF page by page, with headings as sections', async () => {
    const pdf = await makePdf([
      { heading: 'Opening hours', paragraphs: ['We are open Monday to Friday from 8 am to 7 pm.', 'On Saturday we open at 9 am and close at 2 pm.'] },
      { heading: 'Prices', paragraphs: ['A teeth cleaning costs 95 dollars and takes 45 minutes.'] },
    ]);
    const { document, created } = await acceptUpload(kb.docDeps, { ...en, filename: 'clinic.pdf', bytes: pdf });
    expect(created).toBe(true);
    expect(document).toMatchObject({ status: 'processing', kind: 'pdf', content_type: 'application/pdf', chunk_count: 0 });

    expect(await ingestDocument(kb.ingestDeps, document.id)).toBe('ready');
    const row = await getDocument(db.sql, en.companyId, en.botId, document.id);
    expect(row).toMatchObject({ status: 'ready', page_count: 2, error_message: null });
    const chunks = await chunksOf(document.id);
    expect(row!.chunk_count).toBe(chunks.length);
    expect(chunks.map((c) => [c.page, c.section])).toEqual([
      [1, 'Opening hours'],
      [2, 'Prices'],
    ]);
    expect(chunks[0]!.text).toContain('On Saturday we open at 9 am');
    expect(chunks.every((c) => c.has_vector)).toBe(true);

    const hits = await kb.retriever.search({ ...en, language: 'en' }, 'how much is a teeth cleaning?');
    expect(hits[0]).toMatchObject({ source: 'clinic.pdf', page: 2, section: 'Prices' });
  });

  it('keeps DOCX headings as sections', async () => {
    const docx = await makeDocx(
      [
        { heading: 'Cancellation policy', paragraphs: ['Cancel at least 24 hours in advance or a 40 dollar fee applies.'] },
        { heading: 'Children', paragraphs: ['Our pediatric dentist sees children from age 3.'] },
      ],
      'Clinic rules',
    );
    const { document } = await acceptUpload(kb.docDeps, { ...en, filename: 'rules.docx', bytes: docx });
    expect(document.kind).toBe('docx');
    expect(await ingestDocument(kb.ingestDeps, document.id)).toBe('ready');
    const chunks = await chunksOf(document.id);
    expect(chunks.map((c) => c.section)).toEqual(['Clinic rules > Cancellation policy', 'Clinic rules > Children']);
    expect(chunks[1]!.text).toBe('Our pediatric dentist sees children from age 3.');
  });

  it('turns CSV rows into "header: value" lines and keeps Cyrillic intact', async () => {
    const { document } = await acceptUpload(kb.docDeps, { ...ru, filename: 'услуги.csv', bytes: await fixture('services-ru.csv') });
    expect(document).toMatchObject({ kind: 'csv', filename: 'услуги.csv' });
    expect(await ingestDocument(kb.ingestDeps, document.id)).toBe('ready');
    const all = (await chunksOf(document.id)).map((c) => c.text).join('\n');
    expect(all).toContain('Услуга: Маникюр\nЦена: 1200 руб\nДлительность: 50 минут');
    expect(all).toContain('мытьё головы включено');

    const hits = await kb.retriever.search({ ...ru, language: 'ru' }, 'сколько стоит маникюр');
    expect(hits[0]!.text).toContain('Маникюр');
    expect(hits[0]!.textRank).not.toBeNull(); // found by Russian full-text search too ("маникюр" stem)
  });

  it('ends a corrupt PDF in error with a readable message and no chunks', async () => {
    const { document } = await acceptUpload(kb.docDeps, { ...en, filename: 'broken.pdf', bytes: corruptPdf() });
    expect(document.status).toBe('processing');
    expect(await ingestDocument(kb.ingestDeps, document.id)).toBe('error');
    const row = await getDocument(db.sql, en.companyId, en.botId, document.id);
    expect(row!.status).toBe('error');
    expect(row!.error_message).toMatch(/^The PDF file could not be read \(it may be corrupt\)/);
    expect(row!.chunk_count).toBe(0);
    expect(await chunksOf(document.id)).toHaveLength(0);
  });

  it('refuses oversize (413) and unsupported or disguised files (415) without storing anything', async () => {
    const before = await db.sql`select count(*)::int as n from knowledge_documents`;
    const big = new Uint8Array(64 * 1024 + 1).fill(97);
    await expect(acceptUpload(kb.docDeps, { ...en, filename: 'big.txt', bytes: big })).rejects.toMatchObject({ status: 413, code: 'PARLEY_ERR_PAYLOAD_TOO_LARGE' });
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    for (const [filename, bytes] of [
      ['photo.png', png],
      ['notes.txt', png], // a PNG named .txt: judged by its bytes
      ['binary.txt', Uint8Array.from([1, 2, 3, 0, 255, 254, 7, 8])],
      ['fake.pdf', new TextEncoder().encode('just text pretending to be a pdf')],
      ['data.json', new TextEncoder().encode('{"a":1}')],
    ] as const) {
      const err = await acceptUpload(kb.docDeps, { ...en, filename, bytes }).catch((e: unknown) => e);
      expect(err, filename).toBeInstanceOf(ParleyError);
      expect(err, filename).toMatchObject({ status: 415, code: 'PARLEY_ERR_UNSUPPORTED_MEDIA_TYPE' });
    }
    const after = await db.sql`select count(*)::int as n from knowledge_documents`;
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it('returns the existing document for the same bytes and does not duplicate chunks', async () => {
    const bytes = await fixture('clinic-en.md');
    const first = await acceptUpload(kb.docDeps, { ...en, filename: 'clinic-en.md', bytes });
    await ingestDocument(kb.ingestDeps, first.document.id);
    const n = (await chunksOf(first.document.id)).length;
    const again = await acceptUpload(kb.docDeps, { ...en, filename: 'copy.md', bytes });
    expect(again.created).toBe(false);
    expect(again.document.id).toBe(first.document.id);
    expect(again.document.status).toBe('ready');
    const total = await db.sql`select count(*)::int as n from knowledge_chunks where bot_id = ${en.botId} and text like '%Harbour Street%'`;
    expect(total[0]!.n).toBe(1);
    expect((await chunksOf(first.document.id)).length).toBe(n);
    // A second run of the job (a retried or duplicated job) changes nothing either.
    expect(await ingestDocument(kb.ingestDeps, first.document.id)).toBe('skipped');
    expect((await chunksOf(first.document.id)).length).toBe(n);
  });

  it('deletes a document with its chunks; retrieval stops returning them', async () => {
    const bytes = new TextEncoder().encode('Loyalty programme\n\nEvery tenth visit is free for members of the loyalty programme.');
    const { document } = await acceptUpload(kb.docDeps, { ...en, filename: 'loyalty.txt', bytes });
    await ingestDocument(kb.ingestDeps, document.id);
    const scope = { ...en, language: 'en' as const };
    expect((await kb.retriever.search(scope, 'loyalty programme free visit'))[0]?.source).toBe('loyalty.txt');
    await deleteDocument(kb.docDeps, en.companyId, en.botId, document.id);
    expect(await getDocument(db.sql, en.companyId, en.botId, document.id)).toBeUndefined();
    expect(await chunksOf(document.id)).toHaveLength(0);
    expect((await kb.retriever.search(scope, 'loyalty programme free visit')).map((h) => h.source)).not.toContain('loyalty.txt');
    await expect(deleteDocument(kb.docDeps, en.companyId, en.botId, document.id)).rejects.toMatchObject({ status: 404 });
  });
});
