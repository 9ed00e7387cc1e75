/**
 * A live call while the company deletes or replaces a document it has quoted (web calls, the real CallRunner and
 * knowledge pipeline, a scripted LLM that records what it is sent). The caller asks about parking; the model looks it
 * up with search_knowledge; the company then deletes (or replaces) the parking document; the caller asks something
 * else. Before, the search result — "gate code 4471" — stayed in every request for the rest of the call, so a later
 * answer could still give the withdrawn code. Now the next request carries neither it nor this turn's passages of
 * it, and tells the model something shown earlier was withdrawn (checked against the database per LLM request).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptUpload, deleteDocument } from '../../src/knowledge/documents.js';
import { ingestDocument } from '../../src/knowledge/ingest.js';
import type { LlmRequest } from '../../src/providers/types.js';
import { callKnowledge, knowledgeHarness, type KnowledgeHarness } from '../fixtures/knowledge/kb.js';
import { startWebCallApp, WebCallClient, type WebCallApp } from '../fixtures/web/web-call-harness.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { storedTranscript } from '../helpers/transcript.js';
import { until } from '../helpers/until.js';

const PARKING = 'Parking\nPark behind the building; the gate code is 4471.\n';
const HOURS = 'Opening hours\nWe are open Monday to Friday from nine to six.\n';

let app: WebCallApp;
let kb: KnowledgeHarness;
let llm: ScriptedLlm;

beforeAll(async () => {
  app = await startWebCallApp(() => {
    // The first answer looks the question up; every other one answers.
    llm = new ScriptedLlm((_r, i) => (i === 0 ? { toolCalls: [{ id: 'k1', name: 'search_knowledge', arguments: { query: 'parking gate code' } }] } : 'Sure.'), { firstTokenMs: 1, tokenMs: 1 });
    return { stt: new ScriptedStt(), llm, tts: new ScriptedTts({ firstAudioMs: 1, chunkMs: 1, bytesPerWord: 640 }) };
  }, {
    runner: (db) => {
      kb = knowledgeHarness(db.sql);
      return callKnowledge(kb);
    },
  });
}, 180_000);
afterAll(async () => {
  await app?.close();
});

async function ready(companyId: string, botId: string, filename: string, text: string, replace?: string): Promise<string> {
  const { document } = await acceptUpload(kb.docDeps, { companyId, botId, filename, bytes: Buffer.from(text) }, replace ? { replace: { documentId: replace } } : {});
  // A replacement is ingested as the document's hidden new version.
  const job = replace ? (await app.db.sql<{ id: string }[]>`select id from knowledge_documents where replaces_id = ${replace}`)[0]!.id : document.id;
  expect(await ingestDocument(kb.ingestDeps, job)).toBe('ready');
  return document.id;
}

/** A call in which the caller asks about parking, `change` runs, and the caller asks about opening hours. */
async function callAcross(change: (ids: { companyId: string; botId: string; parking: string }) => Promise<void>): Promise<LlmRequest[]> {
  const { apiKey, botId, companyId } = await app.newBot();
  const parking = await ready(companyId, botId, 'parking.txt', PARKING);
  await ready(companyId, botId, 'hours.txt', HOURS);
  const { call_id: callId, token } = await app.mint(apiKey, botId);
  const client = await WebCallClient.connect(app.wsUrl, 'https://parley.example');
  client.send({ type: 'start', token });
  await client.untilMessage((m) => m.type === 'ready');
  const botTurns = async (n: number) => until(async () => (await storedTranscript(app.db.sql, callId)).filter((x) => x.role === 'bot').length >= n || null);
  await botTurns(1); // the greeting
  client.send({ type: 'text', text: 'Where can I park, and what is the gate code?' });
  await botTurns(2);
  const before = llm.requests.length;
  expect(JSON.stringify(llm.requests.at(-1)!.messages)).toContain('4471');
  await change({ companyId, botId, parking });
  client.send({ type: 'text', text: 'When are you open on Monday?' });
  await botTurns(3);
  client.send({ type: 'end' });
  await client.closed;
  return llm.requests.slice(before);
}

describe('a document withdrawn during a call', () => {
  it('deleted: its passages are out of every later request, and the model is told something shown was withdrawn', async () => {
    const after = await callAcross(({ companyId, botId, parking }) => deleteDocument(kb.docDeps, companyId, botId, parking));
    expect(after.length).toBeGreaterThan(0);
    for (const r of after) {
      expect(JSON.stringify(r.messages)).not.toContain('4471');
      expect(r.context ?? '').not.toContain('4471');
      expect(r.context).toContain('Withdrawn company documents');
    }
    expect(JSON.stringify(after[0]!.messages)).toContain('removed or replaced');
  });

  it('replaced (same document, new content): the old version is out of every later request', async () => {
    const after = await callAcross(async ({ companyId, botId, parking }) => {
      await ready(companyId, botId, 'parking.txt', 'Parking\nThe car park is closed for works; please use the street.\n', parking);
    });
    for (const r of after) expect(JSON.stringify(r.messages) + (r.context ?? '')).not.toContain('4471');
  });
});
