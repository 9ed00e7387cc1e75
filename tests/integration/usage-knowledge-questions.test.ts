/**
 * The questions looked up in a company's documents are billed like the documents' own embeddings: during a call
 * (each turn's context and the search_knowledge tool) as the call's `embedding_tokens`, and from the REST search as
 * usage outside calls — what a cloud embedder's vendor reported, the local embedder's estimate otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knowledgeRoutes } from '../../src/api/routes/knowledge.js';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { ingestDocument } from '../../src/knowledge/ingest.js';
import { OpenAiEmbedder } from '../../src/providers/embeddings/openai.js';
import { runWebCall } from '../../scripts/call-web.js';
import { FakeOpenAI } from '../fakes/fakeOpenAI.js';
import { callKnowledge, knowledgeHarness, type KnowledgeHarness } from '../fixtures/knowledge/kb.js';
import { startWebCallApp, type WebCallApp } from '../fixtures/web/web-call-harness.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';

const FAQ = Buffer.from('Opening hours\nWe are open Monday to Friday from nine to six, and on Saturday from ten to two.\n');

async function readyDocument(kb: KnowledgeHarness, companyId: string, botId: string): Promise<void> {
  const { document } = await acceptUpload(kb.docDeps, { companyId, botId, filename: 'faq.txt', bytes: FAQ });
  expect(await ingestDocument(kb.ingestDeps, document.id)).toBe('ready');
}

describe('embedding tokens of the questions a call looks up', () => {
  let app: WebCallApp;
  let openai: FakeOpenAI;
  let kb: KnowledgeHarness;

  beforeAll(async () => {
    openai = await FakeOpenAI.start({ apiKey: 'sk-q' });
    app = await startWebCallApp(() => ({
      stt: new ScriptedStt(),
      // First answer: look the question up with the tool; then answer.
      llm: new ScriptedLlm((r, i) => (i === 0
        ? { toolCalls: [{ id: 'k1', name: 'search_knowledge', arguments: { query: 'opening hours on Saturday' } }] }
        : `Answer ${r.messages.length}.`), { firstTokenMs: 5 }),
      tts: new ScriptedTts({ firstAudioMs: 5, chunkMs: 1, bytesPerWord: 640 }),
    }), {
      runner: (db) => {
        kb = knowledgeHarness(db.sql, { embedder: new OpenAiEmbedder({ apiKey: 'sk-q', baseUrl: openai.baseUrl, model: 'text-embedding-3-small' }) });
        return callKnowledge(kb);
      },
    });
  }, 180_000);
  afterAll(async () => {
    await app?.close();
    await openai?.close();
  });

  it("adds the turn's context and the tool's query to the call's usage, as the vendor billed them", async () => {
    const { apiKey, botId, companyId } = await app.newBot();
    await readyDocument(kb, companyId, botId);
    const billedBefore = openai.embeddingTokensReported;
    const embedRequestsBefore = openai.requests.filter((r) => r.path.endsWith('/embeddings')).length;
    const result = await runWebCall({ server: app.url, apiKey, botId, text: ['When are you open on Saturday'], typed: true, realtime: false, print: () => {} });
    const billed = openai.embeddingTokensReported - billedBefore;
    // The turn's context (the caller's words) and the tool's query: two questions embedded.
    const questions = openai.requests.filter((r) => r.path.endsWith('/embeddings')).slice(embedRequestsBefore).map((r) => (r.body as { input: string[] }).input);
    expect(questions).toEqual(expect.arrayContaining([['When are you open on Saturday'], ['opening hours on Saturday']]));
    expect(billed).toBeGreaterThan(0);
    const rows = await app.db.sql<{ provider: string; model: string; quantity: string }[]>`
      select provider, model, quantity::text as quantity from call_usage where call_id = ${result.callId} and kind = 'embedding_tokens'`;
    expect(rows).toEqual([{ provider: 'openai', model: 'text-embedding-3-small', quantity: String(billed) }]);
    const usage = await app.app.inject({ method: 'GET', url: `/v1/usage/calls/${result.callId}`, headers: app.as(apiKey) });
    expect(usage.json().items).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'embedding_tokens', provider: 'openai', quantity: billed, unit: 'tokens' })]));
  });
});

describe('embedding tokens of the REST search', () => {
  let t: TestApp;
  let kb: KnowledgeHarness;

  beforeAll(async () => {
    t = await createTestApp({
      tenantRoutes: (db, config) => {
        kb = knowledgeHarness(db.sql);
        return [knowledgeRoutes({ sql: db.sql, store: kb.store, retriever: kb.retriever, maxUploadBytes: config.UPLOAD_MAX_BYTES })];
      },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it("records each searched question for the searching company, without a document; a bot without documents embeds nothing", async () => {
    const a = await t.createCompany('A');
    const b = await t.createCompany('B');
    const bot = (key: string) => t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(key), payload: { name: 'Desk', phone_number: null, language: 'en', config: { greeting: 'Hi' } } });
    const botA = (await bot(a.apiKey)).json().id as string;
    const botB = (await bot(b.apiKey)).json().id as string;
    await readyDocument(kb, a.companyId, botA);
    const query = 'when are you open on saturday';
    const res = await t.app.inject({ method: 'POST', url: `/v1/bots/${botA}/knowledge/search`, headers: t.as(a.apiKey), payload: { query } });
    expect(res.statusCode).toBe(200);
    expect(res.json().results.length).toBeGreaterThan(0);
    const empty = await t.app.inject({ method: 'POST', url: `/v1/bots/${botB}/knowledge/search`, headers: t.as(b.apiKey), payload: { query } });
    expect(empty.json().results).toEqual([]);
    const rows = await t.db.sql<{ company_id: string; bot_id: string; document_id: string | null; provider: string; quantity: number }[]>`
      select company_id, bot_id, document_id, provider, quantity::int as quantity from ingest_usage where document_id is null order by id`;
    expect(rows).toEqual([{ company_id: a.companyId, bot_id: botA, document_id: null, provider: 'local', quantity: expect.any(Number) }]);
    // The local embedder's estimate: about one token per three characters of the question.
    expect(rows[0]!.quantity).toBeGreaterThanOrEqual(Math.floor(query.length / 4));
  });
});
