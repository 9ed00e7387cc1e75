/**
 * Per-tenant knowledge quotas (quotas.ts): documents and stored bytes per company, chunks per bot. One company's
 * uploads once grew a single bot to 152,850 chunks in seconds, and the embedded vector store then held a 500 MB
 * matrix and scored it on the event loop every tenant's calls share. An upload past a quota is 409 naming the
 * limit and the current use; two uploads at once cannot both take the last room; a document whose chunks would
 * take its bot past KNOWLEDGE_MAX_CHUNKS_PER_BOT ends in `error` with nothing of it stored; bytes the bot already
 * has add nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BotConfig } from '../../src/bots/config-schema.js';
import { insertBot } from '../../src/db/bots.js';
import { acceptUpload, type DocumentServiceDeps } from '../../src/knowledge/documents.js';
import { failDocument, ingestDocument } from '../../src/knowledge/ingest.js';
import { DEFAULT_KNOWLEDGE_QUOTAS, type KnowledgeQuotas } from '../../src/knowledge/quotas.js';
import { getDocument } from '../../src/knowledge/repo.js';
import { createTestDb, usingRealPostgres, type TestDatabase } from '../helpers/db.js';
import { createBot, knowledgeHarness, waitFor, type KnowledgeHarness } from '../fixtures/knowledge/kb.js';

const enc = (s: string) => new TextEncoder().encode(s);
/** A text of `paragraphs` paragraphs, different for each `tag`, that cuts into several chunks. */
const text = (tag: string, paragraphs = 12) =>
  enc(Array.from({ length: paragraphs }, (_, i) => `${tag} rule ${i}: ${'visits and fees and opening hours differ. '.repeat(6)}`).join('\n\n'));

describe('knowledge quotas per tenant', () => {
  let db: TestDatabase;
  let kb: KnowledgeHarness;

  beforeAll(async () => {
    db = await createTestDb();
    kb = knowledgeHarness(db.sql);
  });
  afterAll(async () => db?.close());

  const withQuotas = (q: Partial<KnowledgeQuotas>): DocumentServiceDeps => ({ ...kb.docDeps, quotas: { ...DEFAULT_KNOWLEDGE_QUOTAS, ...q } });
  const secondBot = async (companyId: string) =>
    (await insertBot(db.sql, { companyId, name: 'Second desk', phoneNumber: null, language: 'en', config: { greeting: 'Hi', systemPrompt: 'Help.' } as unknown as BotConfig })).id;
  const chunksOf = async (documentId: string) =>
    (await db.sql<{ n: number }[]>`select count(*)::int as n from knowledge_chunks where document_id = ${documentId}`)[0]!.n;
  const ready = async (deps: DocumentServiceDeps, bot: { companyId: string; botId: string }, filename: string, bytes: Uint8Array) => {
    const { document } = await acceptUpload(deps, { ...bot, filename, bytes });
    expect(await ingestDocument(kb.ingestDeps, document.id)).toBe('ready');
    return (await getDocument(db.sql, bot.companyId, bot.botId, document.id))!;
  };

  it('refuses a document past KNOWLEDGE_MAX_DOCUMENTS_PER_COMPANY (all bots together) with 409 naming the limit and the use', async () => {
    const bot = await createBot(db.sql, 'en', 'Docs cap');
    const other = { companyId: bot.companyId, botId: await secondBot(bot.companyId) };
    const deps = withQuotas({ maxDocumentsPerCompany: 2 });
    await acceptUpload(deps, { ...bot, filename: 'a.txt', bytes: enc('Opening hours: nine to five.') });
    await acceptUpload(deps, { ...other, filename: 'b.txt', bytes: enc('Parking is behind the building.') });
    const refused = acceptUpload(deps, { ...bot, filename: 'c.txt', bytes: enc('Prices start at thirty dollars.') });
    await expect(refused).rejects.toMatchObject({
      status: 409,
      message: 'This company has 2 knowledge documents, the most this server allows (KNOWLEDGE_MAX_DOCUMENTS_PER_COMPANY); delete one first',
      details: { limit: 'KNOWLEDGE_MAX_DOCUMENTS_PER_COMPANY', max: 2, used: 2 },
    });
    // Another company is not affected.
    const elsewhere = await createBot(db.sql, 'en', 'Other tenant');
    expect((await acceptUpload(deps, { ...elsewhere, filename: 'c.txt', bytes: enc('Prices start at thirty dollars.') })).created).toBe(true);
  });

  it('refuses an upload that would take the company past KNOWLEDGE_MAX_BYTES_PER_COMPANY', async () => {
    const bot = await createBot(db.sql, 'en', 'Bytes cap');
    const deps = withQuotas({ maxBytesPerCompany: 2048 });
    await acceptUpload(deps, { ...bot, filename: 'a.txt', bytes: enc('a'.repeat(1500)) });
    await expect(acceptUpload(deps, { ...bot, filename: 'b.txt', bytes: enc('b'.repeat(600)) })).rejects.toMatchObject({
      status: 409,
      message: "This company's knowledge documents take 1.5 KiB; this file's 600 bytes would pass the 2 KiB limit (KNOWLEDGE_MAX_BYTES_PER_COMPANY); delete documents first",
      details: { limit: 'KNOWLEDGE_MAX_BYTES_PER_COMPANY', max: 2048, used: 1500 },
    });
    // What still fits is accepted.
    expect((await acceptUpload(deps, { ...bot, filename: 'c.txt', bytes: enc('c'.repeat(548)) })).created).toBe(true);
  });

  it('refuses an upload to a bot whose ready documents already have KNOWLEDGE_MAX_CHUNKS_PER_BOT chunks', async () => {
    const bot = await createBot(db.sql, 'en', 'Chunk cap at upload');
    const first = await ready(kb.docDeps, bot, 'first.txt', text('first'));
    expect(first.chunk_count).toBeGreaterThan(1);
    const deps = withQuotas({ maxChunksPerBot: first.chunk_count });
    await expect(acceptUpload(deps, { ...bot, filename: 'more.txt', bytes: text('more') })).rejects.toMatchObject({
      status: 409,
      message: `This bot's documents have ${first.chunk_count} chunks, the most this server allows (KNOWLEDGE_MAX_CHUNKS_PER_BOT); delete documents first`,
      details: { limit: 'KNOWLEDGE_MAX_CHUNKS_PER_BOT', max: first.chunk_count, used: first.chunk_count },
    });
    // The company's other bot has room of its own.
    const other = { companyId: bot.companyId, botId: await secondBot(bot.companyId) };
    expect((await acceptUpload(deps, { ...other, filename: 'more.txt', bytes: text('more') })).created).toBe(true);
  });

  /** Runs `work` while document inserts wait, until `waiting` sessions of this database wait for a lock. */
  const withInsertsHeld = async <T>(waiting: number, work: () => Promise<T>): Promise<T> => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = db.sql.begin(async (tx) => {
      await tx`lock table knowledge_documents in share row exclusive mode`;
      locked();
      await released;
    });
    await isLocked;
    const result = work();
    await waitFor(async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
      return row!.n >= waiting;
    }, 10);
    release();
    await holder;
    return result;
  };

  it('lets exactly one of several uploads racing for the last document slot through', async () => {
    const bot = await createBot(db.sql, 'en', 'Race');
    const other = { companyId: bot.companyId, botId: await secondBot(bot.companyId) };
    const deps = withQuotas({ maxDocumentsPerCompany: 3 });
    await acceptUpload(deps, { ...bot, filename: 'a.txt', bytes: enc('First document.') });
    await acceptUpload(deps, { ...bot, filename: 'b.txt', bytes: enc('Second document.') });
    const race = () => Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => acceptUpload(deps, { ...(i % 2 ? bot : other), filename: `${i}.txt`, bytes: enc(`Third document, take ${i}.`) })),
    );
    // On PostgreSQL, each upload with a connection of its own, inserts are held back until every upload has
    // counted (or waits for the one that holds the company's row): without the lock all would count 2 and insert.
    const results = usingRealPostgres() ? await withInsertsHeld(6, race) : await race();
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(5);
    for (const r of rejected) expect(r.reason).toMatchObject({ status: 409, details: { limit: 'KNOWLEDGE_MAX_DOCUMENTS_PER_COMPANY', used: 3 } });
    const [count] = await db.sql<{ n: number }[]>`select count(*)::int as n from knowledge_documents where company_id = ${bot.companyId}`;
    expect(count!.n).toBe(3);
  });

  it('counts an upload net of what the bot already has: the same bytes again, or a failed document retried, pass at the limits', async () => {
    const bot = await createBot(db.sql, 'en', 'Net');
    const deps = withQuotas({ maxDocumentsPerCompany: 2, maxBytesPerCompany: 4096 });
    const hours = enc('Opening hours: nine to five. '.repeat(60)); // 1,740 bytes
    const prices = enc('Prices start at thirty dollars. '.repeat(70)); // 2,240 bytes
    const a = await acceptUpload(deps, { ...bot, filename: 'hours.txt', bytes: hours });
    const b = await acceptUpload(deps, { ...bot, filename: 'prices.txt', bytes: prices });
    // Both limits are reached: a new document is refused, the same bytes again are the existing document.
    await expect(acceptUpload(deps, { ...bot, filename: 'new.txt', bytes: enc('x') })).rejects.toMatchObject({ status: 409 });
    expect(await acceptUpload(deps, { ...bot, filename: 'hours-again.txt', bytes: hours })).toMatchObject({ created: false, document: { id: a.document.id } });
    // A failed document retried by uploading it again adds nothing either.
    await failDocument(kb.ingestDeps, b.document, 'Simulated failure');
    const retried = await acceptUpload(deps, { ...bot, filename: 'prices.txt', bytes: prices });
    expect(retried).toMatchObject({ created: false, document: { id: b.document.id, status: 'processing' } });
  });

  it('ends a document whose chunks would take its bot past KNOWLEDGE_MAX_CHUNKS_PER_BOT in error, storing none of them', async () => {
    const bot = await createBot(db.sql, 'en', 'Chunk cap at ingest');
    const first = await ready(kb.docDeps, bot, 'first.txt', text('first'));
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'second.txt', bytes: text('second') });
    const cap = first.chunk_count * 2 - 1; // `second` cuts into as many chunks as `first`
    expect(await ingestDocument({ ...kb.ingestDeps, maxChunksPerBot: cap }, document.id)).toBe('error');
    const failed = (await getDocument(db.sql, bot.companyId, bot.botId, document.id))!;
    expect(failed).toMatchObject({ status: 'error', chunk_count: 0 });
    expect(failed.error_message).toBe(
      `The document cuts into ${first.chunk_count} chunks and the bot's other documents have ${first.chunk_count}: more than the ${cap} a bot ` +
        'may have (limit KNOWLEDGE_MAX_CHUNKS_PER_BOT); delete documents or split the knowledge between bots',
    );
    expect(await chunksOf(document.id)).toBe(0);

    // One chunk more of room and the same document fits (it is retried by uploading it again).
    await acceptUpload(kb.docDeps, { ...bot, filename: 'second.txt', bytes: text('second') });
    expect(await ingestDocument({ ...kb.ingestDeps, maxChunksPerBot: cap + 1 }, document.id)).toBe('ready');
  });

  it('re-checks the bot chunk cap in the transaction that makes a document ready: another one may have become ready meanwhile', async () => {
    const bot = await createBot(db.sql, 'en', 'Chunk cap race');
    const n = (await ready(kb.docDeps, await createBot(db.sql, 'en', 'Reference'), 'ref.txt', text('ref'))).chunk_count;
    const one = await acceptUpload(kb.docDeps, { ...bot, filename: 'one.txt', bytes: text('one') });
    const two = await acceptUpload(kb.docDeps, { ...bot, filename: 'two.txt', bytes: text('two') });
    // Each fits alone. `two` is past its first check (it renews its lease once it is embedded) when `one` is ingested
    // and made ready; then `two` is written, and the transaction that would make it ready finds the bot full.
    const deps = { ...kb.ingestDeps, maxChunksPerBot: 2 * n - 1 };
    let oneOutcome: string | undefined;
    const renewLease = async () => {
      oneOutcome ??= await ingestDocument(deps, one.document.id);
      return true;
    };
    expect(await ingestDocument(deps, two.document.id, { renewLease })).toBe('error');
    expect(oneOutcome).toBe('ready');
    const failed = (await getDocument(db.sql, bot.companyId, bot.botId, two.document.id))!;
    expect(failed).toMatchObject({ status: 'error', chunk_count: 0 });
    expect(failed.error_message).toMatch(/limit KNOWLEDGE_MAX_CHUNKS_PER_BOT/);
    expect(await chunksOf(two.document.id)).toBe(0);
    const [total] = await db.sql<{ n: number }[]>`select count(*)::int as n from knowledge_chunks where bot_id = ${bot.botId}`;
    expect(total!.n).toBe(n);
  });
});
