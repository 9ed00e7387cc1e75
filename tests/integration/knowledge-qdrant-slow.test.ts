/**
 * A slow Qdrant while a caller waits: every read made on the caller's behalf — the search before the answer and the
 * search_knowledge tool — gives up at its short budget, and the Qdrant request is really cancelled (the fake sees its
 * client go away), instead of the tool waiting out the turn's 8 s tool deadline with the request held open.
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgentTurn } from '../../src/call/agent-turn.js';
import type { Playback } from '../../src/call/playback.js';
import { ToolRegistry } from '../../src/call/tool-registry.js';
import type { CallContext } from '../../src/call/tool-types.js';
import { systemClock } from '../../src/call/types.js';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { ingestDocument } from '../../src/knowledge/ingest.js';
import { QdrantVectorStore } from '../../src/knowledge/qdrant-vector-store.js';
import { SEARCH_TIMED_OUT, searchKnowledgeTool } from '../../src/knowledge/tool.js';
import type { ChatMessage } from '../../src/providers/types.js';
import { FakeQdrant } from '../fakes/fakeQdrant.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { ScriptedLlm } from '../helpers/scripted-providers.js';
import { until } from '../helpers/until.js';
import { createBot, knowledgeHarness, type KnowledgeHarness } from '../fixtures/knowledge/kb.js';

const DOC = 'Parking\n\nFree parking is behind the building, enter from Mill Lane.';
const QUERY_PATH = '/collections/parley_chunks/points/query';
/** Far past any budget: a read still waiting for it is one nobody cancelled. */
const SLOW_MS = 60_000;
const BUDGET_MS = 200;
const SORRY = "Sorry, I can't look that up right now. Can I take your number for a call back?";

describe('a slow Qdrant while a caller waits', () => {
  const fake = new FakeQdrant();
  let db: TestDatabase;
  let kb: KnowledgeHarness;
  let bot: { companyId: string; botId: string };
  /** Query requests whose client went away before the fake answered. */
  let abortedQueries = 0;

  beforeAll(async () => {
    const url = await fake.start();
    // The fake has no counter of its own for this: its server is watched for query responses that never finish.
    (fake as unknown as { server: Server }).server.on('request', (req, res) => {
      if (req.url?.startsWith(QUERY_PATH)) res.on('close', () => void (res.writableFinished || abortedQueries++));
    });
    db = await createTestDb();
    // The client's own timeout past the fake's delay: only the caller's signal can end a request early.
    kb = knowledgeHarness(db.sql, { store: new QdrantVectorStore({ url, collection: 'parley_chunks', dimensions: 384, timeoutMs: 2 * SLOW_MS }) });
    bot = await createBot(db.sql, 'en', 'Slow store');
    const doc = (await acceptUpload(kb.docDeps, { ...bot, filename: 'parking.txt', bytes: new TextEncoder().encode(DOC) })).document;
    expect(await ingestDocument(kb.ingestDeps, doc.id)).toBe('ready');
  });
  afterAll(async () => {
    await db?.close();
    await fake.stop();
  });

  it('a query the caller stopped waiting for is cancelled at Qdrant, not held open until the client timeout', async () => {
    fake.queryDelayMs = SLOW_MS;
    const before = abortedQueries;
    const queries = () => fake.requests.filter((r) => r.path === QUERY_PATH).length;
    const queriesBefore = queries();
    const [vector] = await kb.embedder.embed(['where can I park']);
    const stop = new AbortController();
    const query = kb.store.query(vector!, { ...bot, limit: 5, signal: stop.signal });
    // Qdrant has the request (and holds it) before the caller stops waiting.
    await until(() => queries() > queriesBefore);
    stop.abort();
    await expect(query).rejects.toThrow();
    await until(() => abortedQueries === before + 1);
  });

  /**
   * One turn against the slow store: the model searches, is told it timed out, searches again, then answers. With
   * `searchFirst`, the turn searches before the answer too (as a call does). What Qdrant saw of the turn comes back.
   */
  async function slowStoreTurn(searchFirst: boolean) {
    fake.queryDelayMs = SLOW_MS;
    const abortedBefore = abortedQueries;
    const queriesBefore = fake.requests.filter((r) => r.path === QUERY_PATH).length;
    const search = { name: 'search_knowledge', arguments: { query: 'where can I park' } };
    const llm = new ScriptedLlm((request) => {
      const results = request.messages.filter((m) => m.role === 'tool').length;
      return results === 0 ? { toolCalls: [{ id: 'k1', ...search }] } : results === 1 ? { toolCalls: [{ id: 'k2', ...search }] } : SORRY;
    }, { firstTokenMs: 1, tokenMs: 0 });
    const spoken: string[] = [];
    const history: ChatMessage[] = [{ role: 'user', content: 'where can I park' }];
    const botRetriever = kb.retriever.forBot({ ...bot, language: 'en' });
    const result = await runAgentTurn({
      llm, tools: new ToolRegistry([searchKnowledgeTool(kb.retriever, { budgetMs: BUDGET_MS })]), context: callContext(),
      control: { endCall: () => {}, transferCall: async () => {} }, system: '', history, userText: 'where can I park',
      ...(searchFirst ? { retrieveContext: (text: string, signal: AbortSignal) => botRetriever.search(text, signal), retrievalBudgetMs: BUDGET_MS } : {}),
      // The turn's own tool deadline is far away: only the reads' budget can end the wait.
      toolDeadlineMs: SLOW_MS, playback: recordingPlayback(spoken), signal: new AbortController().signal, clock: systemClock,
    });
    return {
      llm, result, spoken,
      toolResults: history.filter((m) => m.role === 'tool').map((m) => m.content),
      queries: fake.requests.filter((r) => r.path === QUERY_PATH).length - queriesBefore,
      allCancelled: (n: number) => until(() => abortedQueries === abortedBefore + n),
    };
  }

  it('a search before the answer that ran out of time: the knowledge tool answers a timeout at once, the turn goes on, Qdrant\'s request cancelled', async () => {
    const turn = await slowStoreTurn(true);
    expect(turn.llm.requests[0]!.context).toBeUndefined();
    expect(turn.toolResults).toEqual([JSON.stringify(SEARCH_TIMED_OUT), JSON.stringify(SEARCH_TIMED_OUT)]);
    expect(turn.result.toolsCalled).toEqual(['search_knowledge', 'search_knowledge']);
    expect(turn.spoken.join(' ')).toBe(SORRY);
    // The search before the answer reached Qdrant and was cancelled; the tool's searches of the same turn did not
    // wait for it again.
    expect(turn.queries).toBe(1);
    await turn.allCancelled(1);
  });

  it('without a search before the answer, the tool\'s first search waits its budget and is cancelled; the second does not wait again', async () => {
    const turn = await slowStoreTurn(false);
    expect(turn.toolResults).toEqual([JSON.stringify(SEARCH_TIMED_OUT), JSON.stringify(SEARCH_TIMED_OUT)]);
    expect(turn.spoken.join(' ')).toBe(SORRY);
    expect(turn.queries).toBe(1);
    await turn.allCancelled(1);
  });

  const callContext = (): CallContext => ({
    callId: 'c', ...bot, callerNumber: null,
    bot: { id: bot.botId, name: 'Front desk', language: 'en', config: { greeting: 'Hello', systemPrompt: '' } },
  });
  const recordingPlayback = (spoken: string[]): Playback => ({ say: (p: string) => void spoken.push(p.trim()), noteUnspoken: () => {}, get phraseCount() {
    return spoken.length;
  } }) as unknown as Playback;
});
