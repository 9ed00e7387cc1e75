/**
 * Usage gaps: TTS characters count only what was synthesised (the phrase cache's replays cost nothing), knowledge
 * ingestion records its embedding tokens by provider and model (local = the hashing embedder, price 0; counted
 * once however often the job runs), GET /v1/usage reports them, and the export carries the usage records and
 * recording references — for the owning company only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { ingestDocument } from '../../src/knowledge/ingest.js';
import { OpenAiEmbedder } from '../../src/providers/embeddings/openai.js';
import { PhraseCachingTts } from '../../src/providers/tts/phrase-cache.js';
import { WIDEBAND_FORMAT } from '../../src/audio/format.js';
import { CallUsageMeter, CountingTts } from '../../src/usage/counting.js';
import { ScriptedTts } from '../helpers/scripted-providers.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { knowledgeHarness } from '../fixtures/knowledge/kb.js';
import { FakeOpenAI } from '../fakes/fakeOpenAI.js';

async function drain(audio: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of audio) n += c.byteLength;
  return n;
}

describe('TTS characters behind the phrase cache', () => {
  it('counts the characters synthesised: a replayed phrase 0, a streamed turn all, a turn cancelled before synthesis 0', async () => {
    const meter = new CallUsageMeter();
    const inner = new ScriptedTts({ firstAudioMs: 1, chunkMs: 0, bytesPerWord: 320 });
    const tts = new CountingTts(new PhraseCachingTts(inner, { maxBytes: 1_000_000 }), meter);
    const session = await tts.open({ format: WIDEBAND_FORMAT, language: 'en' });
    const say = async (text: string) => {
      const turn = session.startTurn(new AbortController().signal);
      turn.pushText(text);
      turn.end();
      return drain(turn.audio);
    };
    const greeting = 'Hello, thanks for calling.';
    expect(await say(greeting)).toBeGreaterThan(0);
    expect(await say(greeting)).toBeGreaterThan(0); // from the cache: audio, no synthesis
    expect(inner.turns).toBe(1);
    // A streamed turn (text keeps coming after it started) passes through, every character counted.
    const streamed = session.startTurn(new AbortController().signal);
    streamed.pushText('We are open ');
    await new Promise((r) => setTimeout(r, 0));
    streamed.pushText('from nine to five.');
    streamed.end();
    await drain(streamed.audio);
    // Cancelled before it was decided: nothing reaches the synthesizer.
    const cancelled = session.startTurn(new AbortController().signal);
    cancelled.pushText('Never said');
    await cancelled.cancel();
    expect(meter.items()).toEqual([{ kind: 'tts_chars', provider: 'scripted-tts', model: '', quantity: greeting.length + 'We are open from nine to five.'.length }]);
  });

  it('without the cache, counts the text pushed, as before', async () => {
    const meter = new CallUsageMeter();
    const tts = new CountingTts(new ScriptedTts({ firstAudioMs: 1, chunkMs: 0 }), meter);
    const session = await tts.open({ format: WIDEBAND_FORMAT, language: 'en' });
    for (let i = 0; i < 2; i++) {
      const turn = session.startTurn(new AbortController().signal);
      turn.pushText('Goodbye.');
      turn.end();
      await drain(turn.audio);
    }
    expect(meter.items()).toEqual([{ kind: 'tts_chars', provider: 'scripted-tts', model: '', quantity: 16 }]);
  });
});

describe('embedding tokens of knowledge ingestion', () => {
  let t: TestApp;
  let openai: FakeOpenAI;
  let a: { companyId: string; apiKey: string; botId: string };
  let b: { companyId: string; apiKey: string; botId: string };
  const today = new Date().toISOString().slice(0, 10);

  beforeAll(async () => {
    openai = await FakeOpenAI.start({ apiKey: 'sk-emb' });
    t = await createTestApp();
    for (const name of ['A', 'B']) {
      const c = await t.createCompany(name);
      const bot = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(c.apiKey), payload: { name: 'Desk', phone_number: null, language: 'en', config: { greeting: 'Hi' } } });
      if (name === 'A') a = { ...c, botId: bot.json().id };
      else b = { ...c, botId: bot.json().id };
    }
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await openai.close();
  });

  const text = (words: number) => Buffer.from(Array.from({ length: words }, (_, i) => `word${i}`).join(' ') + '\n');
  const rows = (companyId: string) => t.db.sql`select provider, model, kind, quantity::int as quantity, document_id from ingest_usage where company_id = ${companyId} order by id`;

  it('records the local embedder as provider local (cost 0) and a cloud embedder by its name and model, once per ready document', async () => {
    const local = knowledgeHarness(t.db.sql);
    const doc1 = (await acceptUpload(local.docDeps, { companyId: a.companyId, botId: a.botId, filename: 'a.txt', bytes: text(300) })).document;
    expect(await ingestDocument(local.ingestDeps, doc1.id)).toBe('ready');
    // A job that runs again (a lease that expired) finds the document ready and counts nothing more.
    expect(await ingestDocument(local.ingestDeps, doc1.id)).toBe('skipped');
    const cloud = knowledgeHarness(t.db.sql, { embedder: new OpenAiEmbedder({ apiKey: 'sk-emb', baseUrl: openai.baseUrl, model: 'text-embedding-3-small' }) });
    const billedBefore = openai.embeddingTokensReported;
    const doc2 = (await acceptUpload(cloud.docDeps, { companyId: a.companyId, botId: a.botId, filename: 'b.txt', bytes: text(100) })).document;
    expect(await ingestDocument(cloud.ingestDeps, doc2.id)).toBe('ready');
    const stored = await rows(a.companyId);
    expect(stored.map((r) => [r.provider, r.model, r.kind, r.document_id])).toEqual([
      ['local', 'local-hash', 'embedding_tokens', doc1.id],
      ['openai', 'text-embedding-3-small', 'embedding_tokens', doc2.id],
    ]);
    // Local: ~1 token per 3 characters of what was embedded (an estimate; priced 0). Cloud: what the vendor billed.
    expect(stored[0]!.quantity).toBeGreaterThan(text(300).length / 4);
    expect(stored[1]!.quantity).toBe(openai.embeddingTokensReported - billedBefore);
    expect(stored[1]!.quantity).toBeGreaterThan(0);
    expect(await rows(b.companyId)).toEqual([]);
  });

  it('GET /v1/usage reports embedding tokens priced (local 0) to the owning company only', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/usage?from=${today}&to=${today}`, headers: t.as(a.apiKey) });
    expect(res.statusCode).toBe(200);
    const items = res.json().totals.items as Array<{ kind: string; provider: string; quantity: number; unit: string; cost: number }>;
    const local = items.find((i) => i.kind === 'embedding_tokens' && i.provider === 'local')!;
    const cloud = items.find((i) => i.kind === 'embedding_tokens' && i.provider === 'openai')!;
    expect(local).toMatchObject({ unit: 'tokens', cost: 0 });
    expect(cloud.cost).toBeCloseTo((cloud.quantity * 0.02) / 1_000_000, 6);
    const other = await t.app.inject({ method: 'GET', url: `/v1/usage?from=${today}&to=${today}`, headers: t.as(b.apiKey) });
    expect(other.json().totals.items).toEqual([]);
    const byBot = await t.app.inject({ method: 'GET', url: `/v1/usage?from=${today}&to=${today}&bot_id=${a.botId}`, headers: t.as(a.apiKey) });
    expect(byBot.json().totals.items.filter((i: { kind: string }) => i.kind === 'embedding_tokens')).toHaveLength(2);
  });

  it('the export carries the usage records and recording references, the company\'s own only', async () => {
    const [call] = await t.db.sql<{ id: string }[]>`
      insert into calls (company_id, bot_id, direction, status, started_at, recording_key, recording_duration_sec, recording_channels)
      values (${a.companyId}, ${a.botId}, 'web', 'completed', now(), ${`${a.companyId}/3f1e2d4c-0000-4000-8000-000000000001.wav`}, 12, 2) returning id`;
    await t.db.sql`insert into call_usage (call_id, company_id, bot_id, started_at, kind, provider, model, quantity)
      values (${call!.id}, ${a.companyId}, ${a.botId}, now(), 'tts_chars', 'cartesia', 'sonic-3', 1234)`;
    const res = await t.app.inject({ method: 'GET', url: '/v1/export', headers: t.as(a.apiKey) });
    expect(res.statusCode).toBe(200);
    const lines = res.body.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const usage = lines.filter((l) => l.type === 'usage');
    expect(usage.map((u) => [u.source, u.kind, u.provider])).toEqual(expect.arrayContaining([
      ['ingest', 'embedding_tokens', 'local'], ['ingest', 'embedding_tokens', 'openai'], ['call', 'tts_chars', 'cartesia'],
    ]));
    expect(usage.find((u) => u.kind === 'tts_chars')).toMatchObject({ call_id: call!.id, quantity: 1234 });
    const exportedCall = lines.find((l) => l.type === 'call' && l.id === call!.id)!;
    expect(exportedCall.recording).toEqual({ source: 'parley', twilio_recording_sid: null, duration_sec: 12, channels: 2, api_path: `/v1/calls/${call!.id}/recording` });
    const other = await t.app.inject({ method: 'GET', url: '/v1/export?types=usage&types=call', headers: t.as(b.apiKey) });
    expect(other.body).toBe('');
  });
});
