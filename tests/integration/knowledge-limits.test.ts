/**
 * a document may not expand without bound, and a runaway one may not take the process down. Zip
 * bombs and lying archives are built in memory (knowledge-zip.ts); worker processes that run out of memory, crash
 * or hang end their document in `error` with the reason, and the job is not retried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobWorker } from '../../src/jobs/queue.js';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { IngestPool } from '../../src/knowledge/ingest-pool.js';
import { ingestDocument, ingestJobKind, INGEST_JOB_KIND, type IngestDeps } from '../../src/knowledge/ingest.js';
import { DEFAULT_INGEST_LIMITS, MAX_BLOCKS } from '../../src/knowledge/limits.js';
import { getDocument } from '../../src/knowledge/repo.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { makePdf } from '../fixtures/knowledge/generate.js';
import { createBot, knowledgeHarness, waitFor, type KnowledgeHarness } from '../fixtures/knowledge/kb.js';
import { deflated, docxWith, DOC_HEAD, DOC_TAIL, paragraphXml, repeatedParagraphDocx, stored } from '../fixtures/knowledge/knowledge-zip.js';

const MiB = 1024 * 1024;
const enc = (s: string) => new TextEncoder().encode(s);

/** A worker source (CommonJS, run in a worker process) that says it is ready and then misbehaves on the first task. */
const misbehaving = (onTask: string) =>
  `process.on('message', () => { ${onTask} });
   process.send({ type: 'ready' });`;

describe('ingestion limits and worker isolation', () => {
  let db: TestDatabase;
  let kb: KnowledgeHarness;
  let bot: { companyId: string; botId: string };
  const pools: IngestPool[] = [];
  const pool = (o: ConstructorParameters<typeof IngestPool>[0]) => {
    const p = new IngestPool(o);
    pools.push(p);
    return p;
  };
  let n = 0;
  const upload = async (filename: string, bytes: Uint8Array) =>
    (await acceptUpload(kb.docDeps, { ...bot, filename: `${n++}-${filename}`, bytes })).document;
  const row = async (id: string) => (await getDocument(db.sql, bot.companyId, bot.botId, id))!;
  const chunkCount = async (id: string) =>
    (await db.sql<{ n: number }[]>`select count(*)::int as n from knowledge_chunks where document_id = ${id}`)[0]!.n;

  beforeAll(async () => {
    db = await createTestDb();
    kb = knowledgeHarness(db.sql);
    bot = await createBot(db.sql);
  });
  afterAll(async () => {
    for (const p of pools) await p.close();
    await db?.close();
  });

  it('fails a DOCX zip bomb (100 MiB of paragraphs in a ~100 KB file) with a clear reason, without blowing memory', async () => {
    const bomb = await repeatedParagraphDocx(Math.ceil((100 * MiB) / paragraphXml('All work and no play makes Jack a dull boy.').length));
    expect(bomb.length).toBeLessThan(400 * 1024);
    const doc = await upload('bomb.docx', bomb);
    expect(doc.kind).toBe('docx');
    const rssBefore = process.memoryUsage().rss;
    expect(await ingestDocument(kb.ingestDeps, doc.id)).toBe('error');
    const after = await row(doc.id);
    expect(after.status).toBe('error');
    expect(after.error_message).toMatch(/XML expands to more than 8 MiB \(limit INGEST_MAX_XML_BYTES\)/);
    expect(await chunkCount(doc.id)).toBe(0);
    // The bomb was refused from its headers: nothing near its 100 MiB (let alone the GBs a parser needs) was allocated here.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * MiB);
  });

  it('catches an entry that inflates past the size its header declares, and caps all parts together', async () => {
    const xml = DOC_HEAD + paragraphXml('x'.repeat(50)).repeat(200_000) + DOC_TAIL; // ~12 MB
    const liar = { ...deflated('word/document.xml', xml), declaredSize: 4096 };
    const doc = await upload('liar.docx', docxWith(liar));
    expect(await ingestDocument(kb.ingestDeps, doc.id)).toBe('error');
    expect((await row(doc.id)).error_message).toMatch(/part "word\/document.xml" is larger than its header declares/);

    // A huge non-XML part (say, "media") counts against INGEST_MAX_EXPANDED_BYTES.
    const media = deflated('word/media/blob.bin', new Uint8Array(2 * MiB));
    const doc2 = await upload('media.docx', docxWith(stored('word/document.xml', DOC_HEAD + paragraphXml('Open daily.') + DOC_TAIL), media));
    const deps: IngestDeps = { ...kb.ingestDeps, limits: { ...DEFAULT_INGEST_LIMITS, maxExpandedBytes: MiB } };
    expect(await ingestDocument(deps, doc2.id)).toBe('error');
    expect((await row(doc2.id)).error_message).toMatch(/expands to more than 1 MiB when decompressed \(limit INGEST_MAX_EXPANDED_BYTES\)/);
  });

  it('fails a text that cuts into more chunks than INGEST_MAX_CHUNKS, and one over INGEST_MAX_CHARS', async () => {
    const body = Array.from({ length: 400 }, (_, i) => `Rule ${i} says something different about visit ${i} and its fee.`).join('\n\n');
    const limits = { ...DEFAULT_INGEST_LIMITS, maxChunks: 10 };
    const doc = await upload('rules.txt', enc(body));
    expect(await ingestDocument({ ...kb.ingestDeps, limits }, doc.id)).toBe('error');
    const failed = await row(doc.id);
    expect(failed).toMatchObject({ status: 'error', chunk_count: 0 });
    expect(failed.error_message).toBe('The document cuts into more than 10 chunks (limit INGEST_MAX_CHUNKS); split it');

    const doc2 = await upload('long.md', enc(body));
    expect(await ingestDocument({ ...kb.ingestDeps, limits: { ...DEFAULT_INGEST_LIMITS, maxChars: 5000 } }, doc2.id)).toBe('error');
    expect((await row(doc2.id)).error_message).toBe('The document has more than 5,000 characters of text (limit INGEST_MAX_CHARS); split it');

    // The same text within the limits is fine.
    const doc3 = await upload('rules-ok.txt', enc(body));
    expect(await ingestDocument(kb.ingestDeps, doc3.id)).toBe('ready');
  });

  it('fails a PDF over INGEST_MAX_PAGES and a CSV over the row limit', async () => {
    const pdf = await makePdf([1, 2, 3].map((i) => ({ heading: `Page ${i}`, paragraphs: [`Text of page ${i}.`] })));
    const doc = await upload('three.pdf', pdf);
    expect(await ingestDocument({ ...kb.ingestDeps, limits: { ...DEFAULT_INGEST_LIMITS, maxPages: 2 } }, doc.id)).toBe('error');
    expect((await row(doc.id)).error_message).toBe('The PDF has 3 pages, more than the 2-page limit (INGEST_MAX_PAGES); split it');

    const csv = `n\n${'1\n'.repeat(MAX_BLOCKS + 5)}`;
    const doc2 = await upload('rows.csv', enc(csv));
    expect(await ingestDocument(kb.ingestDeps, doc2.id)).toBe('error');
    expect((await row(doc2.id)).error_message).toBe('The document has more than 1,000,000 rows; split it');
  });

  it('accepts UTF-16 text with a byte-order mark (LE and BE) and indexes it decoded', async () => {
    const text = 'Часы работы\n\nWe are open from nine to six; по субботам до трёх.';
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const be = Buffer.from(le);
    be.swap16(); // FE FF + big-endian code units
    for (const [name, bytes] of [['le.txt', le], ['be.txt', be]] as const) {
      const doc = await upload(name, bytes);
      expect(doc).toMatchObject({ kind: 'txt', content_type: 'text/plain' });
      expect(await ingestDocument(kb.ingestDeps, doc.id)).toBe('ready');
      const [chunk] = await db.sql<{ text: string; section: string | null }[]>`select text, section from knowledge_chunks where document_id = ${doc.id}`;
      expect(chunk).toMatchObject({ section: 'Часы работы', text: 'We are open from nine to six; по субботам до трёх.' });
    }
    // An odd number of bytes after a UTF-16 BOM is not text.
    await expect(upload('odd.txt', Buffer.concat([le, Buffer.from([0x41])]))).rejects.toMatchObject({ status: 415 });
  });

  it('stores a large text in parts, judges its type from the head, and checks all of it during ingestion', async () => {
    const para = (i: number) => `Paragraph ${i} tells the caller about appointment number ${i} and what it costs.\n\n`;
    let body = '';
    for (let i = 0; body.length < 2.5 * MiB; i++) body += para(i);
    const doc = await upload('big.txt', enc(body));
    const parts = await db.sql<{ part: number; size: number }[]>`
      select part, length(content)::int as size from knowledge_document_blobs where document_id = ${doc.id} order by part`;
    expect(parts.map((p) => p.part)).toEqual([0, 1, 2]);
    expect(parts.reduce((sum, p) => sum + p.size, 0)).toBe(enc(body).length);
    expect(await ingestDocument(kb.ingestDeps, doc.id)).toBe('ready');
    const [last] = await db.sql<{ text: string }[]>`select text from knowledge_chunks where document_id = ${doc.id} order by ordinal desc limit 1`;
    expect(body.trimEnd().endsWith(last!.text.split('\n').at(-1)!)).toBe(true);

    // Valid UTF-8 for its first MiB, binary after: accepted as text at upload, refused by ingestion.
    const tainted = Buffer.concat([enc(body), Buffer.from([0xff, 0x00, 0xfe])]);
    const bad = await upload('tainted.txt', tainted);
    expect(bad.kind).toBe('txt');
    expect(await ingestDocument(kb.ingestDeps, bad.id)).toBe('error');
    expect((await row(bad.id)).error_message).toBe('The file is not valid UTF-8 or UTF-16 text');
    // Text in an older encoding past the first MiB: ingestion says how to fix it.
    const legacy = await upload('legacy.txt', Buffer.concat([enc(body), Buffer.from('Caf\xe9 cr\xe8me.\n', 'latin1')]));
    expect(await ingestDocument(kb.ingestDeps, legacy.id)).toBe('error');
    expect((await row(legacy.id)).error_message).toBe(
      'The file is not valid UTF-8 or UTF-16 text; it looks like text in an older encoding (Windows-1251, Latin-1: Excel saves CSV files so), so save it as UTF-8 and upload it again',
    );
  });

  it('a worker process that runs out of heap fails its document and the process carries on; the pool replaces it', async () => {
    // A legitimate-looking DOCX within the size limits whose parse needs far more heap than 64 MB.
    const heavy = await repeatedParagraphDocx(100_000, 'A short paragraph.');
    const small = pool({ memoryMb: 64 });
    const doc = await upload('heavy.docx', heavy);
    expect(await ingestDocument({ ...kb.ingestDeps, pool: small }, doc.id)).toBe('error');
    expect((await row(doc.id)).error_message).toBe('Indexing stopped: reading the document needed more than 64 MB of memory (limit INGEST_WORKER_MEMORY_MB)');

    const ok = await upload('after-oom.txt', enc('Parking\n\nPark behind the building.'));
    expect(await ingestDocument({ ...kb.ingestDeps, pool: small }, ok.id)).toBe('ready');
    expect(small.started).toBe(2);
  });

  it('a crashing or hanging worker process fails the document through the job worker, which does not retry it', async () => {
    const jobOf = async (id: string) =>
      (await db.sql<{ status: string; attempts: number }[]>`select status, attempts from jobs where dedupe_key = ${`ingest:${id}`}`)[0]!;
    const cases = [
      { pool: pool({ workerSource: misbehaving('process.exit(7);') }), message: 'Indexing stopped: the document parser crashed (exit code 7)' },
      { pool: pool({ workerSource: misbehaving('throw new Error("boom in the parser");') }), message: /^Indexing stopped: the document parser crashed \(.*boom in the parser\)$/ },
      { pool: pool({ workerSource: misbehaving('for (;;) {}'), timeoutMs: 300 }), message: 'Indexing stopped: reading the document took longer than 300 ms (limit INGEST_TIMEOUT_MS)' },
    ];
    for (const c of cases) {
      const doc = await upload('victim.txt', enc(`Prices ${n}\n\nA cleaning costs 95 dollars.`));
      const w = new JobWorker(db.sql, {
        kinds: { [INGEST_JOB_KIND]: ingestJobKind({ ...kb.ingestDeps, pool: c.pool, concurrency: 1 }) },
        pollMs: 20,
        log: { warn: () => {}, error: () => {} },
      });
      w.start();
      try {
        const failed = await waitFor(async () => {
          const d = await row(doc.id);
          return d.status !== 'processing' && d;
        });
        expect(failed.status).toBe('error');
        if (typeof c.message === 'string') expect(failed.error_message).toBe(c.message);
        else expect(failed.error_message).toMatch(c.message);
        expect(await waitFor(async () => (await jobOf(doc.id)).status === 'done' && jobOf(doc.id))).toMatchObject({ status: 'done', attempts: 1 });
      } finally {
        await w.stop(1000);
      }
    }
  });

  it('starts a worker process once and reuses it for every document', async () => {
    const p = pool({ size: 1 });
    for (const i of [1, 2, 3]) {
      const doc = await upload(`reuse-${i}.md`, enc(`# Topic ${i}\n\nDetails about topic ${i}.`));
      expect(await ingestDocument({ ...kb.ingestDeps, pool: p }, doc.id)).toBe('ready');
    }
    expect(p.started).toBe(1);
  });
});
